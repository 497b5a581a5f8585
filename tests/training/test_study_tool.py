"""tools/study.py: variants x pairs x seeds with one shared teacher, tables + plot, reuse and conflicts."""

import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from tas_keras.atomic import atomic_json
from tas_keras.data import build_dataset
from tas_keras.errors import TrainingDiverged
from tas_keras.experiments.floor import logistic_regression_top1
from tas_keras.experiments.report import aggregate, comparison_table, markdown_table, paired_differences, write_report
from tas_keras.experiments.study import LOCK, Variant, claim, release, run_study, study_config, with_machine
from tas_keras.training.config import ConfigError, save_config
from tas_keras.training.runner import DIVERGED, evaluate

from .tool_runs import in_process, tool

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_variants_parse_methods_options_and_pairs():
    assert Variant.parse("kd") == Variant("kd", "kd")
    v = Variant.parse("mixer_resnet/tas_conv=tas_branch:modules=[conv, mlp]:w_nce=0.5")
    assert (v.name, v.method, v.pairs) == ("tas_conv", "tas_branch", ("mixer_resnet",))
    assert v.option_dict() == {"modules": ["conv", "mlp"], "w_nce": 0.5}
    assert v.overrides() == ["distiller.method=tas_branch", "distiller.modules=[conv, mlp]", "distiller.w_nce=0.5"]
    with pytest.raises(ConfigError, match=r"option 'w_nce' must look like key=value"):
        Variant.parse("x=tas_branch:w_nce")
    with pytest.raises(ConfigError, match=r"Variant name 'a b'"):
        Variant.parse("a b=tas_branch")


def test_pair_settings_reach_that_pairs_runs_only(tmp_path):
    per_pair = {"convnext_deit": ["student_training.optimizer.lr=0.005"]}
    kd = Variant.parse("kd")
    assert study_config("convnext_deit", "small", kd, 1, ["student_training.optimizer.lr=0.01"], per_pair).student_training.optimizer.lr == 0.005
    assert study_config("convnext_mlp", "small", kd, 1, ["student_training.optimizer.lr=0.01"], per_pair).student_training.optimizer.lr == 0.01
    with pytest.raises(ConfigError, match=r"Pair settings name pair\(s\) \['convnext_deit'\]"):
        run_study(["convnext_mlp"], [kd], [0], tmp_path, pair_overrides=per_pair, train=False)


def test_a_run_is_claimed_by_one_live_process_at_a_time(tmp_path):
    folder = tmp_path / "pair" / "kd" / "seed0"
    assert claim(folder) and not claim(folder)  # held by this (live) process
    release(folder)
    assert not (folder / LOCK).exists()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    (folder / LOCK).write_text(f"{socket.gethostname()} {finished.stdout.strip()}")  # a process that has exited
    assert claim(folder)  # a stale lock is taken over
    release(folder)


def test_runs_whose_teacher_another_process_trains_wait_until_the_other_runs_are_done(tmp_path, monkeypatch):
    """A process does not sit idle on a teacher lock: it trains the runs of other pairs first."""
    import os
    import socket

    from tas_keras.experiments import study

    output = tmp_path / "study"
    variants = [Variant.parse("scratch")]
    busy_config = study_config("convnext_mlp", "small", variants[0], 0, [])
    _, busy_teacher = study._teacher_folder(busy_config, output, None)
    busy_teacher.mkdir(parents=True)
    (busy_teacher / LOCK).write_text(f"{socket.gethostname()} {os.getppid()}")  # a live process trains this teacher
    order = []

    def fake_run(config, folder, teacher_file, log):
        order.append(folder.relative_to(output).parts[0])
        (folder / "summary.json").write_text("{}")
        if len(order) == 1:  # the other process finishes the teacher meanwhile
            (busy_teacher / "teacher.keras").write_text("")
            release(busy_teacher)

    monkeypatch.setattr(study, "run", fake_run)
    monkeypatch.setattr(study, "_teacher_file", lambda config, *a, **k: "teacher.keras")
    monkeypatch.setattr(study, "_record", lambda pair, variant, seed, folder, config: {"pair": pair})
    records = run_study(["convnext_mlp", "mixer_resnet"], variants, [0], output, log=lambda *a: None, poll_seconds=0.01)
    assert order == ["mixer_resnet", "convnext_mlp"] and [r["pair"] for r in records] == ["convnext_mlp", "mixer_resnet"]
    assert study.held_elsewhere(busy_teacher) is False and not study._teacher_busy(busy_config, output, None)


