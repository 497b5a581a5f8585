"""Errors that mean "the input is wrong", as opposed to a bug: the CLIs print their message as one
line (exit code 2) instead of a traceback. Leaf module: imports nothing from tas_keras."""


class InputError(ValueError):
    """A bad value, name, file or dataset given by the user; the message names it and the valid choices."""
