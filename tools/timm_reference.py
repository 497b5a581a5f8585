"""The peer our GPU step is measured against: the same KD step in PyTorch + timm (needs torch and timm only).

    python tools/timm_reference.py --precision bf16 --layout channels_last --compile --json timm.json

ConvNeXt-T teacher (frozen, eval mode) -> ResMLP-S12 student at 224x224, 100 classes, CE + KD (T=4), AdamW
(fused on GPU), bf16 autocast; what `python tools/benchmark.py --pair convnext_mlp --method kd --set
precision=mixed_bfloat16` runs with tas_keras. Parts, each the median over --steps after --warmup calls:
teacher forward, the student's own step (CE) and the KD step on a batch already on the device, and the KD
step fed as tas_keras training is fed: a uint8 batch from (pinned) host memory, copied and normalised
in the step (`kd_host_uint8`). --profile-steps N adds the KD step's kernels by device time (torch.profiler),
to set beside `tools/benchmark.py --trace` on the same card. Prints a table and one line `RESULT {json}`.
"""

import json
import sys

import torch
import torch.nn.functional as F

# the same loss, timing, profile and arguments as our plain-PyTorch reference (tools/)
from torch_reference import ArgumentParser, count, kd_loss, profile_kernels, time_calls, write_json


def parse_args(argv):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--teacher", default="convnext_tiny")
    p.add_argument("--student", default="resmlp_12_224")
    p.add_argument("--image-size", type=count(1), default=224)
    p.add_argument("--batch-size", type=count(1), default=128)
    p.add_argument("--classes", type=count(1), default=100)
    p.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    p.add_argument("--layout", choices=["nchw", "channels_last"], default="channels_last")
    p.add_argument("--compile", action="store_true", help="torch.compile teacher and student")
    p.add_argument("--steps", type=count(1), default=20)
    p.add_argument("--warmup", type=count(0), default=3)
    p.add_argument("--profile-steps", type=count(0), default=0, help="profile this many KD steps (torch.profiler): kernels by device time")
    p.add_argument("--json", help="write the results to this JSON file")
    return p.parse_args(argv)


def timed(fn, steps, warmup, batch):
    first, median = time_calls(fn, steps, warmup)
    return {"ms": 1000 * median, "images_per_s": batch / median, "compile_s": max(0.0, first - median)}


def main(argv=None):
    a = parse_args(argv)
    try:
        import timm
    except ImportError:
        sys.exit("timm_reference.py: error: needs timm beside torch (pip install timm); this environment has no timm.")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    layout = torch.channels_last if a.layout == "channels_last" else torch.contiguous_format
    extra = {} if a.image_size == 224 else {"img_size": a.image_size}
    teacher = timm.create_model(a.teacher, num_classes=a.classes).to(device).eval().to(memory_format=layout)
    student = timm.create_model(a.student, num_classes=a.classes, **extra).to(device).train().to(memory_format=layout)
    for p in teacher.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.AdamW(student.parameters(), lr=5e-4, fused=device == "cuda")
    run_teacher, run_student = (torch.compile(teacher), torch.compile(student)) if a.compile else (teacher, student)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=a.precision == "bf16")
    shape = (a.batch_size, 3, a.image_size, a.image_size)
    x = torch.randn(shape, device=device).to(memory_format=layout)
    y = torch.randint(0, a.classes, (a.batch_size,), device=device)
    host = torch.randint(0, 256, (a.batch_size, a.image_size, a.image_size, 3), dtype=torch.uint8)
    host = host.pin_memory() if device == "cuda" else host
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1) * 255
    scale = 1 / (torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1) * 255)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def teacher_forward():
        with torch.no_grad(), autocast:
            run_teacher(x)
        sync()

    def student_step():
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = F.cross_entropy(run_student(x).float(), y)
        loss.backward()
        optimizer.step()
        sync()

    def kd_step(images=None):
        images = x if images is None else images
        with torch.no_grad(), autocast:
            teacher_logits = run_teacher(images)
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            student_logits = run_student(images)
        loss = F.cross_entropy(student_logits.float(), y) + kd_loss(teacher_logits.float(), student_logits.float())
        loss.backward()
        optimizer.step()
        sync()

    def kd_step_host_uint8():
        pixels = host.to(device, non_blocking=True).permute(0, 3, 1, 2).float()
        kd_step(((pixels - mean) * scale).contiguous(memory_format=layout))

    result = {"backend": "torch+timm", "torch": torch.__version__, "timm": timm.__version__, "device": device,
              "device_name": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "precision": a.precision,
              "layout": a.layout, "compile": a.compile, "batch_size": a.batch_size, "image_size": a.image_size,
              "teacher": a.teacher, "student": a.student,
              "student_params": sum(p.numel() for p in student.parameters())}
    for name, fn in (("kd", kd_step), ("kd_host_uint8", kd_step_host_uint8), ("teacher_forward", teacher_forward),
                     ("student_step", student_step)):
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        result[name] = timed(fn, a.steps, a.warmup, a.batch_size)
        if device == "cuda":
            result[name]["device_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(f"{a.teacher} -> {a.student}, {a.image_size}x{a.image_size}, batch {a.batch_size}, {a.precision}, {a.layout}, "
          f"{'torch.compile' if a.compile else 'eager'}, {result['device_name']}")
    for name in ("teacher_forward", "student_step", "kd", "kd_host_uint8"):
        r = result[name]
        print(f"  {name:<16}{r['ms']:>9.1f} ms{r['images_per_s']:>9.0f} img/s   compile {r['compile_s']:.1f} s")
    if a.profile_steps:
        result["kd_profile"] = profile_kernels(kd_step, a.profile_steps, device == "cuda")
        print(f"  KD step profiled ({a.profile_steps} steps): {result['kd_profile']['busy_ms']:.2f} ms of kernel time per step")
        for name, ms, calls in result["kd_profile"]["top"][:25]:
            print(f"    {name[:70]:<72}{ms:>8.3f} ms{calls:>6}")
    print("RESULT " + json.dumps(result), flush=True)
    write_json(a.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
