"""XLA's GPU autotuning results, as text: which cuDNN algorithm each depthwise convolution got, and a copy
with one algorithm for all of them.

XLA times every candidate algorithm of each distinct convolution once per process and keeps the fastest.
On an H200 that pick for ConvNeXt-T's stage-3 depthwise convolutions varied between processes, and one of
the picks cost ~7 ms per KD step (README, the second GPU run). XLA writes its results with
`XLA_FLAGS=--xla_gpu_dump_autotune_results_to=FILE.textproto` and reads them back, instead of timing
again, with `--xla_gpu_load_autotune_results_from=FILE.textproto`. `pin_depthwise` rewrites such a file so
that every depthwise forward convolution takes the algorithm of one that needs no workspace: loading it
measures a step with that pick and nothing else changed.

The file is a text-format `AutotuneResults` proto in one of two forms. XLA's older autotuning writes
`results { device: "..." hlo: "<the convolution>" result { ... algorithm { algo_id: N ... workspace_size
{ value: B } } } }` per tuned instruction. Its newer autotuner (JAX 0.11.2 on the H200, 2026-12-04) writes
`entries { key { target { device hlo_fingerprint } ... } value { optimal_config { backend: CUDNN
backend_config { algorithm { ... } } } } }`: the instruction by fingerprint alone, so which entries are
depthwise convolutions is read from the autotuning log of the same process
(`--xla_gpu_dump_autotune_logs_to`), whose `instruction_profiles` give each fingerprint's HLO and every
candidate's time. This module edits both as text (no protobuf schema needed), skipping over quoted
strings, whose HLO holds braces.
"""

import collections
import re

_HLO = re.compile(r'\bhlo:\s*"((?:[^"\\]|\\.)*)"')
_HLO_TEXT = re.compile(r'\bhlo_text:\s*"((?:[^"\\]|\\.)*)"')
_FINGERPRINT = re.compile(r'\bhlo_fingerprint:\s*"(\w+)"')
_METADATA_OP_NAME = re.compile(r'op_name=\\"((?:[^"\\]|\\[^"])*)\\"')  # inside a quoted HLO: op_name=\"...\"
_GROUPS = re.compile(r"feature_group_count=(\d+)")
_SHAPE = re.compile(r"\b[a-z]+\d*\[[\d,]*\]")
_ALGO_ID = re.compile(r"\balgo_id:\s*(-?\d+)")
_WORKSPACE = re.compile(r"\bworkspace_size\s*\{\s*value:\s*(\d+)")

DepthwiseResult = collections.namedtuple("DepthwiseResult", "shape engine workspace start end")  # start, end: its result block


def depthwise_results(text, log=None):
    """[DepthwiseResult] for each depthwise forward convolution (cuDNN, more than one group) in a text-format
    AutotuneResults: its output shape, the engine and workspace picked, and where the block that holds the
    pick is (`result { }`, or `optimal_config { }` in the newer form, which needs `log`, the text of the
    same process's autotuning log, to know the instructions: ValueError without it)."""
    found = []
    for entry, hlo, block in _picks(text, log):
        if "__cudnn$convForward" not in hlo or _number(_GROUPS, hlo, 1) < 2 or block is None:
            continue
        start, end = block
        result = text[start:end]
        shape = _SHAPE.search(hlo)
        engine = _number(_ALGO_ID, result, 0 if "algorithm" in result else None)  # proto3 leaves algo_id 0 out
        found.append(DepthwiseResult(shape.group(0) if shape else "?", engine, _number(_WORKSPACE, result, 0), start, end))
    return found


