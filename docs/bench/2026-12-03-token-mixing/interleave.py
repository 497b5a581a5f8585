"""The paper-size KD step (ConvNeXt-atto -> ResMLP-S12, patch 4, 32x32, batch 32, TensorFlow, XLA off) with
ResMLP's token mixing as the model runs it (a Dense layer on the transposed tokens: two transposes forward,
two backward) and with the kernel multiplied from the left (one broadcast batch matmul on the (B, N, C) tokens,
the bias added as an (N, C) plane: no transposes; its gradient a sum over the batch axis), in one process:
each variant's distiller is traced with its form, then fit() epochs of 8 steps run in rotation; ms per step
of each round, and the second form against the first, round by round.

    python docs/bench/2026-12-03-token-mixing/interleave.py bf16|fp32 ROUNDS
"""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import paper_kd_rotation  # noqa: E402  (first: it sets the paths and the log level)
from keras import ops
from tas_keras.models.mixer.mixer_layers import ResMLPBlock

transposed = ResMLPBlock.mix_tokens
def kernel_from_the_left(self, x):
    tokens, dense = self.norm1(x), self.token_mixer  # outside Dense.call: cast its weights as it would
    y = ops.matmul(ops.transpose(ops.cast(dense.kernel, tokens.dtype)), tokens)
    return y + ops.broadcast_to(ops.cast(dense.bias, tokens.dtype)[:, None], ops.shape(y)[1:])
def setup(mix_tokens):
    return paper_kd_rotation.patching(ResMLPBlock, mix_tokens=mix_tokens)
paper_kd_rotation.run(sys.argv[1], int(sys.argv[2]), {"transposed": setup(transposed),
                                                       "from the left": setup(kernel_from_the_left)})
