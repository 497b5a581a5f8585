"""Where a training step spends device time: trace fit() steps with the backend's profiler (jax.profiler,
tf.profiler) and sum the recorded kernels (GPU), XLA ops (JAX on a CPU) or TensorFlow ops (TensorFlow on
a CPU) by name, by op and by kind.

The profiler's XSpace file (`*.xplane.pb`) is read with `jax.profiler.ProfileData` (in jaxlib) where
JAX is installed, else with TensorFlow's XSpace proto: a trace written on a GPU machine can be
summarised there or brought back and summarised anywhere either is.
"""

import collections
import contextlib
import gzip
import pathlib
import re
import types

# kernel / op name -> kind, first match wins: XLA's fusions and CPU ops, cuBLAS (nvjet, xmma gemm, cutlass
# gemm), cuDNN (its convolutions are implicit GEMMs named fprop / dgrad / wgrad, its layout transforms carry
# "cudnn"), and torch.compile's Triton kernels (pointwise, reduction, persistent reduction, matmul templates),
# so PyTorch's kernels sort into the same kinds as ours
KINDS = (
    ("elementwise fusion", re.compile(r"^triton_poi_")),
    ("reduction", re.compile(r"^triton_(red|per)_")),
    ("matmul", re.compile(r"^triton_(tem|mm)_")),
    ("convolution", re.compile(r"fprop|dgrad|wgrad|conv(?!ert)|depthwise|cudnn", re.I)),
    ("matmul", re.compile(r"gemm|cutlass|matmul|cublas|nvjet|dot|ynn_fusion", re.I)),  # ynn: XNNPACK fused dots (CPU)
    ("reduction", re.compile(r"reduce|reduction", re.I)),
    ("copy / transpose", re.compile(r"copy|transpose|memcpy|memset", re.I)),
    ("elementwise fusion", re.compile(r"fusion|loop_|elementwise|multi_tensor_apply", re.I)),
)


# TensorFlow op type (the part after ":" in "scope/name:Type") -> kind; any other op is elementwise
TENSORFLOW_KINDS = (
    ("matmul", re.compile(r"MatMul|Einsum")),
    ("convolution", re.compile(r"Conv")),
    ("reduction", re.compile(r"^(_Mkl)?(Sum|Mean|Max|Min|Prod|BiasAddGrad|ArgMax|ArgMin|All|Any)$")),
    ("copy / transpose", re.compile(r"Transpose|Copy|Concat|Slice|Pad|Tile|Gather|Pack|Unpack|Split")),
)


def _is_tensorflow_op(name):
    """TensorFlow's executor names an op event "scope/name:Type" (C++ names such as "Executor::Run" are not ops)."""
    return ":" in name and "::" not in name


def kind_of(name):
    if _is_tensorflow_op(name):  # its type decides, not its scope
        op_type = op_of(name)
        return next((kind for kind, pattern in TENSORFLOW_KINDS if pattern.search(op_type)), "elementwise")
    for kind, pattern in KINDS:
        if pattern.search(name):
            return kind
    return "other"


def group_name(name):
    """A TensorFlow op's name with what differs between repeated blocks taken out ("stage2_block7_1/fc1_1/
    MatMul:_MklMatMul" -> "stageN_blockN/fc1/MatMul:_MklMatMul", no "StatefulPartitionedCall/" prefix), so
    one op of every block sums to one row; other names as they are."""
    if not _is_tensorflow_op(name):
        return name
    scope, op_type = name.rsplit(":", 1)
    parts = [part for part in (re.sub(r"_\d+$", "", part) for part in scope.split("/")) if part != "StatefulPartitionedCall"]
    parts = [re.sub(r"(?<![a-z])(block|stage|layer)(s?_?)\d+", r"\1\2N", part) for part in parts]
    return f"{'/'.join(parts)}:{op_type}"


def op_of(name):
    """The op a kernel or op event runs: a TensorFlow op's type ("MatMul" of "dense/MatMul:_MklMatMul"),
    else the name without its instance number ("fusion" of "fusion.23")."""
    if _is_tensorflow_op(name):
        return name.rsplit(":", 1)[1]
    return re.sub(r"[._]\d+$", "", name)


