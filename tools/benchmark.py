"""Training-throughput benchmark of one pair and method, with a breakdown of the distillation step.

    python tools/benchmark.py --pair convnext_mlp --profile small --method tas --batch-size 128 --steps 30
    python tools/benchmark.py --pair convnext_mlp --image-size 224 --batch-size 64 --xla both --json bench.json
    python tools/benchmark.py --pair convnext_mlp --profile small --replicas 1 2 --xla off
    KERAS_BACKEND=jax python tools/benchmark.py --pair convnext_mlp --method kd --parts distill_step --trace /tmp/trace
    python tools/benchmark.py --pair convnext_mlp --profile small --method kd --xla off --parts distill_step --trace /tmp/trace

For each replica count and XLA mode (--xla: off, on, elementwise) it measures, on one batch of random uint8 images fed from the
host at every step and normalised inside it, as in training (models at random init; speed does not
depend on it):
  teacher_forward  the frozen teacher alone (inference mode; one replica only; compiled calls)
  student_step     the student's own training step (method "scratch": the teacher is not run)
  distill_step     the full step of the chosen method (teacher + student + assistants + losses)
  overhead         distill_step - teacher_forward - student_step: what the method adds on top
  train_on_batch   the distill step through train_on_batch (one replica): the old measure, kept for
                   comparison; under JAX it re-reads and re-assigns every variable on each call
  run_callbacks    (only when named in --parts) the distill step through fit() with the callbacks a
                   training run attaches (training.callbacks.stage_callbacks: NaN stop, epoch CSV,
                   TensorBoard where TensorFlow is installed, epoch checkpoint, time forecast) and
                   the progress log of a run logging to a file (verbose=2), in a temporary folder:
                   against distill_step, what the run's per-step hooks cost (their epoch-end writes
                   are not timed). On JAX and torch a batch hook that is not async-safe makes fit()
                   wait for every step before dispatching the next (one replica)
  keras_distiller  (only when named in --parts) KD of the same teacher and student through Keras' own
                   keras.distillation.Distiller (LogitsDistillation with KLDivergence, T as our kd's,
                   student_loss_weight 0.5), fed normalised float32 images, timed the same way: the
                   step a user of Keras' API runs, beside ours (one replica)
student_step and distill_step are timed as training runs them: fit() epochs of --steps steps (state
kept on the device; JAX syncs it back once per epoch), the median of the epochs after the first
(compiling) one, per step. `traces` counts retracings after the first epoch (must be 0).
--parts picks which of these to time (each builds and compiles its own step). --trace DIR traces a
few more fit() steps of the distill step with the backend's profiler (JAX or TensorFlow) and prints
where the device spent them: kernels (GPU), XLA ops (JAX on a CPU) or TensorFlow ops (CPU) by kind and
by op, and the share of the step the device was busy.
Replicas: GPUs when the machine has enough, else logical CPU devices (MirroredStrategy on TensorFlow,
keras.distribution.DataParallel on JAX); logical CPU devices share the same cores, so they show the
cost of replication, not a speed-up. FLOPs come from TensorFlow's graph profiler: the forward passes
of teacher and student, and the whole forward + backward of the distillation step (assistants and
losses included), set against the device's matmul ceiling measured here (a 2048^2 matmul in the
compute dtype). Memory: peak
resident host memory of the process, and the peak device memory of each part on GPUs.
"""

import contextlib
import importlib.util
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tas_keras.cli.common import ArgumentParser, count, run_cli  # noqa: E402
from tas_keras.errors import InputError  # noqa: E402

PARTS = ("teacher_forward", "student_step", "distill_step", "train_on_batch", "run_callbacks", "keras_distiller")
DEFAULT_PARTS = PARTS[:4]
XLA_MODES = {"off": [False], "on": [True], "both": [False, True], "elementwise": ["elementwise"]}  # --xla: Distiller(xla=...) values
XLA_LABELS = {False: "off", True: "on", "elementwise": "elem"}