def _record(variant, seed, top1, train_top1=None):
    return {"pair": "p", "variant": variant, "method": variant, "options": {}, "seed": seed, "teacher_model": "t",
            "student_model": "s", "teacher_top1": 0.9, "student_top1": top1, "student_train_top1": train_top1}


def test_aggregate_gives_mean_sample_std_and_gain_over_scratch():
    records = [_record("scratch", 0, 0.80), _record("scratch", 1, 0.82, 0.9), _record("kd", 0, 0.85, 0.91), _record("kd", 1, 0.86, 0.94)]
    table = aggregate(records)
    kd = table["p"]["variants"]["kd"]
    assert kd["n"] == 2 and kd["mean"] == pytest.approx(85.5) and kd["std"] == pytest.approx(0.7071, abs=1e-4)
    assert kd["gain_over_scratch"] == pytest.approx(4.5) and kd["train_mean"] == pytest.approx(92.5)
    assert table["p"]["variants"]["scratch"]["train_mean"] is None  # one run without it: no mean of the others
    text = markdown_table(table, ["scratch", "kd"], floor=("logistic regression", 82.625))
    assert "| kd | 85.50 ± 0.71 (+4.50); train 92.5 |" in text and "| scratch | 81.00 ± 1.41 |" in text
    assert "| teacher | 90.00 |" in text and "| logistic regression | 82.62 |" in text
    retrained = aggregate(records + [{**_record("kd", 2, 0.87), "teacher_top1": 0.91}])  # a teacher trained again
    assert retrained["p"]["teacher_top1s"] == [90.0, 91.0] and "| teacher | 90.00 / 91.00 |" in markdown_table(retrained, ["kd"])


def test_diverged_runs_are_counted_not_averaged():
    records = [_record("scratch", 0, 0.80), _record("kd", 0, 0.85), _record("kd", 1, None), _record("dkd", 0, None), _record("dkd", 1, None)]
    for r in records:
        if r["student_top1"] is None:
            r.update(diverged="Distillation diverged: the loss is nan at epoch 2, step 5", teacher_top1=None)
    table = aggregate(records)
    kd, dkd = table["p"]["variants"]["kd"], table["p"]["variants"]["dkd"]
    assert (kd["n"], kd["diverged"], kd["mean"]) == (1, 1, pytest.approx(85.0)) and (dkd["n"], dkd["diverged"], dkd["mean"]) == (0, 2, None)
    text = markdown_table(table, ["scratch", "kd", "dkd"])
    assert "| kd | 85.00 (+5.00) [n=1] [1 of 2 diverged] |" in text and "| dkd | diverged [2 of 2] |" in text


def fake_training(monkeypatch, trained, diverging=None):
    """Replaces training in the study with a run that writes its config and a summary at once (top-1
    0.8), or diverges for the methods in `diverging` ({method: where}); `trained` collects the methods."""
    from tas_keras.experiments import study

    def fake_run(config, folder, teacher_file, log):
        trained.append(config.distiller.method)
        save_config(config, folder / "config.yaml")
        where = (diverging or {}).get(config.distiller.method)
        if where:
            atomic_json(folder / DIVERGED, {"where": where, "message": f"Distillation diverged: {where}"})
            raise TrainingDiverged(f"Distillation diverged: {where}", where)
        model = {"model": config.student.name, "top1": 0.8, "top5": 0.9, "train_top1": 0.85}
        atomic_json(folder / "summary.json", {"teacher": {"model": config.teacher.name, "top1": 0.9}, "student": model,
                                              "train_examples": 100, "test_examples": 360, "epochs": 1, "wall_seconds": 1.0})

    monkeypatch.setattr(study, "run", fake_run)
    monkeypatch.setattr(study, "_teacher_file", lambda config, *a, **k: "teacher.keras")