def _picks(text, log):
    """(entry block, its instruction's HLO, the block holding its pick) for each tuned instruction, in
    either form of AutotuneResults."""
    for entry in _blocks(text, "results", 0, len(text)):
        hlo = _HLO.search(text, *entry)
        if hlo:
            yield entry, hlo.group(1), next(_inside(text, entry, "result"), None)
    entries = list(_blocks(text, "entries", 0, len(text)))
    if not entries:
        return
    if log is None:
        raise ValueError("these autotuning results name each instruction by fingerprint alone (XLA's newer autotuner); "
                         "give the autotuning log of the same process (--xla_gpu_dump_autotune_logs_to) to know them")
    instructions = logged_instructions(log)
    for entry in entries:
        fingerprint = _FINGERPRINT.search(text, *entry)
        value = next(_inside(text, entry, "value"), None)
        if fingerprint and fingerprint.group(1) in instructions and value is not None:
            yield entry, instructions[fingerprint.group(1)], next(_inside(text, value, "optimal_config"), None)


def logged_instructions(log):
    """{hlo fingerprint: HLO text} for each instruction in the newer autotuner's text-format log."""
    found = {}
    for profile in _blocks(log, "instruction_profiles", 0, len(log)):
        fingerprint, hlo = _FINGERPRINT.search(log, *profile), _HLO_TEXT.search(log, *profile)
        if fingerprint and hlo:
            found[fingerprint.group(1)] = hlo.group(1)
    return found


def pin_depthwise(text, log=None):
    """(new text, [DepthwiseResult changed]): every depthwise forward convolution that needs a workspace
    takes the block that holds the pick (the algorithm) of the first one that needs none. Nothing changes
    when all need none, or none does. `log`: as for depthwise_results."""
    results = depthwise_results(text, log)
    donor = next((r for r in results if r.workspace == 0 and r.engine is not None), None)
    changed = [r for r in results if r.workspace > 0]
    if donor is None or not changed:
        return text, []
    pinned = text[donor.start:donor.end]
    for r in sorted(changed, key=lambda r: r.start, reverse=True):  # from the end, so earlier offsets hold
        text = text[:r.start] + pinned + text[r.end:]
    return text, changed


def _blocks(text, name, start, end):
    """(start, end) of each `name { ... }` block directly inside text[start:end], braces inside quoted
    strings skipped."""
    depth, i, block_start = 0, start, None
    opening = re.compile(r"\b" + re.escape(name) + r"\s*\{")
    while i < end:
        char = text[i]
        if char == '"':
            i = _string_end(text, i)
            continue
        if char == "{":
            if depth == 0 and block_start is None:
                match = opening.match(text, _word_start(text, i))
                if match and match.end() == i + 1:
                    block_start = match.start()
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0 and block_start is not None:
                yield block_start, i + 1
                block_start = None
        i += 1


def _string_end(text, quote):
    """The index after the string that opens at text[quote]."""
    i = quote + 1
    while i < len(text) and text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _word_start(text, brace):
    """Where the field name before the brace at text[brace] starts ("result {" -> the r)."""
    i = brace - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    while i >= 0 and (text[i].isalnum() or text[i] == "_"):
        i -= 1
    return i + 1


_OP_NAME = re.compile(r'\bop_name:\s*"((?:[^"\\]|\\.)*)"')
_RUN_TIME = re.compile(r"\brun_time\s*\{([^}]*)\}")
_SECONDS = re.compile(r"\bseconds:\s*(\d+)")
_NANOS = re.compile(r"\bnanos:\s*(\d+)")
_FAILURE_KIND = re.compile(r"\bfailure\s*\{[^}]*?\bkind:\s*(\w+)")
_SCRATCH = re.compile(r"\bscratch_bytes:\s*(\d+)")

# ms None for a failed one; config: its settings (engine, knobs) as one line, the same candidate in another log
Candidate = collections.namedtuple("Candidate", "engine workspace ms failure config")


