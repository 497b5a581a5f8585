"""The same distillation steps written directly in PyTorch, to compare speed on the same machine.

    python tools/torch_reference.py --batch-size 128 --steps 30 --json torch_ref.json
    python tools/benchmark.py --pair convnext_mlp --profile small --method tas --batch-size 128 --steps 30 --xla off
    python tools/torch_reference.py --size paper --batch-size 32 --steps 10
    python tools/benchmark.py --pair convnext_mlp --set teacher.name=convnext_atto --set student.overrides.patch_size=4 \
        --image-size 32 --batch-size 32 --method kd --steps 10 --xla off

--size micro (default): pair convnext_mlp at its `small` size: ConvNeXt (depths 1-1-2-1, dims 32-64-128-256) -> ResMLP (patch 4,
dim 64, 4 blocks) at 32x32, 10 classes, written as timm writes them (parameter counts checked equal to
tas_keras' convnext_micro / resmlp_micro_patch4_32), plus TAS's hybrid assistant on the student's S2
tokens (attention, depthwise 7x7 conv and MLP modules; 2x2 stride-2 downsampling to the teacher's 1x1
grid; 256 wide) with InfoNCE on projected, pooled features, KD (T=4) and CE. Parts measured as in
tools/benchmark.py: teacher forward, the student's own step (CE), the KD step and the TAS step; AdamW;
median over --steps after --warmup.
--size paper: the paper's student at full size on 32x32 inputs, ConvNeXt-atto (depths 2-2-6-2, dims
40-80-160-320) -> ResMLP-S12 on 4x4 patches (dim 384, 12 blocks, 64 tokens), parameter counts equal to
tas_keras' convnext_atto / resmlp_12_224 with patch_size=4 at 32x32; teacher forward, student step and
KD step (the assistant is only built at the micro size). Plain PyTorch needs no tas_keras, keras or TensorFlow (torch only).
--compile: the models through torch.compile (Inductor: generated CPU code that fuses the elementwise work around the
matmuls; the optimizer steps stay eager, as in tools/timm_reference.py); the first call of each part compiles
(`first_s` in the JSON).
--layouts: the memory layouts timed, NCHW and channels_last by default (models of their own for each).
--parts: the parts timed, all of the size's parts by default (under --compile only the models those parts call
are compiled: `--parts kd_step` compiles the teacher and the student).
--trace PART: after the timings, --steps more calls of that part (NCHW) under torch.profiler, and PyTorch's
ops by their own CPU time per step, to set beside `tools/benchmark.py --trace` (TensorFlow's ops).
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

LAYOUTS = ("nchw", "channels_last")
PARTS = ("teacher_forward", "student_step", "kd_step", "tas_step")


class ArgumentParser(argparse.ArgumentParser):
    """One-line usage errors, as tas_keras.cli.common.ArgumentParser's (this tool needs torch only)."""

    def __init__(self, **kwargs):
        super().__init__(formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def count(minimum):
    """An argparse type: an integer >= minimum (tas_keras.cli.common.count; this tool needs torch only)."""

    def parse(text):
        if not text.lstrip("-").isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}; got {text!r}")
        return int(text)

    return parse


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over channels of an NCHW map (timm's LayerNorm2d)."""

    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim, ls_init=1e-6):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(ls_init * torch.ones(dim))

    def forward(self, x):
        y = self.conv_dw(x).permute(0, 2, 3, 1)
        y = self.gamma * self.fc2(F.gelu(self.fc1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    def __init__(self, depths=(1, 1, 2, 1), dims=(32, 64, 128, 256), num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0], eps=1e-6))
        self.stages = nn.ModuleList()
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            down = [] if i == 0 else [LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, stride=2)]
            self.stages.append(nn.Sequential(*down, *[ConvNeXtBlock(dim) for _ in range(depth)]))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return {"S4": x, "logits": self.head(self.norm(x.mean((2, 3))))}


