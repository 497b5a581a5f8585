"""Thin per-backend train / test steps around the Distiller's backend-agnostic loss function.

Only the module of the active backend is imported, so TensorFlow is never imported under JAX or
PyTorch (and vice versa).
"""

import importlib

import keras

_MODULES = {"tensorflow": "tensorflow_step", "jax": "jax_step", "torch": "torch_step"}


def _backend_module():
    backend = keras.backend.backend()
    if backend not in _MODULES:
        raise RuntimeError(f"The Distiller supports the backends {sorted(_MODULES)}; KERAS_BACKEND is {backend!r}.")
    return importlib.import_module(f"tas_keras.steps.{_MODULES[backend]}")


def train_step_for_backend():
    return _backend_module().train_step


def test_step_for_backend():
    return _backend_module().test_step


def group_gradients_for_backend():
    return _backend_module().group_gradient_sq_norms
