"""Weights from other libraries: timm state dicts (`.safetensors`, `.pth`, `.bin` or a dict of arrays)."""

from tas_keras.convert.state_dict import SUFFIXES, read_state_dict
from tas_keras.convert.timm_loader import load_timm_weights
from tas_keras.models.registry import register_weight_format

register_weight_format(SUFFIXES, load_timm_weights)

__all__ = ["load_timm_weights", "read_state_dict"]
