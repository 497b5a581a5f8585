"""What every command-line tool shares: TensorFlow's C++ log level, one-line errors, `--debug`."""

import argparse
import os
import sys

from tas_keras.errors import InputError


def quiet_tensorflow():
    """Call before TensorFlow is imported. Level 3 keeps TensorFlow's C++ log to FATAL: the
    CUDA-enabled `tensorflow` wheel logs `failed call to cuInit` at ERROR on every CPU-only machine
    that has CUDA libraries, which reads like a failure. TensorFlow's real errors still reach Python
    as exceptions; set TF_CPP_MIN_LOG_LEVEL=0 to see every C++ log line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a `--debug` flag and one-line usage errors."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)
        self.add_argument("--debug", action="store_true", help="show full tracebacks instead of one-line errors (for bug reports)")

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def one_line(err):
    return " ".join(str(err).split())


def run_cli(main, argv=None, prog=None):
    """main(argv) -> exit code. A bad input (InputError, a missing file) is one line on stderr and
    exit code 2; with --debug it is raised, with Keras' full traceback. Any other exception is a bug
    and keeps its traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    if debug:
        import keras

        keras.config.disable_traceback_filtering()
    try:
        return main(args)
    except (InputError, FileNotFoundError) as err:
        if debug:
            raise
        print(f"{prog or os.path.basename(sys.argv[0])}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last finished epoch", file=sys.stderr)
        return 130