def parse_args(argv):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--pair", required=True)
    p.add_argument("--profile", help="e.g. small (micro variants at 32x32)")
    p.add_argument("--method", default=None, help="e.g. scratch | kd | ofa | tas | tas_branch (default: the config's)")
    p.add_argument("--image-size", type=count(1), help="input side (default: the config's)")
    p.add_argument("--batch-size", type=count(1), default=64)
    p.add_argument("--steps", type=count(1), default=20, help="steps per timed fit() epoch (and timed train_on_batch calls)")
    p.add_argument("--warmup", type=count(0), default=3, help="untimed calls after the first (compiling) one (teacher_forward, train_on_batch)")
    p.add_argument("--xla", nargs="+", choices=list(XLA_MODES), default=["both"],
                   help="TensorFlow step modes to time, in order (both = off on; elementwise: XLA for the step's elementwise work only)")
    p.add_argument("--replicas", nargs="+", type=count(1), default=[1], help="replica counts to measure, e.g. 1 2 (default 1)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides, as in train.py")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(DEFAULT_PARTS), help=f"parts to time (default: {' '.join(DEFAULT_PARTS)})")
    p.add_argument("--trace", metavar="DIR", help="trace --trace-steps fit() steps of the distill step with the JAX or TensorFlow "
                   "profiler into DIR and print where the device spent them (kernels / ops by kind and by op, busy share)")
    p.add_argument("--trace-steps", type=count(1), default=3)
    p.add_argument("--steps-per-execution", type=count(1), default=1, help="steps per compiled call (Keras compile()); fewer host round trips")
    p.add_argument("--depthwise", choices=["auto", "conv", "shifted"], default="auto",
                   help="how depthwise convolutions compute (tas_keras.layers.set_depthwise_implementation; auto: shifted on JAX on a CPU)")
    p.add_argument("--prime-autotuner", action="store_true",
                   help="once the models are built, wait for their initialization and run one throwaway depthwise "
                   "convolution, before anything else compiles (a GPU lever: tas_keras.experiments.autotune_priming)")
    p.add_argument("--json", help="write the results to this JSON file")
    return p.parse_args(argv)


def has_tensorflow():
    """Whether TensorFlow is installed (the GPU machines we measure on have JAX only)."""
    return importlib.util.find_spec("tensorflow") is not None


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def configure_devices(replicas):
    """Before the backend starts: enough logical CPU devices for the largest replica count when the
    machine lacks that many GPUs. Returns an error message or None."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if replicas <= 1:
        return None
    if backend == "jax":
        flag = f"--xla_force_host_platform_device_count={replicas}"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
        return None
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus and len(gpus) < replicas:
            return f"--replicas {replicas} needs {replicas} GPUs; this machine has {len(gpus)}."
        if not gpus:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
        return None
    return f"--replicas above 1 is measured on the tensorflow and jax backends; this is {backend}."


def replica_scope(replicas):
    """A context in which models and steps run data-parallel over `replicas` devices."""
    import contextlib

    import keras

    if replicas == 1:
        return contextlib.nullcontext()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        kind = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
        devices = [d.name for d in tf.config.list_logical_devices(kind)][:replicas]
        return tf.distribute.MirroredStrategy(devices).scope()
    devices = keras.distribution.list_devices()[:replicas]
    return keras.distribution.DataParallel(devices=devices).scope()


def list_devices():
    import keras

    if keras.backend.backend() == "torch":
        import torch

        return [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cpu:0"]
    return keras.distribution.list_devices()


class DeviceMemory:
    """Peak device memory (MiB) since the last reset, on the first GPU; None on CPU-only machines."""

    def __init__(self):
        import keras

        self.backend = keras.backend.backend()
        from tas_keras.distiller import accelerator_visible

        self.gpu = accelerator_visible()

    def reset(self):
        if self.gpu and self.backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats("GPU:0")

    def peak_mib(self):
        if not self.gpu:
            return None
        if self.backend == "tensorflow":
            import tensorflow as tf

            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        if self.backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            return stats.get("peak_bytes_in_use", 0) / 2**20  # since start (JAX has no reset)
        if self.backend == "torch":
            import torch

            return torch.cuda.max_memory_allocated() / 2**20
        return None


def forward_gflops(model, batch, size):
    """Forward FLOPs of `model` for one batch, from TensorFlow's graph profiler (None off TensorFlow)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(tf.TensorSpec((batch, size, size, 3), tf.float32))
    return graph_gflops(convert_variables_to_constants_v2(fn).graph)


