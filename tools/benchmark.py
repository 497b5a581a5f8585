"""Training-throughput benchmark of one pair and method, with a breakdown of the distillation step.

    python tools/benchmark.py --pair convnext_mlp --profile small --method tas --batch-size 128 --steps 30
    python tools/benchmark.py --pair convnext_mlp --image-size 224 --batch-size 64 --xla both --json bench.json

For XLA off / on it measures, on random images (models at random init; speed does not depend on it):
  teacher_forward  the frozen teacher alone (inference mode)
  student_step     the student's own training step (method "scratch": the teacher is not run)
  distill_step     the full step of the chosen method (teacher + student + assistants + losses)
  overhead         distill_step - teacher_forward - student_step: what the method adds on top
Each is the median over --steps timed steps after --warmup steps; the first call's extra time is
reported as compile time. FLOPs come from TensorFlow's graph profiler (forward passes; a training step
costs about 3x its forward), so achieved GFLOP/s can be set against the machine's matmul ceiling.
Peak host memory is the process's maximum resident set size after each measurement.
"""

import argparse
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", required=True)
    p.add_argument("--profile", help="e.g. small (micro variants at 32x32)")
    p.add_argument("--method", default=None, help="scratch | kd | fitnet | ofa | tas (default: the config's)")
    p.add_argument("--image-size", type=int, help="input side (default: the config's)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps after the first (compiling) one")
    p.add_argument("--xla", choices=["on", "off", "both"], default="both")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides, as in train.py")
    p.add_argument("--json", help="write the results to this JSON file")
    return p.parse_args(argv)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_calls(fn, steps, warmup):
    """(compile seconds beyond a normal step, median step seconds, all step times)."""
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


def forward_gflops(model, batch, size):
    """Forward FLOPs of `model` for one batch, from TensorFlow's graph profiler (None off TensorFlow)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(tf.TensorSpec((batch, size, size, 3), tf.float32))
    graph = convert_variables_to_constants_v2(fn).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=graph, options=opts)
    return info.total_float_ops / 1e9


def build_distiller(config, method, size, xla):
    import keras

    import tas_keras

    keras.utils.set_random_seed(0)
    teacher_size = config.teacher.image_size or size
    teacher = tas_keras.create_model(config.teacher.name, num_classes=10, image_size=teacher_size, **config.teacher.overrides)
    student = tas_keras.create_model(config.student.name, num_classes=10, image_size=size, **config.student.overrides)
    options = config.distiller.options if method == config.distiller.method else {}
    distiller = tas_keras.Distiller(teacher, student, method=method, xla=xla, **options)
    distiller.compile(optimizer=keras.optimizers.AdamW(1e-4))
    return distiller


def measure(config, method, size, batch, xla, steps, warmup):
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.normal(size=(batch, size, size, 3)).astype("float32"))
    y = keras.ops.convert_to_tensor(rng.integers(0, 10, size=(batch,)))
    result = {"xla": xla}
    distiller = build_distiller(config, method, size, xla)
    teacher_fn = _teacher_forward(distiller, xla)
    for name, fn in (
        ("teacher_forward", lambda: keras.ops.convert_to_numpy(teacher_fn(x)[0, 0])),
        ("distill_step", lambda: distiller.train_on_batch(x, y)),
    ):
        compile_s, median, _ = time_calls(fn, steps, warmup)
        result[name] = {"median_s": median, "images_per_s": batch / median, "compile_s": compile_s, "peak_rss_mib": peak_rss_mib()}
    scratch = build_distiller(config, "scratch", size, xla)
    compile_s, median, _ = time_calls(lambda: scratch.train_on_batch(x, y), steps, warmup)
    result["student_step"] = {"median_s": median, "images_per_s": batch / median, "compile_s": compile_s, "peak_rss_mib": peak_rss_mib()}
    parts = result["teacher_forward"]["median_s"] + result["student_step"]["median_s"]
    result["overhead"] = {"median_s": result["distill_step"]["median_s"] - parts,
                          "share": 1.0 - parts / result["distill_step"]["median_s"]}
    return result, distiller


def _teacher_forward(distiller, xla):
    import keras

    teacher = distiller.teacher
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda x: teacher(x, training=False), jit_compile=xla)
    return lambda x: teacher(x, training=False)


def input_pipeline_rate(config, size, batch, batches=20):
    """Images/s of the training input pipeline (with the config's augmentation) on its own."""
    from tas_keras.data import build_dataset

    ds, _ = build_dataset(config.data.dataset, "train", size, batch, augment=config.student_training.augment,
                          data_dir=config.data.data_dir, subset=config.data.train_subset)
    it = iter(ds.repeat())
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch / (time.perf_counter() - start)


def main(argv=None):
    args = parse_args(argv)
    import keras

    from tas_keras.config import ConfigError, load_config

    try:
        config = load_config(args.pair, args.profile, args.set)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    method = args.method or config.distiller.method
    size = args.image_size or config.data.image_size
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.xla]
    if keras.backend.backend() != "tensorflow":
        modes = [False]  # XLA on/off is a TensorFlow-step switch; JAX always jits, torch runs eagerly
    report = {"pair": config.pair, "profile": args.profile, "method": method, "image_size": size, "batch_size": args.batch_size,
              "backend": keras.backend.backend(), "teacher": config.teacher.name, "student": config.student.name,
              "cpu_count": os.cpu_count(), "runs": []}
    distiller = None
    for xla in modes:
        result, distiller = measure(config, method, size, args.batch_size, xla, args.steps, args.warmup)
        report["runs"].append(result)
    report["gflops_per_batch"] = {
        "teacher_forward": forward_gflops(distiller.teacher, args.batch_size, distiller.teacher_size),
        "student_forward": forward_gflops(distiller.student, args.batch_size, size),
    }
    try:
        report["input_pipeline_images_per_s"] = input_pipeline_rate(config, size, args.batch_size)
    except Exception as err:  # an unavailable dataset does not void the step timings
        report["input_pipeline_images_per_s"] = None
        report["input_pipeline_error"] = str(err)
    print_table(report)
    if args.json:
        from tas_keras.training.checkpoint import atomic_json

        atomic_json(args.json, report)
    return 0


