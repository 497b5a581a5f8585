"""tas_keras: knowledge distillation between arbitrary teacher and student architectures in Keras 3."""

from tas_keras import losses, methods, schedules  # noqa: F401  (schedules: saved optimizers load)
from tas_keras.distiller import Distiller
from tas_keras.methods import list_methods
from tas_keras.models import Backbone, create_model, feature_extractor, feature_info, list_models, model_family, register_model

__version__ = "0.1.0"

__all__ = [
    "Backbone",
    "Distiller",
    "list_methods",
    "create_model",
    "feature_extractor",
    "feature_info",
    "list_models",
    "model_family",
    "register_model",
]