def step_gflops(distiller, batch):
    """FLOPs of one distillation step's forward + backward (teacher, student, method modules and
    losses; the optimizer update excluded), from TensorFlow's graph profiler (None off TensorFlow)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    def forward_backward(x, y):
        with tf.GradientTape() as tape:
            targets = distiller.teacher_targets(x)
            losses, _ = distiller.compute_losses(x, y, targets, 0, training=True)
            total = sum(losses.values())
        return tape.gradient(total, distiller.trainable_variables)

    size = distiller.student_size
    fn = tf.function(forward_backward, autograph=False).get_concrete_function(tf.TensorSpec((batch, size, size, 3), tf.float32), tf.TensorSpec((batch,), tf.int32))
    return graph_gflops(fn.graph)


def graph_gflops(graph):
    """A graph's float operations from TensorFlow's graph profiler, in GFLOP. The profiler calls a
    deprecated TF1 function inside, whose notice (nothing a user can act on) is muted."""
    import tensorflow as tf

    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        return tf.compat.v1.profiler.profile(graph=graph, options=opts).total_float_ops / 1e9
    finally:
        logger.setLevel(level)


def build_distiller(config, method, size, xla, steps_per_execution=1):
    """The config's pair at `size` with `method` (its options only when it is the config's method)."""
    import dataclasses

    import keras

    from tas_keras.data.sources import normalization
    from tas_keras.training import build
    from tas_keras.training.config import DistillerConfig

    keras.utils.set_random_seed(0)
    options = config.distiller.options if method == config.distiller.method else {}
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, image_size=size), distiller=DistillerConfig(method, options))
    distiller = build.build_distiller(config, build.build_teacher(config, 10), build.build_student(config, 10), xla=xla,
                                      pixel_normalization=normalization(config.data.dataset))
    distiller.compile(optimizer=keras.optimizers.AdamW(1e-4), steps_per_execution=steps_per_execution)
    return distiller


def keras_distiller(config, size, xla):
    """KD of the pair's teacher and student through keras.distillation.Distiller, as its docs set it up
    (KLDivergence given as an instance: the default "kl_divergence" string is applied to the raw logits
    in Keras 3.12-3.15, see tests/distill/test_losses.py)."""
    import keras

    from tas_keras.methods import method_class

    if not hasattr(keras, "distillation"):
        raise InputError(f"--parts keras_distiller needs keras.distillation (Keras >= 3.12); this is Keras {keras.__version__}.")
    ours = build_distiller(config, "kd", size, xla)
    theirs = keras.distillation.Distiller(
        teacher=ours.teacher, student=ours.student, student_loss_weight=0.5,
        distillation_losses=keras.distillation.LogitsDistillation(method_class("kd").defaults["temperature"], loss=keras.losses.KLDivergence()))
    jit = xla is True or keras.backend.backend() == "jax"  # as our steps: JAX always jits (unjitted, it runs op by op)
    theirs.compile(optimizer=keras.optimizers.AdamW(1e-4), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    return theirs


def measure(config, method, size, batch, xla, steps, warmup, replicas, memory, parts=DEFAULT_PARTS, trace=None, trace_steps=3, epochs=3,
            steps_per_execution=1, prime_autotuner=False):
    import keras
    import numpy as np

    from tas_keras.experiments.timing import compiled, time_calls, time_fit_steps
    from tas_keras.training.callbacks import stage_callbacks
    from tas_keras.training.checkpoint import EpochCheckpoint

    class TraceProbe(keras.callbacks.Callback):
        """The distiller's trace count when the first (compiling) epoch ends."""

        def __init__(self, distiller):
            super().__init__()
            self.distiller, self.after_first = distiller, None

        def on_epoch_end(self, epoch, logs=None):
            if self.after_first is None:
                self.after_first = self.distiller.trace_count

    rng = np.random.default_rng(0)
    x_host = rng.integers(0, 256, size=(batch, size, size, 3), dtype=np.uint8)  # raw pixels, as training sends them
    y_host = rng.integers(0, 10, size=(batch,))
    result = {"xla": xla, "replicas": replicas}

    def record(name, compile_s, median, extra=None):
        result[name] = {"median_s": median, "images_per_s": batch / median, "compile_s": compile_s,
                        "peak_rss_mib": peak_rss_mib(), "device_peak_mib": memory.peak_mib(), **(extra or {})}

    def calibrated(distiller):
        """fit() on a generator cannot calibrate itself (e.g. tas_branch's branch_grad_scale="auto")."""
        if distiller.method.needs_calibration():
            distiller.calibrate([(x_host, y_host)])
        return distiller

    def timed_fit(name, distiller, callbacks=(), verbose=0, extra=None):
        """fit() epochs of `steps` steps on a host batch: what training runs (state kept on the device)."""
        memory.reset()
        calibrated(distiller)
        probe = TraceProbe(distiller)
        compile_s, median, _ = time_fit_steps(distiller, x_host, y_host, steps, epochs, callbacks=[probe, *callbacks], verbose=verbose)
        # torch: not counted (an eager step runs the Python step every time; torch.compile keeps its own guards)
        counted = keras.backend.backend() != "torch"
        record(name, compile_s, median, {"traces": distiller.trace_count - probe.after_first if counted else None, **(extra or {})})

    with replica_scope(replicas):
        distiller = build_distiller(config, method, size, xla, steps_per_execution)
        if prime_autotuner:
            from tas_keras.experiments.autotune_priming import prime_convolution_autotuner

            prime_convolution_autotuner(distiller.variables)
        if replicas == 1 and "teacher_forward" in parts:
            x = distiller.model_inputs(keras.ops.convert_to_tensor(x_host))
            # logits cast to float32 inside the compiled function: TensorFlow cannot hand bfloat16 to numpy
            teacher_fn = compiled(lambda images: keras.ops.cast(distiller.teacher(images, training=False), "float32"), distiller.xla,
                                  forward_only=True)
            memory.reset()
            record("teacher_forward", *time_calls(lambda: keras.ops.convert_to_numpy(teacher_fn(x)[0, 0]), steps, warmup)[:2])
        if "distill_step" in parts:
            timed_fit("distill_step", distiller)
        if replicas == 1 and "train_on_batch" in parts:  # the old measure, for comparison: under JAX it re-syncs every variable per call
            memory.reset()
            tob = calibrated(build_distiller(config, method, size, xla))
            record("train_on_batch", *time_calls(lambda: tob.train_on_batch(x_host, y_host), steps, warmup)[:2])
        if "student_step" in parts:
            timed_fit("student_step", build_distiller(config, "scratch", size, xla, steps_per_execution))
        if replicas == 1 and "run_callbacks" in parts:
            with tempfile.TemporaryDirectory() as folder:
                callbacks = stage_callbacks("Benchmark", folder, "metrics.csv", EpochCheckpoint(folder), steps * epochs, "", log=lambda _: None,
                                            tensorboard=has_tensorflow())
                timed_fit("run_callbacks", build_distiller(config, method, size, xla, steps_per_execution), callbacks, verbose=2,
                          extra={"callbacks": [type(c).__name__ for c in callbacks]})
        if replicas == 1 and "keras_distiller" in parts:
            from tas_keras.data.sources import normalization
            from tas_keras.pixels import normalize_pixels

            memory.reset()
            x_float = keras.ops.convert_to_numpy(normalize_pixels(x_host, normalization(config.data.dataset)))
            record("keras_distiller", *time_fit_steps(keras_distiller(config, size, xla), x_float, y_host, steps, epochs)[:2])
        if trace:  # last, so that a profiler problem costs no timing
            from tas_keras.experiments.device_trace import format_summary, summarize, trace_fit

            try:
                result["distill_trace"] = summarize(trace_fit(distiller, x_host, y_host, trace_steps, trace), trace_steps)
                print(f"distill step, traced ({trace_steps} steps):\n{format_summary(result['distill_trace'])}", flush=True)
            except Exception as err:  # e.g. a JAX whose profiler options differ: report it, keep the timings
                result["distill_trace"] = {"error": f"{type(err).__name__}: {err}"}
                print(f"distill step trace failed: {result['distill_trace']['error']}", flush=True)
    if {"teacher_forward", "student_step", "distill_step"} <= result.keys():
        parts = result["teacher_forward"]["median_s"] + result["student_step"]["median_s"]
        result["overhead"] = {"median_s": result["distill_step"]["median_s"] - parts,
                              "share": 1.0 - parts / result["distill_step"]["median_s"]}
    return result, distiller


