"""XLA_FLAGS for the JAX tests; imports nothing, so conftest.py can use it before JAX is imported."""


def with_quick_codegen(flags):
    """`flags` with LLVM's quickest code generation added, unless they already choose a level."""
    return flags if "xla_backend_optimization_level" in flags else f"{flags} --xla_backend_optimization_level=0".strip()