class Affine(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.alpha, self.beta = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return self.alpha * x + self.beta


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class ResBlock(nn.Module):
    def __init__(self, dim, tokens, ls_init=1e-4):
        super().__init__()
        self.norm1, self.norm2 = Affine(dim), Affine(dim)
        self.linear_tokens = nn.Linear(tokens, tokens)
        self.mlp_channels = Mlp(dim, 4 * dim)
        self.ls1, self.ls2 = nn.Parameter(ls_init * torch.ones(dim)), nn.Parameter(ls_init * torch.ones(dim))

    def forward(self, x):
        x = x + self.ls1 * self.linear_tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.ls2 * self.mlp_channels(self.norm2(x))


class ResMLP(nn.Module):
    def __init__(self, image_size=32, patch=4, dim=64, depth=4, num_classes=10, branch=2):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, patch, stride=patch)
        self.blocks = nn.ModuleList(ResBlock(dim, (image_size // patch) ** 2) for _ in range(depth))
        self.norm, self.head, self.branch = Affine(dim), nn.Linear(dim, num_classes), branch

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        out = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i + 1 == self.branch:
                out[f"S{self.branch}"] = x
        out["logits"] = self.head(self.norm(x).mean(1))
        return out


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):  # (B, N, C)
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c))


class HybridBlock(nn.Module):
    """Pre-norm residual attention / depthwise conv / MLP modules on an NHWC map (tas_keras' HybridBlock)."""

    def __init__(self, dim, modules=("attn", "conv", "mlp")):
        super().__init__()
        heads = max(1, dim // 32)
        make = {"attn": lambda: Attention(dim, heads), "conv": lambda: nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
                "mlp": lambda: Mlp(dim, 4 * dim)}
        self.kinds = list(modules)
        self.norms = nn.ModuleList(nn.LayerNorm(dim, eps=1e-6) for _ in modules)
        self.mixers = nn.ModuleList(make[m]() for m in modules)

    def forward(self, x):  # (B, H, W, C)
        b, h, w, c = x.shape
        for kind, norm, mixer in zip(self.kinds, self.norms, self.mixers):
            y = norm(x)
            if kind == "attn":
                y = mixer(y.reshape(b, h * w, c)).reshape(b, h, w, c)
            elif kind == "conv":
                y = mixer(y.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            else:
                y = mixer(y)
            x = x + y
        return x


class Assistant(nn.Module):
    """Student S2 tokens (8x8x64) -> 1x1 stem -> blocks with 2x2 stride-2 downsampling to the teacher's
    grid -> {"features", "logits"}, as tas_keras.assistant.build_assistant builds it for this pair."""

    def __init__(self, in_dim=64, side=8, target_side=1, target_dim=256, num_classes=10):
        super().__init__()
        downsamples = int(math.log2(side // target_side))
        widths = [max(16, target_dim // 2 ** (downsamples - s)) for s in range(downsamples + 1)]
        self.side, self.stem = side, nn.Linear(in_dim, widths[0])
        self.downs, self.blocks = nn.ModuleList(), nn.ModuleList()
        for s, width in enumerate(widths):
            self.downs.append(nn.Identity() if s == 0 else nn.Sequential(LayerNorm2d(widths[s - 1], eps=1e-6), nn.Conv2d(widths[s - 1], width, 2, stride=2)))
            self.blocks.append(HybridBlock(width))
        self.norm, self.head = nn.LayerNorm(widths[-1], eps=1e-6), nn.Linear(widths[-1], num_classes)

    def forward(self, tokens):
        x = self.stem(tokens).reshape(tokens.shape[0], self.side, self.side, -1)
        for s, (down, block) in enumerate(zip(self.downs, self.blocks)):
            if s:
                x = down(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            x = block(x)
        return {"features": x, "logits": self.head(self.norm(x.mean((1, 2))))}


def kd_loss(teacher_logits, student_logits, t=4.0):
    return F.kl_div(F.log_softmax(student_logits / t, -1), F.log_softmax(teacher_logits / t, -1), reduction="batchmean", log_target=True) * t * t


def info_nce(query, key, temperature=0.07):
    logits = F.normalize(query, dim=-1) @ F.normalize(key, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(query.shape[0]))


SIZES = {  # (teacher kwargs, student kwargs)
    "micro": ({}, {}),
    "paper": ({"depths": (2, 2, 6, 2), "dims": (40, 80, 160, 320)}, {"dim": 384, "depth": 12}),
}


class Steps:
    def __init__(self, channels_last=False, size="micro", bfloat16=False, compiled=False):
        torch.manual_seed(0)
        self.bfloat16 = bfloat16
        teacher_kwargs, student_kwargs = SIZES[size]
        self.teacher, self.student = ConvNeXt(**teacher_kwargs).eval(), ResMLP(**student_kwargs)
        self.scratch = ResMLP(**student_kwargs)
        self.assistant, self.query, self.key = Assistant(), nn.Linear(256, 256), nn.Linear(256, 256)
        if channels_last:
            for m in (self.teacher, self.student, self.scratch, self.assistant):
                m.to(memory_format=torch.channels_last)
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        if compiled:  # the models' forward (and, through AOTAutograd, backward) passes; the optimizer steps stay eager
            self.teacher, self.student, self.scratch, self.assistant = map(torch.compile, (self.teacher, self.student, self.scratch, self.assistant))
        trainable = [*self.student.parameters(), *self.assistant.parameters(), *self.query.parameters(), *self.key.parameters()]
        self.tas_opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.004)
        self.kd_opt = torch.optim.AdamW(self.student.parameters(), lr=1e-4, weight_decay=0.004)
        self.scratch_opt = torch.optim.AdamW(self.scratch.parameters(), lr=1e-4, weight_decay=0.004)

    def compute(self):
        """Forward passes and losses in bfloat16 with float32 weights and updates under --precision bf16
        (PyTorch's autocast, the counterpart of Keras' mixed_bfloat16 policy)."""
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16)

    def teacher_forward(self, x):
        with torch.no_grad(), self.compute():
            return self.teacher(x)

    def scratch_step(self, x, y):
        with self.compute():
            loss = F.cross_entropy(self.scratch(x)["logits"], y)
        self.scratch_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.scratch_opt.step()
        return loss

    def kd_step(self, x, y):
        t = self.teacher_forward(x)
        with self.compute():
            s = self.student(x)
            loss = F.cross_entropy(s["logits"], y) + kd_loss(t["logits"], s["logits"])
        self.kd_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.kd_opt.step()
        return loss

    def tas_step(self, x, y):
        t = self.teacher_forward(x)
        with self.compute():
            s = self.student(x)
            a = self.assistant(s["S2"])
            keys = self.key(t["S4"].mean((2, 3)))
            loss = (F.cross_entropy(s["logits"], y) + kd_loss(t["logits"], s["logits"])
                    + info_nce(self.query(a["features"].mean((1, 2))), keys)
                    + 0.5 * kd_loss(t["logits"], a["logits"]) + 0.5 * F.cross_entropy(a["logits"], y))
        self.tas_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.tas_opt.step()
        return loss


def time_calls(fn, steps, warmup):
    """(seconds of the first call, median seconds per call over `steps` calls after `warmup` more).
    tas_keras.experiments.timing has the same loop, but importing it loads Keras and TensorFlow into
    the process that times PyTorch, which this tool runs without."""
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
    return first, statistics.median(times)


def profile_kernels(fn, steps, cuda):
    """Per-step device time (ms) and calls of every kernel (GPU) or operator (CPU) `steps` calls of fn run,
    longest first (all of them: tools/trace_summary.py --compare sums them by kind)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            fn()
    rows = []
    for e in prof.key_averages():
        if cuda and e.device_type != torch.autograd.DeviceType.CUDA:
            continue
        us = (getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)) if cuda else e.self_cpu_time_total
        if us > 0:
            rows.append((e.key, us / 1000 / steps, e.count // steps))
    rows.sort(key=lambda r: -r[1])
    return {"steps": steps, "busy_ms": sum(r[1] for r in rows), "top": rows}


def main(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--batch-size", type=count(1), default=128)
    p.add_argument("--steps", type=count(1), default=30)
    p.add_argument("--warmup", type=count(0), default=3)
    p.add_argument("--size", choices=sorted(SIZES), default="micro", help="micro: the small profile's pair; paper: ConvNeXt-atto -> ResMLP-S12 (KD only)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: forward passes and losses under torch.autocast(bfloat16), as tools/benchmark.py's --set precision=mixed_bfloat16 (tools/timm_reference.py spells it the same)")
    p.add_argument("--compile", action="store_true", help="torch.compile the models (Inductor's CPU code: fused elementwise kernels)")
    p.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=list(LAYOUTS),
                   help="memory layouts to time, each with models of its own (under --compile, each compiles its own graphs)")
    p.add_argument("--parts", nargs="+", choices=PARTS, help="parts to time (default: all of the size's parts)")
    p.add_argument("--trace", choices=PARTS,
                   help="profile --steps calls of this part (NCHW) with torch.profiler and print PyTorch's ops by their own CPU time")
    p.add_argument("--json")
    args = p.parse_args(argv)
    for flag, named in (("--trace", [args.trace]), ("--parts", args.parts or [])):
        if "tas_step" in named and args.size != "micro":
            p.error(f"{flag} tas_step needs --size micro (the assistant is only built at that size)")
    parts = [part for part in PARTS if part in (args.parts or PARTS) and (part != "tas_step" or args.size == "micro")]
    if args.trace and "nchw" not in args.layouts:
        p.error(f"--trace profiles the NCHW models: add nchw to --layouts (got {' '.join(args.layouts)})")
    batch = args.batch_size
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "batch_size": batch, "size": args.size,
              "precision": args.precision, "compile": args.compile, "runs": []}
    for channels_last in [layout == "channels_last" for layout in LAYOUTS if layout in args.layouts]:
        steps = Steps(channels_last, args.size, bfloat16=args.precision == "bf16", compiled=args.compile)
        counts = {"teacher": sum(p.numel() for p in steps.teacher.parameters()), "student": sum(p.numel() for p in steps.student.parameters())}
        xs = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        run = {"channels_last": channels_last, "params": counts}
        calls = {"teacher_forward": lambda: steps.teacher_forward(xs), "student_step": lambda: steps.scratch_step(xs, y),
                 "kd_step": lambda: steps.kd_step(xs, y), "tas_step": lambda: steps.tas_step(xs, y)}
        for name in parts:
            fn = calls[name]
            first, median = time_calls(fn, args.steps, args.warmup)
            run[name] = {"median_s": median, "images_per_s": batch / median, "first_s": first}
        if args.trace and not channels_last:
            rows = profile_kernels(calls[args.trace], args.steps, cuda=False)["top"]
            report["trace"] = {"part": args.trace, "ops": [{"op": op, "ms": ms, "calls": n} for op, ms, n in rows]}
        run["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        report["runs"].append(run)
    if args.compile:  # graphs torch.compile captured, all parts and layouts: a recompile would show here
        from torch._dynamo.utils import counters

        report["compiled_graphs"] = int(counters["stats"]["unique_graphs"])
    pair = {"micro": "convnext_micro -> resmlp_micro", "paper": "convnext_atto -> resmlp_12 (patch 4)"}[args.size]
    mode = "torch.compile" if args.compile else "eager"
    print(f"\nPyTorch {report['torch']} ({report['threads']} threads, {mode}), {pair} at 32x32, batch {batch}, {args.precision}")
    print(f"{'layout':<15}{'part':<17}{'ms/step':>9}{'img/s':>9}")
    for run in report["runs"]:
        for part in parts:
            print(f"{'channels_last' if run['channels_last'] else 'NCHW':<15}{part:<17}{1000 * run[part]['median_s']:>9.1f}{run[part]['images_per_s']:>9.0f}")
    print(f"parameters: teacher {report['runs'][0]['params']['teacher']:,}, student {report['runs'][0]['params']['student']:,}")
    if args.compile:
        print(f"graphs compiled: {report['compiled_graphs']}")
    if args.trace:
        ops = report["trace"]["ops"]
        print(f"\n{args.trace} (NCHW), PyTorch's ops by own CPU time per step: {sum(op['ms'] for op in ops):.1f} ms in all")
        print("\n".join(f"  {op['op']:<40}{op['ms']:>9.2f} ms{op['calls']:>7} calls" for op in ops[:25]))
    write_json(args.json, report)
    return 0


def write_json(path, report):
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