def test_a_diverged_run_is_reported_and_not_retried(tmp_path, monkeypatch):
    """A run whose loss becomes NaN is a result of its method under the study's recipe: the study
    records it, goes on with the other runs and does not train it again when rerun."""
    where = "the loss is nan at epoch 1, step 3"
    trained = []
    fake_training(monkeypatch, trained, diverging={"kd": where})
    variants = [Variant.parse("scratch"), Variant.parse("kd")]
    logged = []
    records = run_study(["convnext_mlp"], variants, [0], tmp_path, log=logged.append, poll_seconds=0.01)
    assert trained == ["scratch", "kd"] and any(where in line for line in logged)
    assert records[1]["diverged"] == f"Distillation diverged: {where}" and records[1]["student_top1"] is None
    again = run_study(["convnext_mlp"], variants, [0], tmp_path, log=logged.append, poll_seconds=0.01)
    assert trained == ["scratch", "kd"] and again == records  # reused, not retried
    assert "| kd | diverged [1 of 1] |" in markdown_table(aggregate(records), ["scratch", "kd"])


def test_included_records_stand_for_runs_finished_elsewhere(tmp_path, monkeypatch):
    """A study continued on a machine without some run folders takes those runs from an earlier
    report's records (not trained again); a record of another variant or recipe is refused."""
    trained = []
    fake_training(monkeypatch, trained)
    variants = [Variant.parse("scratch"), Variant.parse("kd_t2=kd:temperature=2")]
    overrides = ["data.dataset=digits", "data.train_subset=100", "student_training.epochs=3"]
    config = study_config("convnext_mlp", "small", variants[1], 0, overrides)
    elsewhere = {"pair": "convnext_mlp", "variant": "kd_t2", "method": "kd", "options": {"temperature": 2}, "seed": 0,
                 "teacher_model": config.teacher.name, "student_model": config.student.name, "student_top1": 0.75,
                 "train_examples": 100, "epochs": 3, "wall_seconds": 9.0, "folder": "/elsewhere/convnext_mlp/kd_t2/seed0"}
    logged = []
    records = run_study(["convnext_mlp"], variants, [0], tmp_path, "small", overrides, log=logged.append, included=[elsewhere])
    assert trained == ["scratch"] and records[1] is elsewhere and records[0]["student_top1"] == 0.8
    assert any("finished elsewhere" in line for line in logged)
    assert run_study(["convnext_mlp"], variants, [0], tmp_path, "small", overrides, train=False, included=[elsewhere]) == records
    for key, value in (("options", {"temperature": 4}), ("epochs", 40), ("train_examples", 5000), ("method", "dkd")):
        with pytest.raises(ConfigError, match=rf"kd_t2 seed 0 has {key}=.*but this study's run has {key}="):
            run_study(["convnext_mlp"], variants, [0], tmp_path, "small", overrides, included=[{**elsewhere, key: value}])
    assert trained == ["scratch"]


def test_included_records_keep_the_machine_they_ran_on(tmp_path):
    """A record names its machine; one written before that field takes its report's machine, unless
    that report had itself included runs from elsewhere (then no one can tell: "not recorded")."""
    first = {"machine": "Intel Xeon, 2 CPUs"}
    runs = [{**_record("kd", 0, 0.8), "machine": "AMD EPYC, 2 CPUs", "val_acc_curve": []}, {**_record("kd", 1, 0.8), "val_acc_curve": []}]
    assert [r["machine"] for r in with_machine(runs, first)] == ["AMD EPYC, 2 CPUs", "Intel Xeon, 2 CPUs"]
    nested = {**first, "included_records": [{"file": "older/results.json", "runs": 1}]}
    assert [r["machine"] for r in with_machine(runs, nested)] == ["AMD EPYC, 2 CPUs", None]
    assert "machine" not in runs[1]  # the loaded records are not changed
    meta = {"machine": "AMD EPYC, 2 CPUs", "runs_per_machine": {"Intel Xeon, 2 CPUs": 57, "AMD EPYC, 2 CPUs": 10}}
    write_report(runs, meta, tmp_path, ["kd"])
    assert "- runs per machine: Intel Xeon, 2 CPUs: 57; AMD EPYC, 2 CPUs: 10" in (tmp_path / "results.md").read_text()


