"""What a run ran on, for its records (summary.json, study reports): a study may span machines, and
a number is only comparable with the machine it came from."""

import collections
import os
import platform
import sys

import keras


def describe_machine():
    """'<CPU model> (<widest vector extension>), <n> CPUs' and, where the backend sees accelerators,
    ', <k>x <model>' for each kind. The extension is there because a virtual machine's CPU model can be
    as vague as "AMD EPYC" while AVX2 vs AVX-512 decides TensorFlow's default kernels and the speed."""
    vector = vector_extension()
    text = f"{_cpu_model()}{f' ({vector})' if vector else ''}, {os.cpu_count()} CPUs"
    kinds = collections.Counter(_accelerator_models())
    return text + "".join(f", {n}x {model}" for model, n in kinds.items())


def _cpu_model():
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def vector_extension(cpuinfo="/proc/cpuinfo"):
    """The widest x86 vector extension the CPU reports (AMX, AVX-512, AVX2), or None where unknown."""
    flags = set((_cpuinfo_field("flags", cpuinfo) or "").split())
    return next((name for flag, name in (("amx_tile", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags), None)


def _cpuinfo_field(key, cpuinfo="/proc/cpuinfo"):
    """The value of the first `key` line of /proc/cpuinfo, or None where there is none (not Linux)."""
    try:
        with open(cpuinfo) as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith(key))
    except (OSError, StopIteration):
        return None


def _accelerator_models():
    if keras.backend.backend() == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform != "cpu"]
    if keras.backend.backend() == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    import tensorflow as tf

    return [tf.config.experimental.get_device_details(d).get("device_name", d.device_type)
            for d in tf.config.list_physical_devices() if d.device_type != "CPU"]


def tensorflow_onednn():
    """Whether TensorFlow's oneDNN CPU kernels are on in this process (fixed when TensorFlow is
    imported, see tas_keras/__init__.py); None where TensorFlow is not loaded or cannot say."""
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port  # TensorFlow's own switch; no public API reads it

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None
