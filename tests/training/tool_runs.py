"""Running the command-line tools inside the test process: a tools/ script's main, its exit code
(also where argparse exits), and a whole run's exit code, stdout and stderr (a subprocess costs
~15 s of imports on a 2-core CPU; use one only where a fresh process is the point)."""

import importlib.util
import pathlib
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]


def tool(name):
    """main() of tools/<name>.py."""
    spec = importlib.util.spec_from_file_location(f"tool_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def exit_code(main, args):
    """main's exit code, also where argparse exits on a usage error."""
    try:
        return main(args)
    except SystemExit as stop:
        return stop.code


def in_process(capsys, main, *args):
    """main(args) in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = exit_code(main, list(args))
    out = capsys.readouterr()
    return types.SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)
