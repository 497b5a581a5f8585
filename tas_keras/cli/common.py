"""What every command-line tool shares: TensorFlow's C++ log level, one-line errors, `--debug`."""

import argparse
import os
import sys

from tas_keras.errors import InputError, one_line


def quiet_tensorflow():
    """Call before TensorFlow is imported. Level 3 keeps TensorFlow's C++ log to FATAL: the
    CUDA-enabled `tensorflow` wheel logs `failed call to cuInit` at ERROR on every CPU-only machine
    that has CUDA libraries, which reads like a failure. TensorFlow's real errors still reach Python
    as exceptions; set TF_CPP_MIN_LOG_LEVEL=0 to see every C++ log line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def count(minimum):
    """An argparse type: an integer >= minimum (steps, batch sizes, epochs), else argparse's one-line
    usage error naming the flag and the value."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}; got {text!r}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a `--debug` flag and one-line usage errors."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)
        self.add_argument("--debug", action="store_true", help="show full tracebacks instead of one-line errors (for bug reports)")

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _input_fault(err):
    """Our own bad-input errors and missing files, and file-system errors naming a path (an OSError
    naming none, e.g. a full disk's, is no input's fault and keeps its traceback)."""
    return isinstance(err, (InputError, FileNotFoundError)) or err.filename is not None


def _message(err):
    """One line: an InputError's text; for a file-system error, the path and what is wrong with it."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        return one_line(f"{err.filename!r}: {err.strerror}" + (f" (-> {err.filename2!r})" if err.filename2 else ""))
    return one_line(err)


def run_cli(main, argv=None, prog=None):
    """main(argv) -> exit code. A bad input (InputError, or a file-system error naming a path: a missing
    file, a run folder that is a file, no permission) is one line on stderr and exit code 2; with --debug
    it is raised, with Keras' full traceback. Any other exception is a bug and keeps its traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    if debug:
        import keras

        keras.config.disable_traceback_filtering()
    try:
        return main(args)
    except (InputError, OSError) as err:
        if debug or not _input_fault(err):
            raise
        print(f"{prog or os.path.basename(sys.argv[0])}: error: {_message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last finished epoch", file=sys.stderr)
        return 130
