"""TensorFlow's oneDNN CPU kernels: `import tas_keras` turns them on where TensorFlow would not, unless
the user said otherwise or imported TensorFlow first (the variable is read once, at TensorFlow's import)."""

import os
import platform
import subprocess
import sys

import pytest

REPORT = "import os; from tas_keras.training.machine import tensorflow_onednn; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), tensorflow_onednn())"
X86 = platform.machine().lower() in ("x86_64", "amd64")


def run(code, **env):
    base = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**base, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", **env})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()[-2:]


@pytest.mark.skipif(not X86, reason="TensorFlow's oneDNN switch is for x86 CPUs")
def test_importing_tas_keras_first_turns_onednn_on():
    assert run("import tas_keras; " + REPORT) == ["1", "True"]


@pytest.mark.skipif(not X86, reason="TensorFlow's oneDNN switch is for x86 CPUs")
def test_the_users_setting_wins():
    assert run("import tas_keras; " + REPORT, TF_ENABLE_ONEDNN_OPTS="0") == ["0", "False"]


def test_tensorflow_imported_first_keeps_its_own_choice():
    """The variable is left unset: set after TensorFlow's import it would not take effect."""
    setting, _ = run("import tensorflow, tas_keras; " + REPORT)
    assert setting == "None"


def test_without_tensorflow_loaded_it_cannot_say(monkeypatch):
    from tas_keras.training.machine import tensorflow_onednn

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert tensorflow_onednn() is None


@pytest.mark.parametrize("flags, expected", [("fpu sse2 avx avx2 fma", "AVX2"), ("avx2 avx512f avx512bw avx512_bf16", "AVX-512"),
                                             ("avx2 avx512f amx_tile amx_bf16", "AMX"), ("fp asimd sve", None)])
def test_the_machine_description_names_the_vector_extension(tmp_path, flags, expected):
    """Two virtual machines both called "AMD EPYC" differ in what decides the kernels: AVX2 or AVX-512."""
    from tas_keras.training.machine import vector_extension

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n")
    assert vector_extension(str(cpuinfo)) == expected
    assert vector_extension(str(tmp_path / "missing")) is None
