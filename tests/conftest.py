import gc
import os
import pathlib

from .xla_flags import with_quick_codegen

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# What `import tas_keras` sets before TensorFlow loads (tas_keras/__init__.py): here keras is imported
# first, so the suite and its subprocesses run TensorFlow's oneDNN kernels as users' programs do.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# On a CPU most of a JAX test's time is XLA compiling small programs: every initializer and step
# shape it meets, for the same tiny models built again in many tests, in both xdist workers and in
# the subprocesses tests start. One on-disk compilation cache for all of them (set before JAX is
# imported; subprocesses inherit it) and, in the JAX run, the quick-compile flags of xla_flags.py took
# the JAX run from 1,469-1,615 s to 678 s on the 2-core CI machine. The cache does not change what a
# test computes; the code generation changes float rounding slightly, so the TensorFlow run, whose
# XLA-against-graph checks compare to 1e-6, keeps XLA's default. A user's own settings win. The
# cache holds about 50 MB after both runs and may be deleted at any time.
_JAX_CACHE = pathlib.Path(__file__).resolve().parent.parent / ".pytest_cache" / "jax_compilation"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_JAX_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
if os.environ.get("KERAS_BACKEND") == "jax":
    os.environ["XLA_FLAGS"] = with_quick_codegen(os.environ.get("XLA_FLAGS", ""))

import keras  # noqa: E402
import pytest  # noqa: E402

from tas_keras.layers import set_depthwise_implementation  # noqa: E402

if keras.backend.backend() == "jax":
    # The JAX run computes depthwise convolutions with the backend's convolution, not the shifted sum
    # that "auto" picks on JAX on a CPU: at LLVM level 0 the shifted sum's gradient compiles 10x slower
    # and runs slower than the convolution (a 7x7 on 32x16x16x64, forward + backward: 0.81 s / 378 ms
    # against 0.06 s / 289 ms, `XLA_FLAGS="<xla_flags.py's>" KERAS_BACKEND=jax python
    # tools/depthwise_benchmark.py --shape 32 16 16 64 --calls 5`; 357 s against 204 s for the
    # distiller, fused-model and zoo tests). tests/models/test_depthwise.py
    # checks the shifted sum against the convolution (values, gradients, a whole ConvNeXt) on every
    # backend, and the TensorFlow run trains through it in its XLA steps.
    set_depthwise_implementation("conv")


@pytest.fixture(scope="session", autouse=True)
def _imported_objects_out_of_the_collectors_way():
    """Every test's clear_session() runs a full garbage collection, which walks every object alive:
    after TensorFlow, Keras and the collected test modules are imported, ~430,000 of them, 0.21-0.25 s
    a test on a 2-core AVX-512 EPYC. Frozen once here, objects that live for the whole session are left
    out of every later collection (gc.freeze); what the tests create is still collected as before.
    Measured there, alternating, one process: tests/models, test_method_matrix.py, test_losses.py and
    test_baseline_losses.py (268 tests) took 278-281 s frozen against 315-346 s not."""
    gc.collect()
    gc.freeze()
    yield


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    keras.utils.clear_session()
    yield


# `-n 2 --dist loadfile` sends whole files to the two workers, by default those with the most tests first;
# the few files that take minutes with few tests (torch.compile, subprocess and CLI runs) then started
# last, and one worker ran them while the other idled. They go first here, longest first (their times
# in the TensorFlow run on a 2-CPU AVX2 EPYC, `--durations`), and xdist keeps the collected order; the
# other files follow as collected. A file missing from the list is only scheduled later.
_LONG_FILES_FIRST = (
    "tests/distill/test_torch_backend.py",  # ~470 s
    "tests/training/test_train_cli.py",  # ~400 s
    "tests/distill/test_tensorflow_distribution.py",  # ~330 s
    "tests/training/test_benchmark_tool.py",  # ~130 s
    "tests/distill/test_adapted_models.py",
    "tests/training/test_study_tool.py",
    "tests/distill/test_jax_data_parallel.py",
    "tests/models/test_serialization.py",
    "tests/training/test_torch_tools.py",
)


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist's --no-loadscope-reorder
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items):
    rank = {path: i for i, path in enumerate(_LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: the rest keep their order
