"""The paper-size student's bfloat16 matmuls one at a time, TensorFlow beside PyTorch on the same CPU
(2 threads each): ms per call, the median of 30 after a first and 3 warm-up calls (time_calls). Both
call oneDNN's AMX kernel (`ONEDNN_VERBOSE=1` prints brg_matmul:avx10_1_512_amx for each); the gap is
around it.

    python docs/bench/2026-12-02-amx/matmul_probe.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

from tas_keras.experiments.timing import time_calls  # noqa: E402

SHAPES = {  # (M, K, N) of the ResMLP-S12 channel MLP on 32 images x 64 tokens, dim 384
    "fc1 forward 2048x384 @ 384x1536": (2048, 384, 1536, False),
    "fc2 forward 2048x1536 @ 1536x384": (2048, 1536, 384, False),
    "fc1 weight gradient 384x2048 @ 2048x1536": (384, 2048, 1536, True),
}

torch.set_num_threads(2)
for name, (m, k, n, transposed) in SHAPES.items():
    a_shape = (k, m) if transposed else (m, k)
    a_tf, b_tf = (tf.cast(tf.random.normal(s), tf.bfloat16) for s in (a_shape, (k, n)))
    tf_call = tf.function(lambda a=a_tf, b=b_tf, t=transposed: tf.matmul(a, b, transpose_a=t), autograph=False)
    a_pt, b_pt = torch.randn(*a_shape).bfloat16(), torch.randn(k, n).bfloat16()
    pt_call = (lambda a=a_pt, b=b_pt: a.t() @ b) if transposed else (lambda a=a_pt, b=b_pt: a @ b)
    tf_ms, pt_ms = (time_calls(call, steps=30, warmup=3)[1] * 1e3 for call in (tf_call, pt_call))
    gflop = 2 * m * k * n / 1e9
    print(f"{name:44s} TensorFlow {tf_ms:5.2f} ms ({gflop / tf_ms * 1e3:5.0f} GFLOP/s)  PyTorch {pt_ms:5.2f} ms ({gflop / pt_ms * 1e3:5.0f} GFLOP/s)")
