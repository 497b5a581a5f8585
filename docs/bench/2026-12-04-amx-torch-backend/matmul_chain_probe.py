"""The paper-size student's float32 matmuls (one block's forward and backward shapes), twelve of each
inside one TensorFlow graph (no per-call overhead, a fresh pair of operands each, as in the step) beside
the same twelve in PyTorch eager, 2 threads each: ms per matmul, the median of 10 calls after 2 warm-up
calls (time_calls). Run 2026-12-04 on the 2-CPU AMX Xeon (output in matmul_chain_probe.txt):

    python docs/bench/2026-12-04-amx-torch-backend/matmul_chain_probe.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

from tas_keras.experiments.timing import time_calls  # noqa: E402

CALLS = 12  # one per ResMLP-S12 block
SHAPES = {  # (M, K, N, transpose A, transpose B) of the channel MLP on 32 images x 64 tokens, dim 384
    "fc1 forward": (2048, 384, 1536, False, False),
    "fc2 forward": (2048, 1536, 384, False, False),
    "fc1 weight gradient": (384, 2048, 1536, True, False),
    "fc1 input gradient": (2048, 1536, 384, False, True),
    "fc2 weight gradient": (1536, 2048, 384, True, False),
    "fc2 input gradient": (2048, 384, 1536, False, True),
}

torch.set_num_threads(2)
totals = [0.0, 0.0]
for name, (m, k, n, ta, tb) in SHAPES.items():
    a_shape, b_shape = ((k, m) if ta else (m, k)), ((n, k) if tb else (k, n))
    a_tf, b_tf = [tf.random.normal(a_shape) for _ in range(CALLS)], [tf.random.normal(b_shape) for _ in range(CALLS)]

    @tf.function(autograph=False)
    def tf_calls(a_tf=a_tf, b_tf=b_tf, ta=ta, tb=tb):
        products = [tf.matmul(a, b, transpose_a=ta, transpose_b=tb) for a, b in zip(a_tf, b_tf)]
        return tf.add_n([tf.reduce_sum(p[:1, :1]) for p in products])  # every product is needed

    a_pt, b_pt = [torch.randn(*a_shape) for _ in range(CALLS)], [torch.randn(*b_shape) for _ in range(CALLS)]

    def pt_calls(a_pt=a_pt, b_pt=b_pt, ta=ta, tb=tb):
        return [(a.t() if ta else a) @ (b.t() if tb else b) for a, b in zip(a_pt, b_pt)]

    tf_ms, pt_ms = (time_calls(call, steps=10, warmup=2)[1] * 1e3 / CALLS for call in (tf_calls, pt_calls))
    totals = [totals[0] + tf_ms, totals[1] + pt_ms]
    gflop = 2 * m * k * n / 1e9
    print(f"{name:20s} TensorFlow {tf_ms:5.2f} ms ({gflop / tf_ms * 1e3:3.0f} GFLOP/s)  PyTorch {pt_ms:5.2f} ms ({gflop / pt_ms * 1e3:3.0f} GFLOP/s)")
print(f"one block's six: TensorFlow {totals[0]:.1f} ms, PyTorch {totals[1]:.1f} ms; x {CALLS} blocks: {totals[0] * CALLS:.0f} / {totals[1] * CALLS:.0f} ms per step")
