"""The paper-size KD step (ConvNeXt-atto -> ResMLP-S12, patch 4, 32x32, batch 32) on Keras' torch backend, eager and
compiled (xla=True: torch.compile of the forward + backward and of the optimizer's update), in one process: each
distiller is traced (compiled) first, then fit() epochs of 8 steps run in rotation; ms per step of each round,
and the compiled step against the eager one, round by round.

    python docs/bench/2026-12-03-torch-backend/rotation.py bf16|fp32 ROUNDS
"""
import os, sys
os.environ["KERAS_BACKEND"] = "torch"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import paper_kd_rotation  # noqa: E402

nothing = lambda: None  # noqa: E731
paper_kd_rotation.run(sys.argv[1], int(sys.argv[2]), {"eager": nothing, "compiled": nothing}, xla={"eager": False, "compiled": True})
