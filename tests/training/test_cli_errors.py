"""Every command-line tool answers a bad input with one line on stderr and exit code 2, before any
training starts; --debug shows the traceback instead."""

import pathlib

import pytest

from tas_keras.cli import evaluate as evaluate_cli
from tas_keras.cli import train as train_cli
from tas_keras.errors import InputError

from .tool_runs import exit_code, tool

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMALL = ["--pair", "convnext_mlp", "--profile", "small"]


def one_line_error(capsys, code, *expected):
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (SMALL + ["--method", "tass"], ["'tass'", "valid methods", "tas_branch", "tas"]),
        (SMALL + ["--set", "distiller.w_nce=abc"], ["w_nce='abc'", "expected a number"]),
        (SMALL + ["--set", "distiller.nce_temperature=0"], ["nce_temperature=0", "method 'tas'", "[0.01, 1]"]),
        (SMALL + ["--method", "tas_branch", "--set", "distiller.branch_stages=S2"], ["branch_stages='S2'", "list of ['S1', 'S2', 'S3', 'S4']"]),
        (SMALL + ["--method", "kd", "--set", "distiller.temperature=hot"], ["temperature='hot'", "method 'kd'"]),
        (SMALL + ["--set", "student_training.epochs=many"], ["student_training.epochs", "'many'"]),
        (SMALL + ["--set", "student_training.optimizer.lr=-1"], ["student_training.optimizer.lr: -1.0", "(0, inf)"]),
        (["--pair", "convnext_vit"], ["Unknown pair 'convnext_vit'", "convnext_mlp"]),
        (["--pair", "missing.yaml"], ["'missing.yaml' does not exist"]),
        (SMALL + ["--dataset", "mnist"], ["Unknown dataset 'mnist'", "fashion_mnist"]),
        (SMALL + ["--xla", "maybe"], ["--xla", "'maybe'"]),
        (SMALL + ["--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_train_refuses_bad_input_in_one_line_before_training(args, expected, capsys, tmp_path):
    out = tmp_path / "run"
    code = exit_code(train_cli.main, [*args, "--output-dir", str(out)])
    one_line_error(capsys, code, *expected)
    assert not out.exists() and not (tmp_path / "teachers").exists()  # nothing was trained or written


def test_paths_that_cannot_work_are_refused_in_one_line_before_anything_is_written(capsys, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    run = ["--output-dir", str(tmp_path / "run")]
    one_line_error(capsys, train_cli.main([*SMALL, "--output-dir", str(a_file)]), repr(str(a_file)), "is a file", "--output-dir")
    one_line_error(capsys, train_cli.main([*SMALL, *run, "--teacher-cache", str(a_file)]), "is a file", "--teacher-cache")
    one_line_error(capsys, train_cli.main([*SMALL, *run, "--teacher", str(tmp_path / "none.keras")]), "none.keras", "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"] and a_file.read_text() == "mine"
    # a file-system error naming a path (here: a folder inside a file) is one line too, naming the path
    one_line_error(capsys, train_cli.main([*SMALL, "--output-dir", str(a_file / "run")]), repr(str(a_file / "run")), "Not a directory")


def test_a_multi_line_dataset_message_becomes_one_line(capsys, tmp_path, monkeypatch):
    from tas_keras.data import sources

    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(sources, "KERAS_FASHION_DIR", str(tmp_path / "none"))
    code = train_cli.main([*SMALL, "--dataset", "fashion_mnist", "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "run")])
    one_line_error(capsys, code, "Fashion-MNIST train files", "apt-get install dataset-fashion-mnist")


def test_debug_shows_the_traceback():
    with pytest.raises(InputError, match="'tass'"):
        train_cli.main([*SMALL, "--method", "tass", "--debug"])


def test_help_says_which_epochs_are_whose(capsys):
    with pytest.raises(SystemExit):
        train_cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--epochs EPOCHS the student's (distillation) epochs" in text
    assert "--teacher-epochs TEACHER_EPOCHS the teacher's epochs" in text


def test_evaluate_errors(capsys, tmp_path):
    one_line_error(capsys, evaluate_cli.main([str(tmp_path / "none.keras"), "--dataset", "digits"]), "does not exist")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    one_line_error(capsys, evaluate_cli.main([str(bad), "--dataset", "digits"]), "could not load", "bad.keras")
    import keras

    plain = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)]).save(plain)
    one_line_error(capsys, evaluate_cli.main([str(plain), "--dataset", "digits"]), "holds a Sequential", "tas_keras.adapt(model).save('x.keras')")


@pytest.mark.parametrize("name, args, expected", [
    ("benchmark", [*SMALL, "--steps", "0"], "argument --steps: expected an integer >= 1; got '0'"),
    ("benchmark", [*SMALL, "--warmup", "-1"], "argument --warmup: expected an integer >= 0; got '-1'"),
    ("train", [*SMALL, "--batch-size", "-3"], "argument --batch-size: expected an integer >= 1; got '-3'"),
    ("train", [*SMALL, "--epochs", "two"], "argument --epochs: expected an integer >= 0; got 'two'"),
    ("evaluate", ["student.keras", "--batch-size", "0"], "argument --batch-size: expected an integer >= 1"),
    ("depthwise_benchmark", ["--shape", "8", "0", "14", "384"], "argument --shape: expected an integer >= 1; got '0'"),
    ("trace_summary", ["trace", "--steps", "0"], "argument --steps: expected an integer >= 1"),
    ("study", ["--pairs", "convnext_mlp", "--batch-size", "0"], "argument --batch-size: expected an integer >= 1"),
])
def test_counts_below_their_minimum_are_usage_errors(name, args, expected, capsys):
    """Steps, batch sizes, epochs and the like: a value below the least that means anything (0 steps timed
    gave a statistics traceback) is argparse's one-line usage error, naming the flag."""
    one_line_error(capsys, exit_code(tool(name), args), expected)


def test_tool_errors(capsys, tmp_path, monkeypatch):
    one_line_error(capsys, tool("study")(["--pairs", "convnext_mlp", "--methods", "kd", "kd", "--output-dir", str(tmp_path)]), "unique")
    one_line_error(capsys, tool("study")(["--pairs", "convnext_mlp", "--ablation", "x=tass", "--output-dir", str(tmp_path)]), "tass")
    one_line_error(capsys, tool("study")(["--pairs", "convnext_mlp", "--methods", "kd", "tas", "--compare", "tas:ofa", "--output-dir", str(tmp_path)]),
                   "'ofa' is not a variant", "['kd', 'tas']")
    one_line_error(capsys, tool("study")(["--pairs", "convnext_mlp", "--methods", "kd", "tas", "--compare", "tas", "--output-dir", str(tmp_path)]),
                   "VARIANT:REFERENCE")
    one_line_error(capsys, tool("grad_norms")([*SMALL, "--teacher", str(tmp_path / "none.keras")]), "does not exist")
    one_line_error(capsys, tool("grad_norms")([*SMALL, "--teacher", "t.keras", "--set", "distiller.w_nce=abc"]), "w_nce='abc'")
    one_line_error(capsys, exit_code(tool("benchmark"), [*SMALL, "--replicas", "0"]), "argument --replicas: expected an integer >= 1; got '0'")
    one_line_error(capsys, tool("benchmark")([*SMALL, "--set", "distiller.w_tf=-1"]), "w_tf=-1")
    monkeypatch.setenv("KERAS_BACKEND", "torch")  # --trace reads the JAX or TensorFlow profiler only
    one_line_error(capsys, tool("benchmark")([*SMALL, "--trace", str(tmp_path / "trace")]), "--trace", "this is torch")
