"""tf.data input pipelines: source -> (subset) -> shuffle -> resize / augment -> uint8 (or normalise) ->
batch -> (MixUp / CutMix) -> prefetch. Deterministic for a given seed.

Training sends uint8 pixels (a quarter of float32's bytes) and the Distiller normalises them inside its
step (tas_keras.pixels); resized / augmented images are rounded back to uint8 first, as torchvision's
PIL transforms do. Batches mixed by MixUp / CutMix are blends, so they stay float32 on the 0..255 scale.
`normalize=True` gives normalised float32 images for a plain model (evaluation, the teacher stage),
computed exactly as the step computes them.
Transfers overlap the step without code here: tf.distribute's distributed datasets fetch batches to the
devices ahead, and Keras' JAX trainer device_puts one batch ahead on accelerators."""

from dataclasses import dataclass

import numpy as np

from tas_keras.quiet_import import import_quietly

tf = import_quietly("tensorflow")  # first loaded here on the JAX and torch backends: its import-time log lines obey the level

from tas_keras.data import sources
from tas_keras.data.augment import BatchMixer, ImageAugmenter
from tas_keras.data.sources import FOLDER_PREFIX, OFFLINE_DATASETS, check_dataset_name, normalization
from tas_keras.errors import InputError
from tas_keras.pixels import pixel_scale


@dataclass
class DatasetInfo:
    name: str
    split: str
    num_classes: int
    num_examples: int  # after subsetting; -1 when unknown (streamed tfds data)
    batches: int  # batches per epoch; -1 when unknown
    normalization: tuple  # (mean, std) per channel, 0..1 scale


def stratified_subset(labels, count, seed=0):
    """Indices of a fixed class-balanced subset of `count` examples (the same for every run): classes
    take turns, each in a seeded random order."""
    rng = np.random.default_rng(seed)
    rank = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members] = rng.permutation(len(members))
    return np.sort(np.lexsort((labels, rank))[:count])


def offline_arrays(name, split, data_dir=None):
    """(uint8 images NHWC RGB, int64 labels) of a dataset that ships on this machine (digits, fashion_mnist)."""
    if name not in OFFLINE_DATASETS:
        raise InputError(f"{name!r} is not an offline dataset; valid: {', '.join(OFFLINE_DATASETS)}.")
    return sources.load_digits(split) if name == "digits" else sources.load_fashion_mnist(split, data_dir)


def _source(name, split, data_dir, download, image_size):
    """(tf.data of (uint8 image, int64 label), num_classes, num_examples or -1, labels array or None)."""
    if name == "digits":
        x, y = offline_arrays(name, split)
    elif name == "fashion_mnist":
        try:
            x, y = offline_arrays(name, split, data_dir)
        except sources.DatasetUnavailable:
            if not download:
                raise
            return (*sources.tfds_dataset("fashion_mnist", split, data_dir, download), None)
    elif name.startswith(FOLDER_PREFIX):
        ds, classes, count = sources.folder_dataset(name[len(FOLDER_PREFIX):], split, image_size)
        return ds, classes, count, None
    else:
        return (*sources.tfds_dataset(name, split, data_dir, download), None)
    return (x, y), int(y.max()) + 1, len(y), y  # both offline sets hold every class in each split


def build_dataset(name, split, image_size, batch_size, augment=None, seed=0, data_dir=None, download=False, subset=None, shuffle=None,
                  deterministic=True, normalize=False):
    """Returns (tf.data.Dataset of (images NHWC, labels), DatasetInfo).

    Images: uint8 pixels (float32 0..255 for batches MixUp / CutMix mixed), to be normalised with
    `info.normalization` inside the step (Distiller(pixel_normalization=...)); normalize=True: float32
    (pixels - 255 mean) / (255 std) for a plain model.

    subset: keep a fixed class-balanced subset of this many examples (offline datasets) or the first
    `subset` examples (tfds / folders). augment: an AugmentConfig for training, None for evaluation.
    deterministic=False augments in parallel threads: several times faster on many cores, but the
    random draws then depend on thread timing.
    """
    check_dataset_name(name)
    raw, num_classes, count, labels = _source(name, split, data_dir, download, image_size)
    if isinstance(raw, tuple):
        x, y = raw
        if subset:
            keep = stratified_subset(y, min(subset, len(y)))
            x, y, count = x[keep], y[keep], len(keep)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        ds = raw.take(subset) if subset else raw
        count = min(count, subset) if (subset and count > 0) else count
    shuffle = augment is not None if shuffle is None else shuffle
    if shuffle:
        ds = ds.shuffle(max(count, 1000) if count > 0 else 10_000, seed=seed, reshuffle_each_iteration=True)
    mean_std = normalization(name)
    mean, inv_std = (tf.constant(v) for v in pixel_scale(mean_std))  # the step's own constants

    def to_model_input(image):
        # Both paths hold the same pixel values, rounded to what a stored image holds: without the
        # rounding here, a resized image evaluated with normalize=True (tools/evaluate.py) differed
        # from the uint8 one the training run evaluated, and a near-tie prediction could flip.
        pixels = tf.round(tf.clip_by_value(image, 0.0, 255.0))
        if normalize:
            return (pixels - mean) * inv_std
        return tf.cast(pixels, tf.uint8)
    augmenter = ImageAugmenter(augment, image_size, seed) if augment is not None else None

    def resize(example):
        image, label = example
        return tf.image.resize(tf.cast(image, tf.float32), (image_size, image_size), method="bilinear"), label

    def augment_image(index, example):
        image, label = example
        return augmenter(image, tf.stack([tf.cast(seed, tf.int64), index])), label

    ds = ds.enumerate().map(lambda i, ex: (i, resize(ex)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augmenter is not None and deterministic:
        # Sequential: keras' random layers draw from a stateful seed generator, so only a fixed call
        # order makes the augmentation reproducible for a seed.
        ds = ds.map(augment_image)
    elif augmenter is not None:
        ds = ds.map(augment_image, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    else:
        ds = ds.map(lambda i, ex: ex)
    ds = ds.map(lambda image, label: (to_model_input(image), label), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    drop = augment is not None
    ds = ds.batch(batch_size, drop_remainder=drop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    mixer = BatchMixer(augment, num_classes, seed) if augment is not None else None
    if mixer is not None and mixer.active:
        ds = ds.map(mixer, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = -1 if count < 0 else (count // batch_size if drop else -(-count // batch_size))
    return ds.prefetch(tf.data.AUTOTUNE), DatasetInfo(name, split, num_classes, count, batches, mean_std)


__all__ = ["DatasetInfo", "build_dataset", "offline_arrays", "stratified_subset"]
