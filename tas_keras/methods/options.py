"""Declared method options: each method names a rule per option, so a bad value (a string where a
weight goes, a negative temperature, an unknown stage) is refused when the method is configured,
before any model is built or trained. A rule returns None when the value is fine, else what was
expected."""

import math
import numbers

STAGES = ("S1", "S2", "S3", "S4")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def number(low=None, high=None, low_open=False, high_open=False):
    """A finite real number in [low, high] (an open end with low_open / high_open)."""
    bounds = (f"{'(' if low_open else '['}{'-inf' if low is None else f'{low:g}'}, "
              f"{'inf)' if high is None else f'{high:g}' + (')' if high_open else ']')}")

    def rule(value):
        if not _is_number(value) or not math.isfinite(value):
            return f"a number in {bounds}"
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        return f"a number in {bounds}" if too_low or too_high else None

    return rule


def integer(low=None):
    def rule(value):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and (low is None or value >= low)
        return None if ok else f"an integer >= {low}" if low is not None else "an integer"

    return rule


def boolean(value):
    return None if isinstance(value, bool) else "true or false"


def one_of(*choices):
    expected = repr(choices[0]) if len(choices) == 1 else f"one of {list(choices)}"

    def rule(value):
        return None if isinstance(value, str) and value in choices else expected

    return rule


def list_of(*choices, allow_empty=False):
    """A list of names from `choices` (a single name is not accepted: it would iterate as characters)."""

    def rule(value):
        ok = isinstance(value, (list, tuple)) and (allow_empty or len(value) > 0) and all(isinstance(v, str) and v in choices for v in value)
        return None if ok else f"a {'' if allow_empty else 'non-empty '}list of {list(choices)}"

    return rule


def optional(inner):
    def rule(value):
        if value is None:
            return None
        problem = inner(value)
        return None if problem is None else f"null or {problem}"

    return rule


def either(*rules):
    def rule(value):
        problems = [r(value) for r in rules]
        return None if any(p is None for p in problems) else " or ".join(problems)

    return rule


def weight(value):
    """A loss weight: a number >= 0."""
    return number(low=0.0)(value)


def positive(value):
    return number(low=0.0, low_open=True)(value)


def stage(value):
    return one_of(*STAGES)(value)


def stages(value):
    return list_of(*STAGES)(value)
