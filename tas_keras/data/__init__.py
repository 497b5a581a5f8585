"""Input pipelines (TensorFlow / tf.data; the training layer's only TensorFlow-only part besides tf.distribute).

The names below load on first use, so that `tas_keras.data.augment_config` and `tas_keras.data.sources`
(configs, dataset normalisations) import without TensorFlow, as the benchmark does on a JAX-only GPU machine.
"""

import importlib

_WHERE = {
    "AugmentConfig": "augment_config",
    "DATASETS": "sources", "OFFLINE_DATASETS": "sources", "check_dataset_name": "sources", "DatasetUnavailable": "sources",
    "DatasetInfo": "pipeline", "build_dataset": "pipeline", "offline_arrays": "pipeline", "stratified_subset": "pipeline",
}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'tas_keras.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tas_keras.data.{_WHERE[name]}"), name)