def input_pipeline_rate(config, size, batch, batches=20):
    """Images/s of the training input pipeline (with the config's augmentation) on its own."""
    from tas_keras.data import build_dataset

    ds, _ = build_dataset(config.data.dataset, "train", size, batch, augment=config.student_training.augment,
                          data_dir=config.data.data_dir, subset=config.data.train_subset, deterministic=config.data.deterministic)
    it = iter(ds.repeat())
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch / (time.perf_counter() - start)


def _main(argv):
    args = parse_args(argv)
    problem = configure_devices(max(args.replicas))
    if problem:
        raise InputError(problem)
    if args.trace and os.environ.get("KERAS_BACKEND", "tensorflow") not in ("jax", "tensorflow"):
        raise InputError(f"--trace reads the JAX or TensorFlow profiler; run with KERAS_BACKEND=jax or tensorflow (this is {os.environ['KERAS_BACKEND']}).")
    spe = args.steps_per_execution
    if args.steps % spe or (args.trace and args.trace_steps % spe):
        raise InputError(f"--steps-per-execution must divide --steps (and --trace-steps with --trace); got "
                         f"{spe} for --steps {args.steps}, --trace-steps {args.trace_steps}.")
    if args.trace and "distill_step" not in args.parts:
        raise InputError(f"--trace traces the distill step; --parts {' '.join(args.parts)} leaves it out.")
    import keras

    from tas_keras.layers import compiled_by_xla, depthwise_implementation, set_depthwise_implementation
    from tas_keras.training.config import load_config
    from tas_keras.training.machine import describe_machine, tensorflow_onednn

    set_depthwise_implementation(args.depthwise)

    config = load_config(args.pair, args.profile, args.set)
    method = args.method or config.distiller.method
    keras.mixed_precision.set_global_policy(config.precision)  # --set precision=mixed_bfloat16 etc.
    size = args.image_size or config.data.image_size
    modes = list(dict.fromkeys(mode for name in args.xla for mode in XLA_MODES[name]))
    if keras.backend.backend() == "jax":
        modes = [False]  # JAX always jits the whole step; on torch "on" and "elem" mean torch.compile
    report = {"pair": config.pair, "profile": args.profile, "method": method, "image_size": size, "batch_size": args.batch_size,
              "steps_per_execution": args.steps_per_execution,
              "backend": keras.backend.backend(), "precision": config.precision, "teacher": config.teacher.name, "student": config.student.name,
              "depthwise": args.depthwise, "prime_autotuner": args.prime_autotuner,
              "machine": describe_machine(), "cpu_count": os.cpu_count(), "devices": list_devices(), "runs": []}
    memory = DeviceMemory()
    distiller = None
    for replicas in args.replicas:
        for xla in modes:
            result, distiller = measure(config, method, size, args.batch_size, xla, args.steps, args.warmup, replicas, memory,
                                        args.parts, args.trace, args.trace_steps, steps_per_execution=args.steps_per_execution,
                                        prime_autotuner=args.prime_autotuner)
            with compiled_by_xla() if xla is True else contextlib.nullcontext():  # as the step's teacher function traces
                teacher_depthwise = depthwise_implementation()
            result["depthwise"] = {"teacher": teacher_depthwise, "training_step": depthwise_implementation()}
            report["runs"].append(result)
    report["tensorflow_onednn"] = tensorflow_onednn()  # None where TensorFlow is not loaded
    report["gflops_per_batch"] = {
        "teacher_forward": forward_gflops(distiller.teacher, args.batch_size, distiller.teacher_size),
        "student_forward": forward_gflops(distiller.student, args.batch_size, size),
        "distill_step": step_gflops(distiller, args.batch_size),
    }
    from tas_keras.experiments.timing import matmul_peak_gflops

    compute_dtype = keras.mixed_precision.global_policy().compute_dtype
    report["matmul_peak"] = {"size": 2048, "dtype": compute_dtype, "gflops": matmul_peak_gflops(2048, compute_dtype)}
    try:
        report["input_pipeline_images_per_s"] = input_pipeline_rate(config, size, args.batch_size)
    except Exception as err:  # an unavailable dataset does not void the step timings
        report["input_pipeline_images_per_s"] = None
        report["input_pipeline_error"] = str(err)
    print_table(report)
    if args.json:
        from tas_keras.atomic import atomic_json

        atomic_json(args.json, report)
    return 0