def trace_fit(model, x, y, steps, directory):
    """One fit() epoch of `steps` steps of the batch (x, y) under the backend's profiler (JAX or
    TensorFlow), on a model whose train function is already compiled (so the trace holds steps, not
    compilation). Returns the XSpace file written."""
    import keras

    from tas_keras.experiments.timing import repeating_batches

    backend = keras.backend.backend()
    if backend not in ("jax", "tensorflow"):
        raise ValueError(f"tracing reads the JAX or TensorFlow profiler; this backend is {backend!r}")
    with _profiling(backend, str(directory)):
        model.fit(repeating_batches(x, y), epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    files = sorted(pathlib.Path(directory).rglob("*.xplane.pb"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise RuntimeError(f"the {backend} profiler wrote no *.xplane.pb under {directory}")
    return files[-1]


@contextlib.contextmanager
def _profiling(backend, directory):
    if backend == "tensorflow":
        import tensorflow as tf

        tf.profiler.experimental.start(directory, tf.profiler.experimental.ProfilerOptions(python_tracer_level=0))
        try:
            yield
        finally:
            tf.profiler.experimental.stop()
        return
    import jax

    options = jax.profiler.ProfileOptions()
    # no Python call events and no HLO protos: kernels / XLA ops only, a small file (where this JAX has the options)
    for name, value in (("python_tracer_level", 0), ("enable_hlo_proto", False)):
        if hasattr(options, name):
            setattr(options, name, value)
    with jax.profiler.trace(directory, profiler_options=options):
        yield


def _device_events(data):
    """(name, start_ns, duration_ns, stream) of every kernel on the first accelerator, or, when the trace
    has no accelerator, of every XLA op the CPU runtime ran and every TensorFlow op ("scope/name:Type")
    TensorFlow's executor threads ran (ops of one step can run side by side there)."""
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
                elif line.name.startswith("tf_Compute") and _is_tensorflow_op(event.name):
                    yield event.name, event.start_ns, event.duration_ns, line.name


def _read_xspace(raw):
    """The XSpace as planes -> lines -> events (name, start_ns, duration_ns, stats), read by JAX where it
    is installed, else by TensorFlow's proto."""
    try:
        from jax.profiler import ProfileData
    except ImportError:
        return _TensorflowXSpace(raw)
    return ProfileData.from_serialized_xspace(raw)


class _TensorflowXSpace:
    """TensorFlow's XSpace proto in the shape of jax.profiler.ProfileData (the parts read here)."""

    def __init__(self, raw):
        from tensorflow.tsl.profiler.protobuf import xplane_pb2

        space = xplane_pb2.XSpace()
        space.ParseFromString(raw)
        self.planes = [self._plane(plane) for plane in space.planes]

    @staticmethod
    def _plane(plane):
        def stat_value(stat):
            field = stat.WhichOneof("value")
            value = getattr(stat, field) if field else None
            return plane.stat_metadata[value].name if field == "ref_value" else value

        def event(line, e):
            stats = [(plane.stat_metadata[st.metadata_id].name, stat_value(st)) for st in e.stats]
            return types.SimpleNamespace(name=plane.event_metadata[e.metadata_id].name, start_ns=line.timestamp_ns + e.offset_ps / 1e3,
                                         duration_ns=e.duration_ps / 1e3, stats=stats)

        lines = [types.SimpleNamespace(name=line.name, events=[event(line, e) for e in line.events]) for line in plane.lines]
        return types.SimpleNamespace(name=plane.name, lines=lines)


_TRANSFER = re.compile(r"Memcpy|Memset", re.I)  # host <-> device copies and fills (GPU)


def _busy_ns(intervals):
    """Length of the union of [start, end) intervals."""
    busy, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            busy += stop - max(start, end)
            end = stop
    return busy


def summarize(xplane_path, steps=1, hlo_path=None):  # an *.xplane.pb, or one gzipped (*.xplane.pb.gz)
    """Per step (totals divided by `steps`): where the device spent the traced steps.

    {"window_ms" (first to last compute event: fit()'s start, before its first step, and its end are
    left out), "busy_ms", "busy_share" (of the window; in the rest no kernel or op ran: a GPU waited on the
    host, a CPU ran the runtime's own work between ops), "ops_ms"
    (the ops' durations summed: above busy_ms where ops ran side by side), "by_kind": {kind: ms},
    "by_op": [(op, kind, ms, calls)], "top": [(name, kind, ms, calls)]}; TensorFlow ops in "top" are
    grouped over repeated blocks (group_name). With `hlo_path`, the step's optimized HLO dumped by XLA,
    "sources" says for each of the "top" kernels it can name which layers it computes and how many bytes
    one call reads and writes (hlo_sources.hlo_kernels), and "convolutions" the cuDNN algorithm XLA picked
    for each convolution (hlo_sources.conv_algorithms)."""
    path = pathlib.Path(xplane_path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    events = list(_device_events(_read_xspace(raw)))
    if not events:
        raise RuntimeError(f"no device kernels, XLA ops or TensorFlow ops in {xplane_path}")
    summary = summarize_events(events, steps)
    if hlo_path:
        from tas_keras.experiments.hlo_sources import conv_algorithms, hlo_kernels, read_hlo

        text = read_hlo(hlo_path)
        kernels = hlo_kernels(text)
        summary["sources"] = {name: kernels[name]._asdict() for name, *_ in summary["top"] if name in kernels}
        summary["convolutions"] = conv_algorithms(text)
    return summary


def summarize_events(events, steps=1):
    """summarize() of (name, start_ns, duration_ns, line) events."""
    # fit() copies its state and first batches to the device before the first step and reads results back
    # after the last: a copy-only lead-in and tail, once per fit() call, that is no step's time
    compute = [(s, s + d) for name, s, d, _ in events if not _TRANSFER.match(name)] or [(s, s + d) for _, s, d, _ in events]
    first, last = min(s for s, _ in compute), max(e for _, e in compute)
    events = [e for e in events if e[1] < last and e[1] + e[2] > first]
    by_name, by_op, by_kind = collections.Counter(), collections.Counter(), collections.Counter()
    name_calls, op_calls, op_kind = collections.Counter(), collections.Counter(), {}
    for name, _, duration, _ in events:
        kind, op, group = kind_of(name), op_of(name), group_name(name)
        by_name[group] += duration
        name_calls[group] += 1
        by_op[op] += duration
        op_calls[op] += 1
        by_kind[kind] += duration
        op_kind[op] = kind
    busy = _busy_ns([(max(s, first), min(s + d, last)) for _, s, d, _ in events])
    window = last - first
    per_step_ms = 1e-6 / steps
    return {
        "steps": steps,
        "window_ms": window * per_step_ms,
        "busy_ms": busy * per_step_ms,
        "busy_share": busy / window if window else 0.0,
        "ops_ms": sum(by_op.values()) * per_step_ms,
        "by_kind": {k: v * per_step_ms for k, v in by_kind.most_common()},
        "by_op": [(op, op_kind[op], total * per_step_ms, op_calls[op] // steps) for op, total in by_op.most_common(40)],
        "top": [(name, kind_of(name), total * per_step_ms, name_calls[name] // steps) for name, total in by_name.most_common(40)],
    }


def format_summary(summary, top=25):
    lines = [f"device time per step: busy {summary['busy_ms']:.2f} ms of a {summary['window_ms']:.2f} ms window "
             f"({100 * summary['busy_share']:.0f}% busy from the first to the last compute op of the traced steps; "
             f"in the rest no op ran: a GPU waited on the host, a CPU ran the runtime between ops)"]
    lines += [f"  {kind:<20}{ms:>9.2f} ms" for kind, ms in summary["by_kind"].items()]
    if summary["ops_ms"] > 1.02 * summary["busy_ms"]:
        lines.append(f"  (ops summed: {summary['ops_ms']:.2f} ms; some ran side by side)")
    for title, rows in (("top ops", summary["by_op"][:top]), ("top kernels / ops", summary["top"][:top])) if top else ():
        lines.append(f"  {title:<70}{'kind':<20}{'ms':>8}{'calls':>7}")
        for name, kind, ms, n in rows:
            lines.append(f"  {_fit(name, 68):<70}{kind:<20}{ms:>8.3f}{n:>7}")
            source = summary.get("sources", {}).get(name) if title == "top kernels / ops" else None
            if source and kind in ("matmul", "convolution"):
                lines.append(f"      from {source['layers']}")
            elif source:  # bytes per call over time per call: how near the memory bandwidth it ran
                rate = source["bytes"] / (ms / max(n, 1) * 1e-3) / 1e9 if ms else 0.0
                lines.append(f"      from {source['layers']}; {source['bytes'] / 2**20:.1f} MiB in + out, {rate:.0f} GB/s")
    return "\n".join(lines)


def _fit(name, width):
    """A TensorFlow op's name keeps its end (the layer and op), a kernel's its start."""
    if len(name) <= width:
        return name
    return "..." + name[3 - width:] if _is_tensorflow_op(name) else name[:width]


def kinds_of(rows):
    """{kind: ms} of (name, ms, ...) rows, e.g. the kernels tools/timm_reference.py --profile-steps lists."""
    kinds = collections.Counter()
    for name, ms, *_ in rows:
        kinds[kind_of(name)] += ms
    return dict(kinds.most_common())


def format_kind_comparison(summary, other_kinds, other_busy_ms, other_label, label="ours"):
    """Our step's device time by kind beside another step's (ms per step), largest difference first; a
    list of the other step's longest kernels only leaves the rest of its busy time as "not listed"."""
    ours = summary["by_kind"]
    unlisted = other_busy_ms - sum(other_kinds.values())
    if unlisted > 0.005 * other_busy_ms:
        other_kinds = {**other_kinds, "not listed": unlisted}
    rows = sorted(set(ours) | set(other_kinds), key=lambda k: -abs(ours.get(k, 0.0) - other_kinds.get(k, 0.0)))
    lines = [f"  {'by kind, ms per step':<22}{label:>12}{other_label:>16}{'difference':>12}"]
    lines += [f"  {kind:<22}{ours.get(kind, 0.0):>12.2f}{other_kinds.get(kind, 0.0):>16.2f}"
              f"{ours.get(kind, 0.0) - other_kinds.get(kind, 0.0):>+12.2f}" for kind in rows]
    lines.append(f"  {'busy':<22}{summary['busy_ms']:>12.2f}{other_busy_ms:>16.2f}{summary['busy_ms'] - other_busy_ms:>+12.2f}")
    return "\n".join(lines)
