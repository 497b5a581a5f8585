"""The package installs from a wheel: every subpackage and the pair configs are in it, and the
installed code (not the checkout) trains a pair by name from a folder outside the checkout."""

import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_pyproject_lists_every_package():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "tas_keras").rglob("*.py")} - {""}
    on_disk = {name for name in on_disk if "__pycache__" not in name}
    assert listed == on_disk | {"tas_keras.configs"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # from a copy of the sources: setuptools would pack stale files from the checkout's build/ folder
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "build", "dist", ".venv*", "runs", "*.egg-info", "__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.glob("tas_keras-*.whl")
    return path


def test_the_wheel_holds_the_configs_and_the_commands(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    pairs = sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    assert len(pairs) >= 13 and all(f"tas_keras/configs/{p}.yaml" in names for p in pairs)
    assert "tas_keras/training/runner.py" in names and "tas_keras/cli/train.py" in names
    entry_points = next(zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "tas-train = tas_keras.cli.train:main" in entry_points and "tas-evaluate = tas_keras.cli.evaluate:main" in entry_points


def test_the_installed_wheel_trains_a_pair_by_name_outside_the_checkout(wheel, tmp_path):
    """The wheel's files (installed with --target, dependencies from this environment) run from an
    empty folder; the check that tas_keras comes from the wheel guards against the checkout."""
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    code = (
        # an editable install of the checkout would otherwise supply modules the wheel lacks
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, '__module__', '').startswith('__editable__')]; "
        "import tas_keras; from tas_keras.cli.train import main; "
        "code = main(['--pair', 'convnext_mlp', '--profile', 'small', '--epochs', '1', '--teacher-epochs', '1', "
        "'--train-subset', '128', '--batch-size', '64']); "
        "outside = sorted(m.__name__ for m in list(sys.modules.values()) "
        "if m.__name__.startswith('tas_keras') and not (getattr(m, '__file__', None) or sys.argv[1]).startswith(sys.argv[1])); "
        "assert not outside, outside; sys.exit(code)"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, "-c", code, str(target)], cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert (work / "runs" / "convnext_mlp-small" / "digits-tas" / "student.keras").is_file()
    assert (work / "runs" / "convnext_mlp-small" / "teachers").is_dir()