def test_paired_differences_are_per_seed_with_a_t_interval():
    a = [0.861, 0.874, 0.869, 0.88]  # seed 3 has no reference run: left out of the pairing
    b = [0.855, 0.876, 0.860]
    records = [_record("tas", s, v) for s, v in enumerate(a)] + [_record("tas_branch", s, v) for s, v in enumerate(b)]
    records.append({**_record("tas", 0, None), "pair": "q", "diverged": "nan"})  # a diverged run pairs with nothing
    d = paired_differences(records, "tas", "tas_branch")
    diffs = 100 * (np.array(a[:3]) - np.array(b))
    assert list(d) == ["p"] and d["p"]["seeds"] == [0, 1, 2] and d["p"]["diffs"] == pytest.approx(diffs)
    assert d["p"]["mean"] == pytest.approx(diffs.mean()) and d["p"]["std"] == pytest.approx(diffs.std(ddof=1)) and d["p"]["wins"] == 2
    half = 4.302653 * diffs.std(ddof=1) / np.sqrt(3)  # Student-t 0.975 quantile, 2 degrees of freedom
    assert d["p"]["ci95"] == pytest.approx([diffs.mean() - half, diffs.mean() + half], rel=1e-5)
    text = comparison_table({("tas", "tas_branch"): d}, ["p"])
    assert f"| tas − tas_branch | {diffs.mean():+.2f} ± {diffs.std(ddof=1):.2f} [{diffs.mean() - half:+.2f}, {diffs.mean() + half:+.2f}]; ahead on 2 of 3 |" in text
    one = paired_differences(records[:1] + records[4:5], "tas", "tas_branch")["p"]
    assert (one["n"], one["std"], one["ci95"]) == (1, None, None)


def test_one_seed_reports_no_spread():
    table = aggregate([_record("scratch", 0, 0.80), _record("kd", 0, 0.85)])
    assert table["p"]["variants"]["kd"]["std"] is None
    text = markdown_table(table, ["scratch", "kd"])
    assert "| kd | 85.00 (+5.00) [n=1] |" in text and "±" not in text


def study(capsys, out, *extra, methods=("scratch", "kd")):
    """tools/study.py run in this process (a subprocess each call cost ~20 s of imports here)."""
    args = ["--pairs", "convnext_mlp", "--methods", *methods, "--ablation", "convnext_mlp/kd_t2=kd:temperature=2", "--seeds", "0",
            "--dataset", "digits", "--train-subset", "100", "--epochs", "2", "--teacher-epochs", "1", "--batch-size", "32",
            "--output-dir", str(out), "--set", "student_training.validation_freq=2", *extra]
    return in_process(capsys, tool("study"), *args)


def test_the_report_of_a_study_whose_first_run_diverged(tmp_path, monkeypatch, capsys):
    """The report's header fields come from a finished run; a diverged one has no summary."""
    fake_training(monkeypatch, [], diverging={"kd": "the loss is nan at epoch 1, step 3"})
    proc = study(capsys, tmp_path, methods=("kd", "scratch"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "results.json").read_text())["meta"]
    assert (meta["train_examples"], meta["test_examples"], meta["epochs"]) == (100, 360, 1)
    assert meta["wall_minutes"] == pytest.approx(1 / 60, abs=0.05) and meta["train_minutes"] is None


