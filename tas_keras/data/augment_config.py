"""The augmentation settings (no TensorFlow: configs load where only the model core is installed)."""

from dataclasses import dataclass


@dataclass
class AugmentConfig:
    """Every augmentation is off at 0 / False."""

    random_crop_padding: int = 0  # pad by this many pixels, then crop back (CIFAR-style)
    random_resized_crop: bool = False  # scale (0.08, 1), ratio (3/4, 4/3), as in ImageNet training
    horizontal_flip: bool = False
    rand_augment_magnitude: float = 0.0  # RandAugment magnitude on timm's 0..10 scale (m9 -> 9)
    rand_augment_ops: int = 2
    color_jitter: float = 0.0  # brightness / contrast / saturation factor
    random_erasing: float = 0.0  # probability
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
