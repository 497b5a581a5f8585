"""tools/torch_reference.py and tools/timm_reference.py (the PyTorch peers of the speed comparison) run and
report every part. timm is not a dependency here: a stand-in `timm` builds torch_reference's models."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("torch")
ROOT = pathlib.Path(__file__).resolve().parents[2]

FAKE_TIMM = '''
import sys
import torch
sys.path.insert(0, {tools!r})
import torch_reference
__version__ = "stand-in"

class Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x)
        return out["logits"] if isinstance(out, dict) else out

def create_model(name, num_classes, img_size=224):
    if name.startswith("convnext"):
        return Logits(torch_reference.ConvNeXt(num_classes=num_classes))
    return Logits(torch_reference.ResMLP(image_size=img_size, num_classes=num_classes))
'''


def run_tool(args, env=None):
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": "", **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_torch_reference_reports_each_part(tmp_path, precision):
    out = tmp_path / "ref.json"
    stdout = run_tool(["tools/torch_reference.py", "--batch-size", "4", "--steps", "1", "--warmup", "0", "--precision", precision,
                       "--trace", "kd_step", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["precision"] == precision and f"batch 4, {precision}" in stdout and "compiled_graphs" not in report
    assert [run["channels_last"] for run in report["runs"]] == [False, True]  # both layouts unless --layouts says otherwise
    for run in report["runs"]:
        for part in ("teacher_forward", "student_step", "kd_step", "tas_step"):
            assert run[part]["median_s"] > 0
    # --trace: PyTorch's ops of the KD step by own CPU time, the matmuls and GELU among them
    ops = {op["op"]: op for op in report["trace"]["ops"]}
    assert report["trace"]["part"] == "kd_step" and ops["aten::gelu"]["calls"] > 0 and ({"aten::mm", "aten::addmm"} & set(ops))
    assert all(op["ms"] > 0 for op in ops.values()) and "PyTorch's ops by own CPU time" in stdout


def test_torch_reference_compiles_the_models_with_torch_compile(tmp_path):
    out = tmp_path / "ref.json"
    # one layout and one part: compiling is most of this test's time (113 s for both layouts and all four
    # parts on a 2-core Xeon); the KD step's parts compile the teacher and the student only
    stdout = run_tool(["tools/torch_reference.py", "--batch-size", "4", "--steps", "1", "--warmup", "0", "--compile", "--layouts", "nchw",
                       "--parts", "kd_step", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["compile"] is True and "torch.compile" in stdout
    assert [run["channels_last"] for run in report["runs"]] == [False] and "channels_last" not in stdout
    assert report["runs"][0]["kd_step"]["median_s"] > 0 and not {"teacher_forward", "student_step", "tas_step"} & set(report["runs"][0])
    # graphs captured by torch._dynamo: some, and at most one per model called (teacher, student), where
    # recompiling at each of the 2 calls would capture more
    assert 0 < report["compiled_graphs"] <= 2 and f"graphs compiled: {report['compiled_graphs']}" in stdout


@pytest.mark.parametrize("args, expected", [
    (["tools/torch_reference.py", "--size", "paper", "--trace", "tas_step"], "--trace tas_step needs --size micro"),
    (["tools/torch_reference.py", "--size", "paper", "--parts", "tas_step"], "--parts tas_step needs --size micro"),
    (["tools/torch_reference.py", "--parts", "fused_step"], "argument --parts: invalid choice: 'fused_step'"),
    (["tools/torch_reference.py", "--steps", "0"], "argument --steps: expected an integer >= 1; got '0'"),
    (["tools/torch_reference.py", "--layouts", "channels_last", "--trace", "kd_step"], "add nchw to --layouts (got channels_last)"),
    (["tools/timm_reference.py", "--warmup", "-1"], "argument --warmup: expected an integer >= 0; got '-1'"),
    (["tools/timm_reference.py"], "needs timm beside torch (pip install timm)"),
])
def test_the_torch_tools_refuse_bad_input_in_one_line(args, expected):
    if args == ["tools/timm_reference.py"] and importlib.util.find_spec("timm"):
        pytest.skip("timm is installed here")
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and expected in lines[0], proc.stderr


def test_timm_reference_times_the_kd_step_from_the_device_and_from_host_uint8(tmp_path):
    (tmp_path / "timm.py").write_text(FAKE_TIMM.format(tools=str(ROOT / "tools")))
    out = tmp_path / "timm.json"
    stdout = run_tool(["tools/timm_reference.py", "--image-size", "32", "--batch-size", "4", "--steps", "1", "--warmup", "0",
                       "--precision", "fp32", "--profile-steps", "1", "--json", str(out)], env={"PYTHONPATH": str(tmp_path)})
    result = json.loads(out.read_text())
    assert result["timm"] == "stand-in" and result["image_size"] == 32 and result["compile"] is False
    for part in ("teacher_forward", "student_step", "kd", "kd_host_uint8"):
        assert result[part]["ms"] > 0 and result[part]["images_per_s"] > 0
    profile = result["kd_profile"]
    assert profile["busy_ms"] > 0 and profile["top"] and all(ms > 0 for _, ms, _ in profile["top"])
    assert "RESULT " in stdout
