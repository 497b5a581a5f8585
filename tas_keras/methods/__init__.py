"""Distillation methods, one file each; importing this package registers them."""

from tas_keras.methods import crd, dist, dkd, fitnet, kd, ofa, rsd, scratch, tas, tas_branch  # noqa: F401  (registration)
from tas_keras.methods.base import Method, list_methods, method_class, register_method

__all__ = ["Method", "list_methods", "method_class", "register_method"]
