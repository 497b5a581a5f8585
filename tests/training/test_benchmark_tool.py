"""tools/benchmark.py runs and reports every part of the step (numbers are measured, not asserted)."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_benchmark_reports_the_step_breakdown(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--pair", "convnext_mlp", "--profile", "small",
         "--method", "kd", "--batch-size", "16", "--steps", "2", "--warmup", "0", "--xla", "off", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    for part in ("teacher_forward", "student_step", "distill_step"):
        assert run[part]["median_s"] > 0 and run[part]["images_per_s"] > 0 and run[part]["peak_rss_mib"] > 0
    assert report["gflops_per_batch"]["teacher_forward"] > 0 and report["gflops_per_batch"]["student_forward"] > 0
    assert report["input_pipeline_images_per_s"] > 0
    assert "distill_step" in proc.stdout and "overhead" in proc.stdout
