"""Depthwise convolution in a form XLA's CPU backend compiles well (keras.ops only).

XLA lowers a depthwise convolution (one group per channel) on CPU to a generic loop: ConvNeXt-T's
first-stage 7x7 on 32x56x56x96 takes 793 ms forward on JAX (TensorFlow's oneDNN kernel, op by op:
67 ms). The same sum written as k*k shifted views of the input, each scaled by its kernel tap, is
elementwise and XLA fuses it into one loop: 65 ms forward, and 1.2 s against 7.4 s forward +
backward on JAX (`python tools/depthwise_benchmark.py`). Under TensorFlow's XLA its backward goes
through slice gradients and is slower than XLA's convolution (6.2 against 2.7 s), and on an H200 XLA
fuses it into the next LayerNorm's reduction, which then runs far below the memory bandwidth (KD step
30.9 against 30.0 ms with cuDNN; README, the second GPU run). So "auto" takes the shifted sum where XLA
compiles for a CPU and it pays: everywhere on JAX, and on TensorFlow in forward-only XLA functions (the
teacher's), which trace inside `compiled_by_xla`; elsewhere the backend's convolution.
"""

import contextlib
import math

import keras
from keras import layers, ops

from tas_keras.errors import InputError
from tas_keras.layers.padding import pad_spatial
from tas_keras.serialization import PACKAGE

IMPLEMENTATIONS = ("auto", "conv", "shifted")
# Process-wide, not per thread: MirroredStrategy traces its replicas in threads of its own.
_setting = {"implementation": "auto", "xla_traces": 0}


def set_depthwise_implementation(name):
    """"conv" (the backend's convolution), "shifted" (sum of shifted, tap-scaled views) or "auto".

    Takes effect for steps traced afterwards: set it before building and compiling a Distiller.
    Returns the previous setting."""
    if name not in IMPLEMENTATIONS:
        raise InputError(f"Unknown depthwise implementation {name!r}; choose one of {list(IMPLEMENTATIONS)}.")
    previous, _setting["implementation"] = _setting["implementation"], name
    return previous


def depthwise_implementation():
    """The implementation in use now ("conv" or "shifted"), with "auto" resolved for this backend and device."""
    name = _setting["implementation"]
    if name != "auto":
        return name
    backend = keras.backend.backend()
    if backend == "torch" or backend == "tensorflow" and not _setting["xla_traces"]:
        return "conv"  # torch's kernels (compiled or not; keras.distribution is None there), oneDNN's without XLA
    on_cpu = all(device.startswith("cpu") for device in keras.distribution.list_devices())
    return "shifted" if on_cpu else "conv"


@contextlib.contextmanager
def compiled_by_xla():
    """Marks code traced in this block as a forward-only function compiled by XLA (TensorFlow's
    jit_compile), for "auto" to take the shifted sum there on a CPU, as on JAX (tensorflow_step's
    teacher function, the benchmark's teacher forward). Also a decorator: `compiled_by_xla()(fn)`."""
    _setting["xla_traces"] += 1
    try:
        yield
    finally:
        _setting["xla_traces"] -= 1


def depthwise_conv(x, kernel, strides=1, padding="same"):
    """ops.depthwise_conv for channels-last maps (B, H, W, C) and a (kh, kw, C, 1) kernel, no dilation.

    The shifted form is the same sum: out[b, y, x, c] = sum_ij pad(x)[b, s*y + i, s*x + j, c] * k[i, j, c],
    with TensorFlow's "same" / "valid" padding, accumulated in float32 for 16-bit inputs as cuDNN and
    oneDNN do. Maps of unknown size and depth multipliers other than 1 take the convolution."""
    height, width = x.shape[1], x.shape[2]
    if depthwise_implementation() == "conv" or kernel.shape[-1] != 1 or height is None or width is None:
        return ops.depthwise_conv(x, kernel, strides=strides, padding=padding)
    stride_h, stride_w = (strides, strides) if isinstance(strides, int) else tuple(strides)
    (out_h, pad_h), (out_w, pad_w) = (_output_and_padding(n, k, s, padding)
                                      for n, k, s in ((height, kernel.shape[0], stride_h), (width, kernel.shape[1], stride_w)))
    if any(pad_h) or any(pad_w):
        x = pad_spatial(x, *pad_h, *pad_w)
    dtype = keras.backend.standardize_dtype(x.dtype)
    accumulate = "float32" if dtype in ("float16", "bfloat16") else dtype
    x, taps = ops.cast(x, accumulate), ops.cast(kernel[..., 0], accumulate)
    out = None
    for i in range(kernel.shape[0]):
        for j in range(kernel.shape[1]):
            view = x[:, i: i + (out_h - 1) * stride_h + 1: stride_h, j: j + (out_w - 1) * stride_w + 1: stride_w, :]
            term = ops.multiply(view, taps[i, j])
            out = term if out is None else ops.add(out, term)
    return ops.cast(out, dtype)


def _output_and_padding(size, kernel_size, stride, padding):
    if padding == "valid":
        return (size - kernel_size) // stride + 1, (0, 0)
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    return out, (total // 2, total - total // 2)


@keras.saving.register_keras_serializable(package=PACKAGE)
class DepthwiseConv2D(layers.DepthwiseConv2D):
    """keras.layers.DepthwiseConv2D (same arguments, variables and saved form) computed by
    `depthwise_conv`, so XLA on CPU gets the fused form."""

    def call(self, inputs):
        if self.depth_multiplier != 1 or self.data_format != "channels_last" or tuple(self.dilation_rate) != (1, 1):
            return super().call(inputs)
        outputs = depthwise_conv(inputs, self.kernel, strides=self.strides, padding=self.padding)
        if self.use_bias:  # added as Keras' layer adds it (TensorFlow's graph rewrites see the same ops)
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, -1)))
        return self.activation(outputs) if self.activation is not None else outputs
