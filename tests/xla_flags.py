"""XLA_FLAGS for the JAX tests; imports nothing, so conftest.py can use it before JAX is imported."""

# The quickest compiles for tiny test programs on a CPU: LLVM's lowest optimisation level, and XLA's
# older loop emitters instead of its fusion emitters (a micro tas_branch step: 75 s of XLA compile
# by default, 24 s at level 0, 13 s with both).
QUICK_COMPILE = {"xla_backend_optimization_level": "0", "xla_cpu_use_fusion_emitters": "false"}


def with_quick_codegen(flags):
    """`flags` with the quick-compile settings added, except those they already set."""
    added = [f"--{name}={value}" for name, value in QUICK_COMPILE.items() if name not in flags]
    return " ".join([flags.strip(), *added]).strip()
