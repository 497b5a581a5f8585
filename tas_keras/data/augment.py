"""Training augmentation with keras.layers (keras-cv is archived; its augmentations live there now).

Per-image ops run in tf.data.map on uint8-range float images (value range 0..255); MixUp / CutMix run
on whole batches (uint8 pixels, blended as float32 0..255) and turn integer labels into soft one-hot labels.
"""

import keras
import tensorflow as tf

from tas_keras.data.augment_config import AugmentConfig


def random_resized_crop(image, size, seed, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """keras.layers has no RandomResizedCrop: sample a box as torchvision does, crop, resize."""
    shape = tf.shape(image)
    begin, box, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape, bounding_boxes=tf.zeros((1, 0, 4)), seed=seed, area_range=scale, aspect_ratio_range=ratio,
        min_object_covered=0.0, max_attempts=10, use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, box)
    return tf.image.resize(crop, (size, size), method="bilinear")


class ImageAugmenter:
    """Per-image augmentation; `__call__(image, seed)` with image float32 (H, W, 3) in 0..255."""

    def __init__(self, config: AugmentConfig, image_size: int, seed: int):
        self.config, self.size = config, image_size
        layers = []
        if config.random_crop_padding:  # padded in __call__ with tf.pad: ZeroPadding2D is no tf.data layer
            layers.append(keras.layers.RandomCrop(image_size, image_size, seed=seed))
        if config.horizontal_flip:
            layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
        if config.color_jitter:
            f = config.color_jitter
            layers.append(keras.layers.RandomColorJitter(value_range=(0, 255), brightness_factor=f, contrast_factor=f, saturation_factor=(0.5 - f / 2, 0.5 + f / 2), seed=seed))
        if config.rand_augment_magnitude:
            layers.append(keras.layers.RandAugment(value_range=(0, 255), num_ops=config.rand_augment_ops, factor=config.rand_augment_magnitude / 10.0, seed=seed))
        if config.random_erasing:
            layers.append(keras.layers.RandomErasing(factor=config.random_erasing, value_range=(0, 255), seed=seed))
        self.layers = layers

    def __call__(self, image, seed):
        if self.config.random_resized_crop:
            image = random_resized_crop(image, self.size, seed)
        if self.config.random_crop_padding:
            pad = self.config.random_crop_padding
            image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        for layer in self.layers:
            image = layer(image, training=True)
        return tf.cast(image, tf.float32)


class BatchMixer:
    """MixUp and / or CutMix on a batch (one of the two, chosen per batch when both are on)."""

    def __init__(self, config: AugmentConfig, num_classes: int, seed: int):
        self.num_classes = num_classes
        self.mixers = []
        if config.mixup_alpha:
            self.mixers.append(keras.layers.MixUp(alpha=config.mixup_alpha, seed=seed))
        if config.cutmix_alpha:
            self.mixers.append(keras.layers.CutMix(factor=config.cutmix_alpha, seed=seed))

    @property
    def active(self):
        return bool(self.mixers)

    def __call__(self, images, labels):
        batch = {"images": tf.cast(images, tf.float32), "labels": tf.one_hot(labels, self.num_classes)}
        if len(self.mixers) == 1:
            out = self.mixers[0](batch, training=True)
        else:
            out = tf.cond(
                tf.random.uniform(()) < 0.5,
                lambda: self.mixers[0](batch, training=True),
                lambda: self.mixers[1](batch, training=True),
            )
        return out["images"], out["labels"]