def depthwise_summary(runs):
    """e.g. "xla off: conv; xla on: teacher shifted, training step conv"."""
    parts = []
    for run in runs:
        used = run["depthwise"]
        text = used["teacher"] if used["teacher"] == used["training_step"] else f"teacher {used['teacher']}, training step {used['training_step']}"
        part = f"xla {XLA_LABELS[run['xla']]}: {text}"
        if part not in parts:
            parts.append(part)
    return "; ".join(parts)


def onednn_note(report):
    onednn = report.get("tensorflow_onednn")
    return "" if onednn is None else f", TensorFlow oneDNN {'on' if onednn else 'off'}"


def print_table(report):
    flops = report["gflops_per_batch"]
    print(f"\n{report['teacher']} -> {report['student']}, method {report['method']}, {report['image_size']}x{report['image_size']}, "
          f"batch {report['batch_size']}, backend {report['backend']}, {report['precision']}, depthwise {report['depthwise']} ({depthwise_summary(report['runs'])}), {report['machine']}{onednn_note(report)}, devices {report['devices']}")
    gpu = any(r[p].get("device_peak_mib") for r in report["runs"] for p in PARTS if p in r)
    print(f"{'repl':<5}{'xla':<5}{'part':<17}{'ms/step':>9}{'img/s':>9}{'compile s':>11}{'host MiB':>10}"
          + (f"{'dev MiB':>9}" if gpu else "") + f"{'traces':>8}")
    for run in report["runs"]:
        head = f"{run['replicas']:<5}{XLA_LABELS[run['xla']]:<5}"
        for part in PARTS:
            if part not in run:
                continue
            r = run[part]
            dev = f"{r['device_peak_mib'] or 0:>9.0f}" if gpu else ""
            traces = "" if r.get("traces") is None else r["traces"]
            print(f"{head}{part:<17}{1000 * r['median_s']:>9.1f}{r['images_per_s']:>9.0f}{r['compile_s']:>11.1f}"
                  f"{r['peak_rss_mib']:>10.0f}{dev}{traces:>8}")
        if "overhead" in run:
            o = run["overhead"]
            print(f"{head}{'overhead':<17}{1000 * o['median_s']:>9.1f}  ({100 * o['share']:.0f}% of the step)")
    peak = report["matmul_peak"]
    print(f"matmul ceiling: {peak['gflops']:.0f} GFLOP/s ({peak['size']}x{peak['size']} {peak['dtype']} matmul, best of 5)")
    if flops["teacher_forward"] is not None and all("distill_step" in r for r in report["runs"]):
        best = min(r["distill_step"]["median_s"] for r in report["runs"])
        achieved = flops["distill_step"] / best
        print(f"GFLOP per batch: teacher forward {flops['teacher_forward']:.2f}, student forward {flops['student_forward']:.2f}, "
              f"whole distillation step (forward + backward) {flops['distill_step']:.2f} -> {achieved:.1f} GFLOP/s "
              f"achieved by the fastest distill step, {100 * achieved / peak['gflops']:.0f}% of the ceiling")
    if report.get("input_pipeline_images_per_s"):
        print(f"input pipeline alone: {report['input_pipeline_images_per_s']:.0f} images/s")


def main(argv=None):
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
