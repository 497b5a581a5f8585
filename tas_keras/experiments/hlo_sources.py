"""Which layers an XLA kernel computes, and how many bytes it reads and writes: read from the compiled
module's HLO text.

A trace names kernels after XLA's fusions ("loop_multiply_fusion_17" on a GPU, "fusion.23" on a CPU), which
say little about what they compute. XLA's dump of the optimized module (`XLA_FLAGS=--xla_dump_to=DIR`,
file `*jit_train_step*after_optimizations.txt`) keeps, for every op inside a fusion, the name JAX gave it:
the Keras layer scope it ran in ("jit(train_step)/jvp(convnext_tiny_features)/stage1_block2/dwconv/mul";
"transpose(...)" marks the backward pass), and the shapes of what the fusion takes and gives. `hlo_kernels`
maps each instruction to a short line built from those names and to those bytes, so a trace summary can
say where a kernel comes from and how far from the memory bandwidth it ran.
"""

import collections
import gzip
import math
import os
import pathlib
import re

_COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s+\(.*\{\s*$")
_INSTRUCTION = re.compile(r"^\s+(?:ROOT\s+)?%?([\w.\-]+)\s+=\s+(.*)$")
_CALLED = re.compile(r"\b(?:calls|to_apply|body|condition|branch_computations|called_computations)=(?:\{([^}]*)\}|(%?[\w.\-]+))")
_OP_NAME = re.compile(r'op_name="([^"]*)"')
_ARRAY = re.compile(r"\b([a-z]+)(\d*)[a-z0-9]*\[([\d,]*)\]")  # "bf16[128,56,56,96]", "pred[]", "f8e4m3fn[4]"
_WRAPPER = re.compile(r"\b(?:jit|pjit|jvp|transpose|vmap|remat|checkpoint|custom_jvp_call|custom_vjp_call)\(([^()]*)\)")

_CUDNN_TARGET = re.compile(r'custom_call_target="__cudnn\$(conv\w*)"')
_ALGO_ID = re.compile(r'"algo_id":"(-?\d+)"')
_WORKSPACE = re.compile(r'"workspace_size":"(\d+)"')
_CONV_KINDS = {"convForward": "forward", "convBiasActivationForward": "forward + bias", "convBackwardInput": "backward data",
               "convBackwardFilter": "backward filter"}

Kernel = collections.namedtuple("Kernel", "layers bytes")  # bytes: its result's plus its operands'
ConvPick = collections.namedtuple("ConvPick", "kind shape engine workspace layers")


def read_hlo(path):
    """The text of an HLO dump, plain or gzipped (*.txt.gz)."""
    path = pathlib.Path(path)
    raw = path.read_bytes()
    return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()


def hlo_kernels(text):
    """{instruction name: Kernel(layers, bytes)} of every instruction of an HLO module's text that names
    its ops: "scope: op, op (backward)" from its own op and those of the computations it calls (a
    fusion's body), and the bytes of its result and operands. Each name is also listed as a GPU kernel
    spells it ("loop_multiply_fusion.17" and "loop_multiply_fusion_17")."""
    own, calls, operands, result_bytes, body = {}, {}, {}, {}, collections.defaultdict(list)
    computation = None
    for line in text.splitlines():
        header = _COMPUTATION.match(line)
        if header:
            computation = header.group(1)
            continue
        instruction = _INSTRUCTION.match(line)
        if not instruction or computation is None:
            continue
        name, rest = instruction.groups()
        result_type, arguments = _split_type(rest)
        op_name = _OP_NAME.search(line)
        own[name] = [op_name.group(1)] if op_name else []
        calls[name] = [called.strip().lstrip("%") for match in _CALLED.finditer(line)
                       for called in (match.group(1) or match.group(2)).split(",") if called.strip()]
        operands[name] = re.findall(r"%([\w.\-]+)", arguments)
        result_bytes[name] = _bytes(result_type)
        body[computation].append(name)

    memo = {}

    def op_names(computation, seen=()):
        if computation not in memo:
            names = []
            for name in body.get(computation, ()):
                names += own[name] + [n for called in calls[name] if called not in seen for n in op_names(called, (*seen, computation))]
            memo[computation] = names
        return memo[computation]

    kernels = {}
    for name in own:
        names = own[name] + [n for called in calls[name] for n in op_names(called)]
        if names:
            traffic = result_bytes[name] + sum(result_bytes.get(operand, 0) for operand in operands[name])
            kernels[name] = kernels[re.sub(r"[.\-]", "_", name)] = Kernel(describe(names), traffic)
    return kernels


def describe(op_names):
    """One line for a kernel's ops: their most common layer scope, its first few op kinds, and whether
    any of them is backward."""
    scopes, ops, backward = collections.Counter(), [], False
    for op_name in op_names:
        backward = backward or "transpose(" in op_name
        scope, op = _scope_and_op(op_name)
        scopes[scope] += 1
        if op not in ops:
            ops.append(op)
    scope = scopes.most_common(1)[0][0] or "(no layer)"
    return f"{scope}: {', '.join(ops[:4])}{', ...' if len(ops) > 4 else ''}{' (backward)' if backward else ''}"


def _scope_and_op(op_name):
    """("model/block/layer", "op") of a JAX op name: jit(train_step)/transpose(jvp(model))/block/layer/op."""
    path = op_name
    while True:
        unwrapped = _WRAPPER.sub(r"\1", path)
        if unwrapped == path:
            break
        path = unwrapped
    scope, _, op = path.removeprefix("train_step/").rpartition("/")
    return scope, op


def conv_algorithms(text):
    """The cuDNN algorithm XLA's autotuner picked for each convolution of an HLO module, grouped:
    [ConvPick(kind, shape, engine, workspace, layers)], one per (kind, output shape, engine, workspace),
    in the module's order. XLA picks once per distinct convolution (shape and kind) by timing each
    candidate alone, so a pick that is slow inside the step shows here with its workspace size."""
    picks = {}
    for line in text.splitlines():
        target = _CUDNN_TARGET.search(line)
        instruction = _INSTRUCTION.match(line)
        if not target or not instruction:
            continue
        result_type = _split_type(instruction.group(2))[0]
        shape = _ARRAY.search(result_type)
        engine, workspace = _ALGO_ID.search(line), _WORKSPACE.search(line)
        op_name = _OP_NAME.search(line)
        key = (_CONV_KINDS.get(target.group(1), target.group(1)), shape.group(0) if shape else "?",
               int(engine.group(1)) if engine else None, int(workspace.group(1)) if workspace else 0)
        layer = "(no layer)"
        if op_name:
            layer = _scope_and_op(op_name.group(1))[0] + (" (backward)" if "transpose(" in op_name.group(1) else "")
        picks.setdefault(key, []).append(layer)
    return [ConvPick(*key, layers) for key, layers in picks.items()]


def format_conv_algorithms(picks):
    """The table of `conv_algorithms`: one line per pick, its layers as first .. last (count)."""
    if not picks:
        return "cuDNN convolutions: none in this module"
    lines = ["cuDNN convolutions (XLA's autotuned pick per shape):",
             f"  {'kind':<16}{'output':<24}{'engine':>7}{'workspace MiB':>15}  layers"]
    for pick in picks:
        first, last = pick.layers[0], pick.layers[-1]
        shared = len(os.path.commonprefix([first.split("/"), last.split("/")]))  # a/b/c .. a/d/c -> a/b/c .. d/c
        layers = first if len(pick.layers) == 1 else f"{first} .. {'/'.join(last.split('/')[shared:])} ({len(pick.layers)})"
        engine = "?" if pick.engine is None else pick.engine
        lines.append(f"  {pick.kind:<16}{pick.shape:<24}{engine:>7}{pick.workspace / 2**20:>15.1f}  {layers}")
    return "\n".join(lines)


def _split_type(rest):
    """("bf16[8,4]{1,0}", "fusion(%a, %b), kind=...") of an instruction's text after "name = "; a tuple
    type "(f32[], s32[])" is kept whole."""
    if rest.startswith("("):
        depth = 0
        for i, char in enumerate(rest):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                return rest[:i + 1], rest[i + 1:]
    result_type, _, arguments = rest.partition(" ")
    return result_type, arguments.split("),", 1)[0]  # the operands, not the attributes after them


def _bytes(type_text):
    """Bytes of the arrays a type names: "bf16[128,56]" is 128 * 56 * 2; pred counts one byte."""
    total = 0
    for kind, bits, dims in _ARRAY.findall(type_text):
        size = max(int(bits) // 8, 1) if bits else 1
        total += size * math.prod(int(d) for d in dims.split(",") if d)
    return total
