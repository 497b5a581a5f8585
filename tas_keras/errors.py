"""Errors that mean "the input is wrong", as opposed to a bug: the CLIs print their message as one
line (exit code 2) instead of a traceback. Leaf module: imports nothing from tas_keras."""


def one_line(message):
    """A message (or an exception's text) on one line: a CLI error must not spill over several."""
    return " ".join(str(message).split())


class InputError(ValueError):
    """A bad value, name, file or dataset given by the user; the message names it and the valid choices."""


class TrainingDiverged(InputError):
    """The training loss became NaN or infinite. Its usual cause is a setting (a learning rate too high
    for the model), so the CLIs report it in one line, like a bad input. `where`: e.g. "the loss is nan
    at epoch 3, step 12"."""

    def __init__(self, message, where=""):
        super().__init__(message)
        self.where = where
