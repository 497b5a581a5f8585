"""tas_keras: knowledge distillation between arbitrary teacher and student architectures in Keras 3."""

import os as _os
import sys as _sys

if _os.path.basename((getattr(_sys, "argv", None) or [""])[0]) in ("tas-train", "tas-evaluate", "tas-convert-timm"):
    # Our installed commands import this package (and with it TensorFlow) before their code runs:
    # the log level of tas_keras.cli.common.quiet_tensorflow must be set here to take effect.
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

if "tensorflow" not in _sys.modules:
    # TensorFlow's oneDNN CPU kernels (matmuls, convolutions, fused ops): TensorFlow turns them on by
    # default only on CPUs with AVX-512 VNNI / BF16 or AMX, and reads this variable once, when it is
    # imported. On an AVX2-only AMD EPYC they made the distillation steps measured up to 32% faster, 16%
    # at the paper's student size (docs/speed.md, "oneDNN on CPUs without AVX-512"). Set TF_ENABLE_ONEDNN_OPTS=0
    # to keep TensorFlow's choice; a program that imports TensorFlow before tas_keras keeps it too.
    _os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from tas_keras.quiet_import import import_quietly as _import_quietly

_import_quietly("keras")  # on its TensorFlow backend keras loads TensorFlow: its import-time log lines obey the level

from tas_keras import convert, losses, methods, schedules  # noqa: F401  (schedules: saved optimizers load; convert: timm weight files)
from tas_keras.convert import load_timm_weights
from tas_keras.distiller import Distiller
from tas_keras.methods import list_methods
from tas_keras.models import AdaptedModel, Backbone, adapt, create_model, feature_extractor, feature_info, list_models, model_family, register_model

__version__ = "0.1.0"

__all__ = [
    "AdaptedModel",
    "Backbone",
    "adapt",
    "Distiller",
    "list_methods",
    "create_model",
    "feature_extractor",
    "feature_info",
    "list_models",
    "load_timm_weights",
    "model_family",
    "register_model",
]