def logged_convolutions(text):
    """[(op name, [Candidate])] for each cuDNN convolution in XLA's text-format autotuning log
    (`--xla_gpu_dump_autotune_logs_to=FILE.textproto`), candidates fastest first, failed ones last. Two
    forms: one `logs { instr { ... } results { ... } ... }` per tuned instruction, `instr` packing the
    instruction itself or a ConvInstructionLog around it; or, as JAX 0.11.2's autotuner writes it,
    `instruction_profiles { hlo_fingerprint config_profiles { config run_time scratch_bytes } ... hlo_text }`."""
    found = _profiled_convolutions(text)
    for log in _blocks(text, "logs", 0, len(text)):
        if "__cudnn$conv" not in text[slice(*log)]:
            continue
        op_name = _OP_NAME.search(text, *log)
        candidates = []
        for result_block in _inside(text, log, "results"):
            result = text[slice(*result_block)]
            ms, failure = _timing(result)
            workspace = _number(_WORKSPACE, result)
            candidates.append(Candidate(_number(_ALGO_ID, result), workspace if workspace is not None else _number(_SCRATCH, result, 0), ms,
                                        failure, _one_line(text, next(_inside(text, result_block, "algorithm"), None))))
        candidates.sort(key=lambda c: (c.ms is None, c.ms or 0))
        found.append((op_name.group(1) if op_name else "?", candidates))
    return found


def _profiled_convolutions(text):
    """logged_convolutions for the `instruction_profiles` form."""
    found = []
    for profile in _blocks(text, "instruction_profiles", 0, len(text)):
        hlo = _HLO_TEXT.search(text, *profile)
        if not hlo or "__cudnn$conv" not in hlo.group(1):
            continue
        op_name = _METADATA_OP_NAME.search(hlo.group(1))
        candidates = []
        for block in _inside(text, profile, "config_profiles"):
            candidate = text[slice(*block)]
            ms, failure = _timing(candidate)
            if ms is None and failure is None:  # this form logs no time for a candidate it could not run
                failure = "UNKNOWN"
            candidates.append(Candidate(_number(_ALGO_ID, candidate, 0), _number(_SCRATCH, candidate, 0), ms,
                                        failure, _one_line(text, next(_inside(text, block, "config"), None))))
        candidates.sort(key=lambda c: (c.ms is None, c.ms or 0))
        found.append((op_name.group(1) if op_name else "?", candidates))
    return found


def _timing(block):
    """(ms, failure kind) of one logged candidate: ms None where it failed or logs no time; the kind None
    unless it failed ("UNKNOWN" where the log names none)."""
    if "failure" in block:
        failure = _FAILURE_KIND.search(block)
        return None, failure.group(1) if failure else "UNKNOWN"
    run_time = _RUN_TIME.search(block)
    if not run_time:
        return None, None
    return _number(_SECONDS, run_time.group(1), 0) * 1e3 + _number(_NANOS, run_time.group(1), 0) / 1e6, None


def timed_apart(log, other, factor=2.0):
    """[(op name, Candidate here, Candidate there)] for each candidate of a cuDNN convolution that two
    autotuning logs (two processes, the same step) both timed, `factor` or more apart: what made one
    process pick differently from the other."""
    there = {name: {c.config: c for c in candidates} for name, candidates in logged_convolutions(other)}
    found = []
    for name, candidates in logged_convolutions(log):
        for c in candidates:
            d = there.get(name, {}).get(c.config)
            if d is not None and c.ms and d.ms and max(c.ms, d.ms) >= factor * min(c.ms, d.ms):
                found.append((name, c, d))
    return found


def _one_line(text, block):
    """A block's text with its whitespace collapsed ("" for none)."""
    return " ".join(text[slice(*block)].split()) if block else ""


def _number(pattern, text, default=None):
    """The integer `pattern`'s first group matches in `text`, or `default`."""
    match = pattern.search(text)
    return int(match.group(1)) if match else default


def _inside(text, block, name):
    """The `name { ... }` blocks directly inside `block`, the (start, end) of another block in `text`."""
    start, end = block
    return _blocks(text, name, text.index("{", start) + 1, end - 1)
