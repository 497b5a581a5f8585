"""Raw datasets: (images uint8 (N, H, W, 3), labels int) arrays or tf.data, per split.

Offline sources first: `digits` (scikit-learn's bundled handwritten digits) and `fashion_mnist` (the
four standard IDX files, from --data-dir, Debian's `dataset-fashion-mnist` or Keras' cache). tfds
datasets are read from their prepared data_dir; they are downloaded only when asked to
(`download=True`), so an offline machine fails at once with a clear message instead of retrying for
minutes.
"""

import gzip
import logging
import os
import pathlib

import numpy as np

from tas_keras.errors import InputError

SPLITS = ("train", "test")
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DEBIAN_FASHION_DIR = "/usr/share/datasets/fashion-mnist"
KERAS_FASHION_DIR = os.path.join(os.path.expanduser("~"), ".keras", "datasets", "fashion-mnist")
TFDS_DATASETS = {"fashion_mnist": "fashion_mnist", "cifar10": "cifar10", "cifar100": "cifar100", "imagenette": "imagenette/320px-v2", "imagenet2012": "imagenet2012"}
# mean / std per dataset, on [0, 1] pixels
NORMALIZATION = {
    "digits": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "fashion_mnist": ((0.2860,) * 3, (0.3530,) * 3),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
IMAGENET_NORMALIZATION = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

OFFLINE_DATASETS = ("digits", "fashion_mnist")
DATASETS = OFFLINE_DATASETS + tuple(k for k in TFDS_DATASETS if k not in OFFLINE_DATASETS)
FOLDER_PREFIX = "folder:"


def check_dataset_name(name):
    if name not in DATASETS and not name.startswith(FOLDER_PREFIX):
        raise InputError(f"Unknown dataset {name!r}; valid: {', '.join(DATASETS)}, or '{FOLDER_PREFIX}/path/to/root'.")


def normalization(name):
    """(mean, std) of a dataset's pixels on [0, 1]; ImageNet's for datasets without their own."""
    return NORMALIZATION.get(name, IMAGENET_NORMALIZATION)


class DatasetUnavailable(InputError):
    """The dataset is not on this machine; the message says how to get it."""


def _check_split(split):
    if split not in SPLITS:
        raise InputError(f"Unknown split {split!r}; valid splits: {SPLITS}.")


def grey_to_rgb(images):
    return np.repeat(images[..., None], 3, axis=-1)


def load_digits(split):
    """scikit-learn's 1,797 8x8 digits (values 0..16) as uint8 RGB; fixed stratified 80/20 split."""
    _check_split(split)
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    data = sk_digits()
    images = np.round(data.images * (255.0 / 16.0)).astype("uint8")
    x_train, x_test, y_train, y_test = train_test_split(
        images, data.target, test_size=0.2, random_state=0, stratify=data.target
    )
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    return grey_to_rgb(x), y.astype("int64")


def read_idx(path):
    """Reads a (gzipped) IDX file: images (N, rows, cols) or labels (N,) as uint8."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte
        raise InputError(f"{path} is not an unsigned-byte IDX file (magic {magic:#x}).")
    ndim = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise InputError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {array.size}.")
    return array.reshape(shape)


def fashion_mnist_dirs(data_dir=None):
    return [d for d in (data_dir, DEBIAN_FASHION_DIR, KERAS_FASHION_DIR) if d]


def load_fashion_mnist(split, data_dir=None):
    """Fashion-MNIST (60,000 / 10,000 28x28 grey images) from the first folder holding the IDX files."""
    _check_split(split)
    image_file, label_file = FASHION_FILES[split]
    for folder in fashion_mnist_dirs(data_dir):
        images, labels = pathlib.Path(folder, image_file), pathlib.Path(folder, label_file)
        if images.is_file() and labels.is_file():
            return grey_to_rgb(read_idx(images)), read_idx(labels).astype("int64")
    searched = "\n  ".join(fashion_mnist_dirs(data_dir))
    raise DatasetUnavailable(
        f"Fashion-MNIST {split} files ({image_file}, {label_file}) not found in:\n  {searched}\n"
        "Get them one of three ways: (1) pass --data-dir with the four IDX .gz files; "
        "(2) `apt-get install dataset-fashion-mnist` (installs them under /usr/share/datasets/fashion-mnist); "
        "(3) online, `python -c \"import keras; keras.datasets.fashion_mnist.load_data()\"` fills Keras' cache, "
        "or pass --download to read tfds' fashion_mnist."
    )


def tfds_dataset(name, split, data_dir=None, download=False):
    """(tf.data of (uint8 image, label), number of classes, number of examples) of a tfds split, the
    counts from the dataset's own info. Without `download`, a dataset that is not prepared in
    data_dir fails at once, saying where to put the files; with it, so does one whose archives are
    neither in tfds' manual_dir nor reachable."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(TFDS_DATASETS[name], data_dir=data_dir)
    manual = os.path.join(builder.data_dir_root, "downloads", "manual")
    if not _quietly_prepared(builder):
        if not download:
            raise DatasetUnavailable(
                f"tfds dataset {TFDS_DATASETS[name]!r} is not prepared in {builder.data_dir_root}. Online, add "
                f"--download to let tfds fetch it. {_offline_help(manual)}"
            )
        _download_and_prepare(builder, manual)
    tfds_split = {"train": "train", "test": "validation" if name in ("imagenet2012", "imagenette") else "test"}[split]
    ds = builder.as_dataset(split=tfds_split, as_supervised=True, shuffle_files=split == "train")
    return ds, builder.info.features["label"].num_classes, builder.info.splits[tfds_split].num_examples


def _quietly_prepared(builder):
    """builder.is_prepared(), without the absl WARNING tfds logs for a folder that does not exist yet
    ("Variant folder ... has no dataset_info.json"), which would precede our own error for the same case."""
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        return builder.is_prepared()
    finally:
        absl_logger.setLevel(level)


def _offline_help(manual):
    return (f"Offline, copy its archive(s) into {manual} (tfds manual_dir; imagenet2012 always needs "
            "ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar there) and run with --download to prepare it "
            "from there, or point --data-dir at a prepared tfds folder.")


def _download_and_prepare(builder, manual):
    """builder.download_and_prepare with tfds' manual_dir, its failures as one DatasetUnavailable line.
    Offline, tfds retries each URL 10 times with back-off (3.5 minutes for CIFAR-100 before a traceback),
    so a download that cannot start fails first, at once."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

    archives = _archives(builder)
    in_manual = any(os.path.exists(os.path.join(manual, name)) for name in archives.values())
    unreachable = [] if in_manual else unreachable_hosts(list(archives))
    if unreachable:
        raise DatasetUnavailable(
            f"tfds dataset {builder.name!r} downloads from {', '.join(unreachable)}, which this machine cannot "
            f"reach (tfds' checksums name the archive(s): {', '.join(sorted(set(archives.values())))}). {_offline_help(manual)}"
        )
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
    except (OSError, AssertionError, tfds.download.DownloadError, NonMatchingChecksumError) as err:
        cause = (str(err).strip().splitlines() or [""])[0][:300].rstrip(":")
        raise DatasetUnavailable(
            f"tfds could not download or prepare {builder.name!r} ({type(err).__name__}: {cause}). {_offline_help(manual)}"
        ) from err


def _archives(builder):
    """{URL: file name} of the archives the builder's checksums list (those of all its configs), where a
    file of that name in manual_dir replaces the download; {} for datasets that tfds never downloads."""
    infos = builder.url_infos or {}
    return {url: info.filename for url, info in infos.items() if info.filename}


def unreachable_hosts(urls, timeout_s=3.0):
    """The hosts of `urls` when none of them accepts a connection within `timeout_s`, else []: the download
    cannot start. [] also where a proxy is set (the proxy, not this machine, resolves and connects)."""
    import socket
    import urllib.parse
    import urllib.request

    if not urls or urllib.request.getproxies():
        return []
    hosts = {}
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        hosts.setdefault(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    for host, port in hosts.items():
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            return []
        except OSError:
            continue
    return sorted(hosts)


def folder_classes(root):
    train = pathlib.Path(root, "train")
    if not train.is_dir():
        raise DatasetUnavailable(f"Image folder {root!r} has no train/ subfolder (expected ROOT/SPLIT/LABEL/IMAGE).")
    classes = sorted(p.name for p in train.iterdir() if p.is_dir())
    if not classes:
        raise DatasetUnavailable(f"{train} holds no class folders (expected ROOT/train/LABEL/IMAGE).")
    return classes


def folder_dataset(root, split, image_size):
    """ROOT/SPLIT/LABEL/IMAGE (jpeg / png / bmp / gif) as tf.data of (image resized to image_size,
    label), read by keras.utils.image_dataset_from_directory; labels are the sorted class folder names
    of the train split. Returns (dataset, number of classes, number of images)."""
    import keras
    import tensorflow as tf

    _check_split(split)
    classes = folder_classes(root)
    folder = pathlib.Path(root, split)
    if not folder.is_dir():
        raise DatasetUnavailable(f"Image folder {root!r} has no {split}/ subfolder (expected ROOT/SPLIT/LABEL/IMAGE).")
    try:
        ds = keras.utils.image_dataset_from_directory(
            folder, labels="inferred", label_mode="int", class_names=classes, batch_size=None,
            image_size=(image_size, image_size), shuffle=False, verbose=False,
        )
    except ValueError as err:  # no images, class folders that differ from train/'s
        raise DatasetUnavailable(f"Cannot read {folder} as SPLIT/LABEL/IMAGE with the classes of train/ ({classes}): {err}") from None
    count = int(ds.cardinality())
    return ds.map(lambda image, label: (image, tf.cast(label, tf.int64))), len(classes), count
