"""The paper-size KD step (ConvNeXt-atto -> ResMLP-S12, patch 4, 32x32, batch 32, TensorFlow, XLA off) with the
exact GELU op by op (erf form, TensorFlow ops) and as tas_keras.layers.gelu runs it on TensorFlow (forward and
backward each one XLA-compiled loop), in one process: each variant's distiller is traced with its GELU, then
fit() epochs of 8 steps run in rotation (the machine's drift falls on both alike); ms per step of each round.

    python docs/bench/2026-12-03-xla-gelu/interleave.py bf16|fp32 ROUNDS [micro METHOD [PAIR]]

`micro METHOD`: the micro pair instead (`--profile small`: convnext_micro -> resmlp_micro_patch4_32, or PAIR's
micro variants), METHOD (kd, tas, ...), batch 128, 10 steps an epoch, as the quick start trains it.
"""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import paper_kd_rotation  # noqa: E402  (first: it sets the paths and the log level)
from keras import ops
import tas_keras.layers.attention as attention
from tas_keras.layers import activations

precision, rounds = sys.argv[1], int(sys.argv[2])
def erf_op_by_op(x):  # the form before XLA: 5 TensorFlow ops forward, the tape's backward
    return 0.5 * x * (1.0 + ops.erf(x * 0.7071067811865476))
def setup(gelu):
    return paper_kd_rotation.patching(attention, gelu=gelu)
VARIANTS = {"erf, op by op": setup(erf_op_by_op), "XLA loops": setup(activations.gelu)}
if len(sys.argv) > 4 and sys.argv[3] == "micro":
    paper_kd_rotation.run(precision, rounds, VARIANTS, method=sys.argv[4], profile="small", sets=[], batch=128, steps=10,
                          pair=sys.argv[5] if len(sys.argv) > 5 else "convnext_mlp")
else:
    paper_kd_rotation.run(precision, rounds, VARIANTS)
