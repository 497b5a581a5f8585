"""Before a step compiles: wait for the models' initialization, then tune one throwaway depthwise
convolution. A lever against a cuDNN pick that varies from process to process on a GPU (issue 17; not yet
measured).

On an H200 (JAX 0.11.2, 2026-12-04) XLA's autotuner timed the candidate algorithms of ConvNeXt-T's
depthwise convolutions alike in three processes, but for the first convolution each process tuned (stage
3): two to three of its candidates timed far off, different ones in each process. Where one was the
no-workspace engine (0.09 ms in one process, 53.5 and 418 ms in two others), a 148 MiB engine won, which
costs ~7.7 ms more per KD step (README, the third GPU run). Our reading: something disturbs the timings
while a process tunes its first convolution: maybe device work still queued then (on JAX the variables'
initializers run asynchronously), maybe a cost of the first tuning itself. This waits for the first and,
run eagerly on JAX, compiles this convolution and times its candidates on their own, so that it is the
first one tuned.
"""

from keras import ops


def prime_convolution_autotuner(variables=(), batch=16, size=14, channels=128, kernel=7, dtype="bfloat16"):
    """Waits until `variables` hold their values, then runs one depthwise convolution and waits for it;
    returns its output's sum (0.0: zeros in)."""
    for variable in variables:
        ops.convert_to_numpy(variable)  # a host copy: whatever computes it has finished
    x = ops.zeros((batch, size, size, channels), dtype=dtype)
    weights = ops.zeros((kernel, kernel, channels, 1), dtype=dtype)
    y = ops.depthwise_conv(x, weights, padding="same", data_format="channels_last")
    return float(ops.sum(ops.cast(y, "float32")))  # a host sync: the compile and the run are done here
