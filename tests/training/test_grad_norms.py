"""tools/grad_norms.py and the per-term gradient norms behind it."""

import json

import keras
import numpy as np
import pytest

import tas_keras
from tas_keras.diagnostics import format_table, loss_gradient_norms
from tests.distill.pairs import tiny, tiny_data

from .tool_runs import in_process, tool


def norms_for(branch_grad_scale):
    keras.utils.set_random_seed(1)
    distiller = tas_keras.Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", branch_grad_scale=branch_grad_scale)
    x, y = tiny_data()
    return loss_gradient_norms(distiller, [(x, y)])


def test_assistant_terms_reach_only_the_shared_weights_and_scale_with_branch_grad_scale():
    (full, meta), (half, _) = norms_for(1.0), norms_for(0.5)
    assert set(full) == {"loss_ce", "loss_kd", "loss_nce", "loss_akd", "loss_ace"}
    assert 0 < meta["shared_weights"] < meta["student_weights"]
    for term in ("loss_nce", "loss_akd", "loss_ace"):  # the assistant's terms train only the shared stages
        assert full[term]["grad_all"] == pytest.approx(full[term]["grad_shared"], rel=1e-6)
        assert half[term]["grad_shared"] == pytest.approx(0.5 * full[term]["grad_shared"], rel=1e-4)
    for term in ("loss_ce", "loss_kd"):  # the student's own terms are untouched
        assert half[term]["grad_all"] == pytest.approx(full[term]["grad_all"], rel=1e-5)
        assert full[term]["grad_all"] > full[term]["grad_shared"] > 0
    table = format_table(full)
    assert "| loss_nce |" in table and "1.00x" in table


def test_cli_prints_the_table_and_writes_json(tmp_path, capsys):
    teacher = tas_keras.create_model("convnext_micro", num_classes=10)
    teacher.save(tmp_path / "teacher.keras")
    out = tmp_path / "norms.json"
    args = ["--pair", "convnext_mlp", "--profile", "small", "--teacher", str(tmp_path / "teacher.keras"),
            "--batches", "1", "--batch-size", "16", "--method", "tas_branch", "--set", "distiller.branch_grad_scale=0.1", "--json", str(out)]
    result = in_process(capsys, tool("grad_norms"), *args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| loss_nce |" in result.stdout and "student weights are trained by every term" in result.stdout
    data = json.loads(out.read_text())
    assert data["options"] == {"branch_grad_scale": 0.1} and np.isfinite(data["norms"]["loss_nce"]["grad_shared"])
    bad = in_process(capsys, tool("grad_norms"), *args[:-2], "--teacher", str(tmp_path / "missing.keras"))
    assert bad.returncode == 2 and "missing.keras" in bad.stderr
