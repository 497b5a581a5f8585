"""Where a JAX training step spends device time: trace fit() steps with jax.profiler and sum the
recorded kernels (GPU) or XLA ops (CPU) by name and by kind.

The profiler's XSpace file (`*.xplane.pb`) is read with `jax.profiler.ProfileData` (in jaxlib), so a
trace written on a GPU machine can be summarised there or brought back and summarised anywhere JAX is.
"""

import collections
import gzip
import pathlib
import re

# kernel / op name -> kind, first match wins (cuBLAS / cuDNN / XLA kernel naming)
KINDS = (
    ("matmul", re.compile(r"gemm|cutlass|matmul|cublas|dot|ynn_fusion", re.I)),  # ynn: XNNPACK fused dots (CPU)
    ("convolution", re.compile(r"conv(?!ert)|fprop|dgrad|wgrad|depthwise|cudnn", re.I)),
    ("reduction", re.compile(r"reduce|reduction", re.I)),
    ("copy / transpose", re.compile(r"copy|transpose|memcpy|memset", re.I)),
    ("elementwise fusion", re.compile(r"fusion|loop_|elementwise", re.I)),
)


def kind_of(name):
    for kind, pattern in KINDS:
        if pattern.search(name):
            return kind
    return "other"


def trace_fit(model, x, y, steps, directory):
    """One fit() epoch of `steps` steps of the batch (x, y) under the JAX profiler, on a model whose
    train function is already compiled (so the trace holds steps, not compilation). Returns the
    XSpace file written."""
    import jax

    from tas_keras.experiments.timing import repeating_batches

    options = jax.profiler.ProfileOptions()
    # no Python call events and no HLO protos: kernels / XLA ops only, a small file (where this JAX has the options)
    for name, value in (("python_tracer_level", 0), ("enable_hlo_proto", False)):
        if hasattr(options, name):
            setattr(options, name, value)
    with jax.profiler.trace(str(directory), profiler_options=options):
        model.fit(repeating_batches(x, y), epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    files = sorted(pathlib.Path(directory).rglob("*.xplane.pb"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise RuntimeError(f"the JAX profiler wrote no *.xplane.pb under {directory}")
    return files[-1]


def _device_events(data):
    """(name, start_ns, duration_ns, stream) of every kernel on the first accelerator, or of every XLA op
    the CPU runtime ran when the trace has no accelerator."""
    devices = [p for p in data.planes if p.name.startswith("/device:") and "CPU" not in p.name]
    if devices:
        plane = sorted(devices, key=lambda p: p.name)[0]
        for line in plane.lines:
            if line.name.startswith("Stream"):
                for event in line.events:
                    yield event.name, event.start_ns, event.duration_ns, line.name
        return
    for plane in data.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for event in line.events:
                stats = dict(event.stats)
                if "hlo_op" in stats and event.duration_ns > 0:
                    yield stats["hlo_op"], event.start_ns, event.duration_ns, line.name


def _busy_ns(intervals):
    """Length of the union of [start, end) intervals."""
    busy, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            busy += stop - max(start, end)
            end = stop
    return busy


def summarize(xplane_path, steps=1):  # an *.xplane.pb, or one gzipped (*.xplane.pb.gz)
    """{"window_ms", "busy_ms", "busy_share", "by_kind": {kind: ms}, "top": [(name, kind, ms, calls)]}
    per step (divided by `steps`): where the device spent the traced window."""
    from jax.profiler import ProfileData

    path = pathlib.Path(xplane_path)
    data = ProfileData.from_serialized_xspace(gzip.decompress(path.read_bytes())) if path.suffix == ".gz" else ProfileData.from_file(str(path))
    events = list(_device_events(data))
    if not events:
        raise RuntimeError(f"no device kernels or XLA ops in {xplane_path}")
    totals, calls = collections.Counter(), collections.Counter()
    for name, _, duration, _ in events:
        totals[name] += duration
        calls[name] += 1
    by_kind = collections.Counter()
    for name, total in totals.items():
        by_kind[kind_of(name)] += total
    window = max(s + d for _, s, d, _ in events) - min(s for _, s, _, _ in events)
    busy = _busy_ns([(s, s + d) for _, s, d, _ in events])
    per_step_ms = 1e-6 / steps
    return {
        "steps": steps,
        "window_ms": window * per_step_ms,
        "busy_ms": busy * per_step_ms,
        "busy_share": busy / window if window else 0.0,
        "by_kind": {k: v * per_step_ms for k, v in by_kind.most_common()},
        "top": [(name, kind_of(name), total * per_step_ms, calls[name] // steps) for name, total in totals.most_common(40)],
    }


def format_summary(summary, top=25):
    lines = [f"device time per step: busy {summary['busy_ms']:.2f} ms of a {summary['window_ms']:.2f} ms window "
             f"({100 * summary['busy_share']:.0f}% busy; the rest waits on the host)"]
    lines += [f"  {kind:<20}{ms:>9.2f} ms" for kind, ms in summary["by_kind"].items()]
    lines.append(f"  {'top kernels / ops':<70}{'kind':<20}{'ms':>8}{'calls':>7}")
    lines += [f"  {name[:68]:<70}{kind:<20}{ms:>8.3f}{n:>7}" for name, kind, ms, n in summary["top"][:top]]
    return "\n".join(lines)
