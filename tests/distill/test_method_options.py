"""Every method declares a rule for each option: its defaults pass, and bad values are refused by
name before anything is built."""

import pytest

from tas_keras.errors import InputError
from tas_keras.methods import list_methods, method_class

pytestmark = pytest.mark.core

# A value of the wrong kind for each kind of default: a string for numbers, a number for strings and lists.
WRONG = {float: "abc", int: "abc", bool: "yes", str: 3, list: 3, type(None): 3}


@pytest.mark.parametrize("name", list_methods())
def test_every_option_has_a_rule_that_its_default_passes(name):
    cls = method_class(name)
    assert set(cls.rules) == set(cls.defaults)
    assert cls.check_options({}) == cls.defaults
    for key, value in cls.defaults.items():
        assert cls.rules[key](value) is None, (key, value)


@pytest.mark.parametrize("name", list_methods())
def test_a_value_of_the_wrong_kind_is_refused_by_name(name):
    cls = method_class(name)
    for key, default in cls.defaults.items():
        bad = WRONG[type(default)]
        with pytest.raises(InputError, match=rf"^{key}={bad!r} is not valid for method '{name}': expected "):
            cls.check_options({key: bad})


@pytest.mark.parametrize(
    "name, options, expected",
    [
        ("kd", {"temperature": 0}, r"temperature=0 .* \(0, inf\)"),
        ("kd", {"w_kd": -0.5}, r"w_kd=-0.5 .* \[0, inf\)"),
        ("scratch", {"label_smoothing": 1.5}, r"label_smoothing=1.5 .* \[0, 1\]"),
        ("tas_branch", {"branch_grad_scale": 2}, r"expected 'auto' or a number in \[0, 1\]"),
        ("tas_branch", {"branch_grad_scale": "half"}, r"branch_grad_scale='half'"),
        ("tas", {"nce_grad_scale": 1.5}, r"nce_grad_scale=1.5 .* expected 'auto' or a number in \[0, 1\]"),
        ("tas_branch", {"assistant_depth": 0}, r"assistant_depth=0 .* integer >= 1"),
        ("tas_branch", {"nce_dim": 2.5}, r"nce_dim=2.5 .* integer"),
        ("tas_branch", {"symmetric": 1}, r"symmetric=1 .* true or false"),
        ("tas_branch", {"modules": ["conv", "pool"]}, r"'pool'.*\['conv', 'attn', 'mlp'\]"),
        ("tas_branch", {"branch_stages": []}, r"non-empty list"),
        ("fitnet", {"student_stage": "S5"}, r"student_stage='S5' .* one of \['S1', 'S2', 'S3', 'S4'\]"),
        ("ofa", {"eps": 0.0}, r"eps=0.0"),
    ],
)
def test_out_of_range_values_are_refused(name, options, expected):
    with pytest.raises(InputError, match=expected):
        method_class(name).check_options(options)


def test_valid_values_of_other_kinds_pass():
    assert method_class("tas_branch").check_options({"branch_grad_scale": 0, "w_nce": 2, "modules": None})["w_nce"] == 2
    assert method_class("tas_branch").check_options({"branch_grad_scale": 1.0})["branch_grad_scale"] == 1.0
    assert method_class("ofa").check_options({"branch_stages": []})["branch_stages"] == []
