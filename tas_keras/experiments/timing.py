"""Step timing the way training runs steps, and the device's matmul ceiling to set it against.

`fit()` keeps the model's state on the device between steps (on JAX as one state tuple, synced back
to the variables once per epoch); `train_on_batch` re-reads and re-assigns every variable on each call,
so under JAX it times Python overhead, not the step. Benchmarks therefore time epochs of `fit()`.
"""

import collections
import math
import statistics
import time

import keras


class EpochClock(keras.callbacks.Callback):
    """Wall seconds of each epoch, from on_epoch_begin to on_epoch_end (the end waits for the epoch's
    last step: its metrics are read there)."""

    def __init__(self):
        super().__init__()
        self.seconds, self._start = [], None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def repeating_batches(x, y):
    """The same host batch forever, in the form training feeds fit() on this backend: a tf.data
    Dataset on TensorFlow, a Python generator elsewhere (no TensorFlow needed under JAX or torch)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.data.Dataset.from_tensors((x, y)).repeat()

    def forever():
        while True:
            yield x, y

    return forever()


def time_fit_steps(model, x, y, steps, epochs=3, callbacks=(), verbose=0):
    """Times `model.fit` on epochs of `steps` steps of the batch (x, y). Returns (compile seconds,
    median seconds per step over the epochs after the first, seconds per step of every epoch). The
    first epoch compiles and warms up. `callbacks` join the fit after the clock (e.g. to read state
    after epoch 1; their epoch-end work is not timed, their batch hooks are); `verbose` is fit()'s."""
    if epochs < 2 or steps < 1:
        raise ValueError(f"time_fit_steps needs epochs >= 2 and steps >= 1; got {epochs}, {steps}.")
    clock = EpochClock()
    model.fit(repeating_batches(x, y), epochs=epochs, steps_per_epoch=steps, callbacks=[clock, *callbacks], verbose=verbose,
              shuffle=False)
    per_step = [s / steps for s in clock.seconds]
    median = statistics.median(per_step[1:])
    return max(0.0, clock.seconds[0] - median * steps), median, per_step


def fit_times_in_rotation(models, x, y, rounds, steps=8):
    """{name: [seconds per step, one per round]} of each model in `models` (a dict, each already traced),
    timed by `time_fit_steps` (the second of two epochs) in `rounds` rounds whose order rotates by one
    each round: a machine's drift between rounds falls on every model alike, where separate processes
    run one after the other would each catch a different part of it."""
    names = list(models)
    times = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(time_fit_steps(models[name], x, y, steps, epochs=2)[2][1])
    return times


PairedRatio = collections.namedtuple("PairedRatio", "median low high confidence faster rounds")


def paired_ratio(baseline, candidate, confidence=0.9):
    """How `candidate`'s times compare with `baseline`'s, round by round (the lists of
    `fit_times_in_rotation`, or any paired times): the median of the per-round ratios candidate /
    baseline; an interval for it free of any assumption on the noise's shape (order statistics of the
    ratios, as the sign test gives it; the rounds taken as independent) with its actual coverage
    (`confidence`: at least the one asked for where the rounds allow, else the most they allow); and
    in how many rounds the candidate was faster. An interval that holds 1.0 shows no difference."""
    if len(baseline) != len(candidate) or not baseline:
        raise ValueError(f"paired_ratio needs two equally long, non-empty lists of times; got {len(baseline)} and {len(candidate)}.")
    ratios = sorted(c / b for b, c in zip(baseline, candidate))
    n = len(ratios)

    def coverage(k):  # of [ratios[k - 1], ratios[n - k]]: 1 - 2 P(Binomial(n, 1/2) <= k - 1)
        return 1.0 - 2.0 * sum(math.comb(n, i) for i in range(k)) / 2**n

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= confidence:
        k += 1
    faster = sum(c < b for b, c in zip(baseline, candidate))
    return PairedRatio(statistics.median(ratios), ratios[k - 1], ratios[n - k], coverage(k), faster, n)


def time_calls(fn, steps, warmup):
    """(compile seconds beyond a normal call, median seconds per call, all call times) of fn()."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return max(0.0, first - median), median, times


def compiled(fn, xla=False, forward_only=False):
    """fn compiled the way this backend's training compiles it: tf.function (with XLA if `xla`; a
    `forward_only` function, such as the teacher's, traced inside compiled_by_xla as tensorflow_step
    traces the teacher's), jax.jit, or (torch) torch.compile if `xla`, else as is."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        from tas_keras.layers import compiled_by_xla

        return tf.function(compiled_by_xla()(fn) if xla and forward_only else fn, jit_compile=xla, autograph=False)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if xla:
        import torch

        return torch.compile(fn)
    return fn


def matmul_peak_gflops(size=2048, dtype="float32", repeats=5):
    """Achieved GFLOP/s of one size x size matmul on the default device, the best of `repeats` (the
    ceiling a dense training step can approach)."""
    a = keras.random.normal((size, size), dtype=dtype, seed=0)
    b = keras.random.normal((size, size), dtype=dtype, seed=1)
    # a float32 scalar: the wait reads 4 bytes (TensorFlow cannot hand a bfloat16 tensor to numpy)
    product = compiled(lambda a, b: keras.ops.cast(keras.ops.sum(keras.ops.matmul(a, b)), "float32"))
    _, _, times = time_calls(lambda: keras.ops.convert_to_numpy(product(a, b)), repeats, 1)
    return 2.0 * size**3 / min(times) / 1e9
