"""Shared by the docs/bench rotation scripts: the paper-size KD step (ConvNeXt-atto -> ResMLP-S12, patch 4,
32x32, batch 32, TensorFlow, XLA off; or another pair or setting) built once per variant, then timed in
rotation in one process."""
import os, sys, statistics
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT); sys.path.insert(0, os.path.join(ROOT, "tools"))
import numpy as np, keras  # noqa: E402
from tas_keras.experiments.timing import fit_times_in_rotation, paired_ratio, time_fit_steps  # noqa: E402
import benchmark  # noqa: E402
from tas_keras.training.config import load_config  # noqa: E402


PAPER_SIZE = ["teacher.name=convnext_atto", "student.overrides.patch_size=4"]


def patching(owner, **attributes):
    """A variant's set-up for run(): sets these attributes of owner (a class or a module) when called."""
    def apply():
        for name, value in attributes.items():
            setattr(owner, name, value)
    return apply


def run(precision, rounds, variants, method="kd", profile=None, sets=PAPER_SIZE, batch=32, steps=8, pair="convnext_mlp", xla=None):
    """variants: {name: a function that sets the variant up before its distiller is built and traced};
    xla: {name: the Distiller's xla for that variant} (default False).
    Prints each variant's median and every round's ms per step (of `steps` steps of `batch` images), then
    each later variant against the first, round by round (timing.paired_ratio)."""
    config = load_config(pair, profile, list(sets) + (["precision=mixed_bfloat16"] if precision == "bf16" else []))
    keras.mixed_precision.set_global_policy(config.precision)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(batch, 32, 32, 3), dtype=np.uint8); y = rng.integers(0, 10, size=(batch,))
    built = {}
    for name, set_up in variants.items():
        set_up()
        built[name] = benchmark.build_distiller(config, method, 32, (xla or {}).get(name, False))
        time_fit_steps(built[name], x, y, 4, epochs=2)  # traces with this variant
    times = fit_times_in_rotation(built, x, y, rounds, steps)
    for name, seconds in times.items():
        ms = [t * 1e3 for t in seconds]
        print(f"{precision} {name:18s} median {statistics.median(ms):7.1f} ms  all {' '.join(f'{v:.0f}' for v in ms)}")
    first, *others = times
    for name in others:
        r = paired_ratio(times[first], times[name])
        print(f"{precision} {name} / {first}: median ratio {r.median:.3f}, {r.confidence:.0%} interval {r.low:.3f}-{r.high:.3f}, "
              f"faster in {r.faster} of {r.rounds} rounds")