def test_study_runs_reuses_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "study"
    proc = study(capsys, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "results.json").read_text())
    assert len(result["runs"]) == 3 and {r["variant"] for r in result["runs"]} == {"scratch", "kd", "kd_t2"}
    assert all(r["test_examples"] == 360 and r["train_examples"] == 100 for r in result["runs"])
    assert all([epoch for epoch, _ in r["val_acc_curve"]] == [2] for r in result["runs"])  # tested every 2nd epoch
    assert all(r["train_seconds"] > 0 for r in result["runs"])
    assert result["meta"]["train_minutes"] == pytest.approx(sum(r["train_seconds"] for r in result["runs"]) / 60, abs=0.051)
    student = keras.saving.load_model(pathlib.Path(result["runs"][0]["folder"]) / "student.keras")
    train, _ = build_dataset("digits", "train", image_size=32, batch_size=32, subset=100, normalize=True)
    assert result["runs"][0]["student_train_top1"] == pytest.approx(evaluate(student, train)["top1"])
    floor = result["meta"]["floor_top1"]
    assert floor == pytest.approx(logistic_regression_top1("digits", 100)) and 50 < floor < 100
    teachers = list((out / "teachers").glob("*/teacher.keras"))
    assert len(teachers) == 1, teachers  # one teacher, shared by every method (and seed)
    assert {r["teacher_top1"] for r in result["runs"]} == {result["runs"][0]["teacher_top1"]}
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "results.md").read_text()
    assert "## Ablations" in md and "kd_t2" in md and "python tools/study.py" in md
    assert f"| logistic regression | {floor:.2f} |" in md and "; train " in md
    assert "## Paired differences" not in md
    again = study(capsys, out, "--compare", "kd:scratch")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("reused") == 3 and "Training teacher" not in again.stdout
    kd_gain = json.loads((out / "results.json").read_text())["paired_differences"]["kd - scratch"]["convnext_mlp"]
    assert kd_gain["seeds"] == [0] and kd_gain["mean"] == pytest.approx(result["table"]["convnext_mlp"]["variants"]["kd"]["gain_over_scratch"])
    assert f"| kd − scratch | {kd_gain['mean']:+.2f}; ahead on " in (out / "results.md").read_text()
    moved = study(capsys, tmp_path / "new_machine", "--report-only", "--include-records", str(out / "results.json"))
    assert moved.returncode == 0, moved.stderr[-3000:]
    assert moved.stdout.count("finished elsewhere") == 3 and "Training teacher" not in moved.stdout
    report = json.loads((tmp_path / "new_machine" / "results.json").read_text())
    assert report["runs"] == json.loads((out / "results.json").read_text())["runs"]
    assert {r["machine"] for r in report["runs"]} == {result["meta"]["machine"]}  # where they ran, from their summaries
    assert report["meta"]["included_records"] == [{"file": str(out / "results.json"), "runs": 3}]
    assert f"- included: 3 runs' records from {out / 'results.json'}\n" in (tmp_path / "new_machine" / "results.md").read_text()
    missing = study(capsys, tmp_path / "new_machine", "--report-only", "--include-records", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "--include-records" in missing.stderr and "nope.json" in missing.stderr
    # ofa never ran: reported as missing; the included records stand for no run (the folders win)
    partial = study(capsys, out, "--report-only", "--include-records", str(tmp_path / "new_machine" / "results.json"),
                    methods=("scratch", "ofa"))
    assert partial.returncode == 0, partial.stderr[-3000:]
    assert partial.stdout.count("not finished") == 1 and "Training teacher" not in partial.stdout
    report = json.loads((out / "results.json").read_text())
    assert {r["variant"] for r in report["runs"]} == {"scratch", "kd_t2"} and report["meta"]["included_records"][0]["runs"] == 0
    before = (out / "results.json").read_bytes()
    changed = study(capsys, out, "--set", "student_training.optimizer.lr=0.01")
    assert changed.returncode == 2 and "other settings" in changed.stderr
    assert (out / "results.json").read_bytes() == before  # nothing written before is touched
