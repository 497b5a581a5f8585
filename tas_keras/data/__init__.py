"""Input pipelines (TensorFlow / tf.data; the training layer's only TensorFlow-only part besides tf.distribute)."""

from tas_keras.data.augment import AugmentConfig
from tas_keras.data.pipeline import DATASETS, OFFLINE_DATASETS, DatasetInfo, build_dataset, check_dataset_name, offline_arrays, stratified_subset
from tas_keras.data.sources import DatasetUnavailable

__all__ = ["AugmentConfig", "DATASETS", "OFFLINE_DATASETS", "DatasetInfo", "DatasetUnavailable", "build_dataset", "check_dataset_name",
           "offline_arrays", "stratified_subset"]
