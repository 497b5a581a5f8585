"""The model zoo. Importing the family packages registers their variants."""

from tas_keras.models import convnext, mixer, mobilenetv2, resnet, swin, vit  # noqa: F401  (registration)
from tas_keras.models.adapted import AdaptedModel, adapt
from tas_keras.models.applications import set_batchnorm_momentum
from tas_keras.models.backbone import Backbone
from tas_keras.models.features import feature_extractor, feature_info
from tas_keras.models.registry import create_model, is_model_name, list_models, load_weights, model_family, register_model

__all__ = [
    "AdaptedModel",
    "adapt",
    "Backbone",
    "create_model",
    "feature_extractor",
    "feature_info",
    "is_model_name",
    "list_models",
    "load_weights",
    "model_family",
    "register_model",
    "set_batchnorm_momentum",
]
