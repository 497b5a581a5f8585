"""The import directions of docs/architecture.md hold: every `tas_keras` import in the package
(also inside functions) goes to the module's own layer or one below it."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tas_keras"

LEAVES = {"errors", "serialization", "atomic", "quiet_import"}
ALLOWED = {  # top-level part of the importing module -> top-level parts it may import
    "errors": set(), "serialization": set(), "atomic": set(), "quiet_import": set(),
    "layers": LEAVES | {"layers"},
    "losses": LEAVES | {"losses"},
    "pixels": LEAVES | {"pixels"},
    "models": LEAVES | {"layers", "models"},
    "convert": LEAVES | {"models", "convert"},
    "assistant": LEAVES | {"layers", "assistant"},
    "fusion": LEAVES | {"layers", "fusion"},
    "methods": LEAVES | {"layers", "losses", "assistant", "fusion", "models", "methods"},
    "steps": LEAVES | {"layers", "losses", "steps"},
    "distiller": LEAVES | {"layers", "losses", "assistant", "fusion", "models", "methods", "steps", "diagnostics", "pixels", "distiller"},
    "diagnostics": LEAVES | {"steps", "diagnostics"},
    "schedules": LEAVES | {"schedules"},
    "data": LEAVES | {"pixels", "data"},
    "training": None,  # anything but cli
    "cli": None,  # anything
    "experiments": None,  # anything
    "__init__": {"convert", "losses", "methods", "schedules", "distiller", "models", "quiet_import"},
}


def module_part(path):
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts[0]


def tas_imports(path):
    """(line, imported module) for every import of tas_keras in the file, with the package root
    counted as the names it imports (`from tas_keras import losses` -> tas_keras.losses)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tas_keras":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tas_keras":
            if node.module == "tas_keras":
                for alias in node.names:
                    yield node.lineno, f"tas_keras.{alias.name}"
            else:
                yield node.lineno, node.module


FILES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_down_the_layers(path):
    part = module_part(path)
    allowed = ALLOWED[part]
    bad = []
    for line, name in tas_imports(path):
        parts = name.split(".")
        target = parts[1] if len(parts) > 1 else "<root>"
        if part == "training" and target in ("cli", "experiments"):
            bad.append((line, name))
        elif allowed is not None and target not in allowed:
            bad.append((line, name))
    assert not bad, f"{path.relative_to(ROOT)} imports against docs/architecture.md: {bad}"


def test_model_families_do_not_import_each_other():
    families = {p.name for p in (PACKAGE / "models").iterdir() if (p / "__init__.py").is_file()}
    bad = []
    for family in families:
        for path in (PACKAGE / "models" / family).rglob("*.py"):
            for line, name in tas_imports(path):
                parts = name.split(".")
                if len(parts) > 2 and parts[1] == "models" and parts[2] in families and parts[2] != family:
                    bad.append((str(path.relative_to(ROOT)), line, name))
    assert not bad


def test_the_checker_sees_a_wrong_import(tmp_path):
    """The checker is not vacuous: a losses module that imports the zoo is caught."""
    fake = tmp_path / "tas_keras" / "losses.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from tas_keras.models import create_model\n")
    assert list(tas_imports(fake)) == [(2, "tas_keras.models")]
    assert "models" not in ALLOWED["losses"]


def test_losses_import_without_loading_the_zoo():
    """`import tas_keras` loads the whole core on purpose (it registers every class, so saved files
    load after it); the losses module itself needs only keras: with the package's __init__ bypassed,
    importing it loads no model, layer or method module."""
    import subprocess
    import sys

    code = (
        "import sys, types; pkg = types.ModuleType('tas_keras'); pkg.__path__ = [sys.argv[1]]; sys.modules['tas_keras'] = pkg; "
        "import tas_keras.losses; print(sorted(m for m in sys.modules if m.startswith('tas_keras.')))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(PACKAGE)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "['tas_keras.errors', 'tas_keras.losses', 'tas_keras.serialization']", out.stdout