def print_table(report):
    flops = report["gflops_per_batch"]
    print(f"\n{report['teacher']} -> {report['student']}, method {report['method']}, {report['image_size']}x{report['image_size']}, "
          f"batch {report['batch_size']}, backend {report['backend']}, {report['cpu_count']} CPUs")
    print(f"{'xla':<5}{'part':<17}{'ms/step':>9}{'img/s':>9}{'compile s':>11}{'peak MiB':>10}")
    for run in report["runs"]:
        for part in ("teacher_forward", "student_step", "distill_step"):
            r = run[part]
            print(f"{'on' if run['xla'] else 'off':<5}{part:<17}{1000 * r['median_s']:>9.1f}{r['images_per_s']:>9.0f}"
                  f"{r['compile_s']:>11.1f}{r['peak_rss_mib']:>10.0f}")
        o = run["overhead"]
        print(f"{'on' if run['xla'] else 'off':<5}{'overhead':<17}{1000 * o['median_s']:>9.1f}{'':>9}{'':>11}{'':>10}  ({100 * o['share']:.0f}% of the step)")
    if flops["teacher_forward"] is not None:
        best = min(r["distill_step"]["median_s"] for r in report["runs"])
        # a training step ~ 3x its forward FLOPs (forward + two backward matmuls); the teacher runs forward only
        step_gflops = flops["teacher_forward"] + 3 * flops["student_forward"]
        print(f"forward GFLOP/batch: teacher {flops['teacher_forward']:.2f}, student {flops['student_forward']:.2f}; "
              f"teacher + student training ~{step_gflops:.2f} GFLOP/step -> {step_gflops / best:.1f} GFLOP/s "
              "achieved by the fastest distill step (assistants not counted)")
    if report.get("input_pipeline_images_per_s"):
        print(f"input pipeline alone: {report['input_pipeline_images_per_s']:.0f} images/s")


if __name__ == "__main__":
    sys.exit(main())
