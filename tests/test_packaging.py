"""The package installs from a wheel: every subpackage and the pair configs are in it. (CI stage 2
installs such a wheel into a fresh environment and trains a pair from an empty folder.)"""

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
    for command in ("tas-train = tas_keras.cli.train:main", "tas-evaluate = tas_keras.cli.evaluate:main", "tas-convert-timm = tas_keras.cli.convert_timm:main"):
        assert command in entry_points
