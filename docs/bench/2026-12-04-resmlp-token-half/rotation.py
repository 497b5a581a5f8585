"""The paper-size KD step (ConvNeXt-atto -> ResMLP-S12, patch 4, 32x32, batch 32, TensorFlow) with ResMLP's
token half as its layers one by one (norm1, the Dense on the transposed tokens, ls1) and as the model now
computes it (one per-channel scale and one (N, C) plane around the token matmul: ResMLPBlock.mix_tokens),
in one process: each variant's distiller is traced with its form, then fit() epochs of 8 steps run in
rotation; ms per step of each round, and the second form against the first, round by round. Float32 with
XLA off, bfloat16 with `xla="elementwise"` (what `xla="auto"` takes for each on a CPU).

    python docs/bench/2026-12-04-resmlp-token-half/rotation.py fp32|bf16 ROUNDS
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import paper_kd_rotation  # noqa: E402  (first: it sets the paths and the log level)

from tas_keras.models.mixer.mixer_layers import ResMLPBlock  # noqa: E402

scale_and_plane = ResMLPBlock.mix_tokens
layer_by_layer = ResMLPBlock.mix_tokens_layer_by_layer
def setup(mix_tokens):
    return paper_kd_rotation.patching(ResMLPBlock, mix_tokens=mix_tokens)
precision = sys.argv[1]
xla = "elementwise" if precision == "bf16" else False
paper_kd_rotation.run(precision, int(sys.argv[2]), {"layer by layer": setup(layer_by_layer), "scale and plane": setup(scale_and_plane)},
                      xla={"layer by layer": xla, "scale and plane": xla})
