"""The paper-size KD step (ConvNeXt-atto -> ResMLP-S12, patch 4, 32x32, batch 32, TensorFlow) with ResMLP's
token mixing as it was (the tokens transposed, multiplied by the kernel, transposed back) and as the model
now computes it (the transposed kernel times each image's tokens: ResMLPBlock.mix_tokens), and, as a third
variant tried, the channel half with norm2 and ls2 folded into fc1's and fc2's weights; in one process,
each variant's distiller traced, then fit() epochs of 8 steps in rotation. Float32 with XLA off, bfloat16
with `xla="elementwise"` (what `xla="auto"` takes for each on a CPU).

    python docs/bench/2026-12-04-resmlp-broadcast-mix/rotation.py fp32|bf16 ROUNDS
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import paper_kd_rotation  # noqa: E402, I001  (first: it sets the paths and the log level)

from keras import ops  # noqa: E402

from tas_keras.layers.activations import gelu  # noqa: E402
from tas_keras.models.mixer.mixer_layers import ResMLPBlock  # noqa: E402

broadcast_mix, layered_call = ResMLPBlock.mix_tokens, ResMLPBlock.call


def transposed_mix(self, x):
    """ResMLPBlock.mix_tokens before: the tokens transposed there and back around the kernel."""
    kernel, bias = self.token_mixer.kernel, self.token_mixer.bias
    alpha, beta, gamma = self.norm1.alpha, self.norm1.beta, self.ls1.gamma
    mixed = ops.transpose(ops.matmul(ops.transpose(x, (0, 2, 1)), kernel), (0, 2, 1))
    kernel_32, beta_32, bias_32, gamma_32 = (ops.cast(v, "float32") for v in (kernel, beta, bias, gamma))
    plane = (ops.sum(kernel_32, axis=0)[:, None] * beta_32 + bias_32[:, None]) * gamma_32
    return mixed * (alpha * gamma) + ops.cast(plane, mixed.dtype)


def folded_call(self, x, training=None):
    """The channel half with norm2 (alpha, beta) folded into fc1 and ls2 (gamma) into fc2 (drop path 0)."""
    x = x + self.mix_tokens(x)
    fc1, fc2 = self.channel_mlp.fc1, self.channel_mlp.fc2
    alpha, beta, gamma = self.norm2.alpha, self.norm2.beta, self.ls2.gamma
    kernel_1 = fc1.kernel * alpha[:, None]
    bias_1 = ops.matmul(ops.cast(beta, "float32")[None, :], ops.cast(fc1.kernel, "float32"))[0] + ops.cast(fc1.bias, "float32")
    hidden = gelu(ops.matmul(x, kernel_1) + ops.cast(bias_1, x.dtype))
    return x + ops.matmul(hidden, fc2.kernel * gamma[None, :]) + fc2.bias * gamma


precision = sys.argv[1]
xla = "elementwise" if precision == "bf16" else False
variants = {
    "transposed": paper_kd_rotation.patching(ResMLPBlock, mix_tokens=transposed_mix, call=layered_call),
    "broadcast": paper_kd_rotation.patching(ResMLPBlock, mix_tokens=broadcast_mix, call=layered_call),
    "broadcast, folded": paper_kd_rotation.patching(ResMLPBlock, mix_tokens=broadcast_mix, call=folded_call)}
paper_kd_rotation.run(precision, int(sys.argv[2]), variants, xla={name: xla for name in variants})
