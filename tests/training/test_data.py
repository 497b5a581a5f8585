"""Input pipelines on real offline data (digits, Fashion-MNIST), generated image folders, and the
offline failure of tfds."""

import gzip
import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from tas_keras.data import AugmentConfig, DatasetUnavailable, build_dataset, sources
from tas_keras.data.pipeline import stratified_subset
from tas_keras.data.sources import normalization

FASHION_INSTALLED = os.path.isfile(os.path.join(sources.DEBIAN_FASHION_DIR, "t10k-labels-idx1-ubyte.gz"))
needs_fashion = pytest.mark.skipif(
    not FASHION_INSTALLED and not os.environ.get("CI"), reason="apt-get install dataset-fashion-mnist (CI installs it)"
)


def first_batch(ds):
    images, labels = next(iter(ds))
    return images.numpy(), labels.numpy()


def test_digits_is_real_data_with_a_fixed_split():
    x_train, y_train = sources.load_digits("train")
    x_test, y_test = sources.load_digits("test")
    assert x_train.shape == (1437, 8, 8, 3) and x_test.shape == (360, 8, 8, 3)
    assert x_train.dtype == np.uint8 and x_train.max() == 255
    assert sorted(np.unique(y_test)) == list(range(10))
    again, _ = sources.load_digits("train")
    np.testing.assert_array_equal(again, x_train)


def test_pipeline_resizes_normalises_and_batches():
    ds, info = build_dataset("digits", "test", image_size=32, batch_size=100, normalize=True)
    assert (info.num_classes, info.num_examples, info.batches) == (10, 360, 4)
    images, labels = first_batch(ds)
    assert images.shape == (100, 32, 32, 3) and images.dtype == np.float32 and labels.shape == (100,)
    assert -1.01 <= images.min() and images.max() <= 1.01  # digits are normalised with mean 0.5, std 0.5
    assert sum(b[1].shape[0] for b in ds) == 360


def test_training_pipeline_is_deterministic_for_a_seed():
    augment = AugmentConfig(random_crop_padding=2, horizontal_flip=True, rand_augment_magnitude=9, color_jitter=0.4, random_erasing=0.25)
    a, _ = build_dataset("digits", "train", 32, 32, augment=augment, seed=3)
    b, _ = build_dataset("digits", "train", 32, 32, augment=augment, seed=3)
    c, _ = build_dataset("digits", "train", 32, 32, augment=augment, seed=4)
    np.testing.assert_array_equal(first_batch(a)[0], first_batch(b)[0])
    assert not np.array_equal(first_batch(a)[0], first_batch(c)[0])


def test_parallel_augmentation_keeps_every_image_once():
    augment = AugmentConfig(random_crop_padding=2, rand_augment_magnitude=9, random_erasing=0.25)
    ds, info = build_dataset("digits", "train", 32, 64, augment=augment, seed=0, deterministic=False)
    batches = list(ds)
    assert len(batches) == info.batches == 1437 // 64
    assert all(b[0].shape == (64, 32, 32, 3) and np.isfinite(b[0].numpy()).all() for b in batches)
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert np.bincount(labels, minlength=10).min() > 0  # shuffled across classes, none lost


def test_mixup_and_cutmix_give_soft_labels():
    ds, _ = build_dataset("digits", "train", 32, 16, augment=AugmentConfig(mixup_alpha=0.8, cutmix_alpha=1.0), seed=0)
    images, labels = first_batch(ds)
    assert labels.shape == (16, 10)
    np.testing.assert_allclose(labels.sum(-1), 1.0, atol=1e-5)
    assert ((labels > 0) & (labels < 1)).any()


def test_random_resized_crop_keeps_the_output_size():
    ds, _ = build_dataset("digits", "train", 48, 8, augment=AugmentConfig(random_resized_crop=True), seed=0)
    assert first_batch(ds)[0].shape == (8, 48, 48, 3)


def test_stratified_subset_is_balanced_and_fixed():
    labels = np.repeat(np.arange(10), 100)
    keep = stratified_subset(labels, 250)
    assert len(keep) == 250 and len(set(keep)) == 250
    counts = np.bincount(labels[keep], minlength=10)
    assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(keep, stratified_subset(labels, 250))


@needs_fashion
def test_fashion_mnist_from_the_debian_package():
    x_test, y_test = sources.load_fashion_mnist("test")
    assert x_test.shape == (10000, 28, 28, 3) and np.bincount(y_test).tolist() == [1000] * 10
    ds, info = build_dataset("fashion_mnist", "train", 32, 500, subset=1000, normalize=True)
    assert (info.num_examples, info.num_classes) == (1000, 10)
    images, _ = first_batch(ds)
    assert images.shape == (500, 32, 32, 3) and abs(float(images.mean())) < 0.5


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_from_data_dir_and_clear_message_when_missing(tmp_path, monkeypatch):
    images = np.random.default_rng(0).integers(0, 255, size=(20, 28, 28))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 10)
    x, y = sources.load_fashion_mnist("test", data_dir=str(tmp_path))
    np.testing.assert_array_equal(x[..., 0], images)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(sources, "KERAS_FASHION_DIR", str(tmp_path / "none2"))
    with pytest.raises(DatasetUnavailable, match=r"--data-dir.*apt-get install dataset-fashion-mnist.*fashion_mnist.load_data"):
        sources.load_fashion_mnist("train", data_dir=str(tmp_path))


def test_truncated_idx_file_is_an_error(tmp_path):
    path = tmp_path / "bad-idx3-ubyte.gz"
    write_idx(path, np.zeros((5, 4, 4)))
    data = gzip.open(path).read()[:-10]
    with gzip.open(path, "wb") as f:
        f.write(data)
    with pytest.raises(ValueError, match="truncated"):
        sources.read_idx(path)


def test_image_folder_dataset(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("test", 2)):
        for label in ("cat", "dog", "owl"):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                png = tf.io.encode_png(rng.integers(0, 255, size=(20, 24, 3)).astype(np.uint8)).numpy()
                (folder / f"{i}.png").write_bytes(png)
    ds, info = build_dataset(f"folder:{tmp_path}", "train", 32, 4, augment=AugmentConfig(horizontal_flip=True))
    assert (info.num_classes, info.num_examples) == (3, 18)
    images, labels = first_batch(ds)
    assert images.shape == (4, 32, 32, 3) and set(labels) <= {0, 1, 2}
    test, test_info = build_dataset(f"folder:{tmp_path}", "test", 32, 4, normalize=True)
    assert test_info.num_examples == 6 and sum(b[1].shape[0] for b in test) == 6
    # the test split in order (classes sorted, files sorted), resized bilinearly and rounded to pixel values, labelled by class
    mean, std = (np.asarray(v, "float32") * 255 for v in normalization("folder:x"))
    images = np.concatenate([b[0] for b in test.as_numpy_iterator()]) * std + mean
    labels = np.concatenate([b[1] for b in test.as_numpy_iterator()])
    files = [tmp_path / "test" / c / f"{i}.png" for c in ("cat", "dog", "owl") for i in range(2)]
    expected = [np.round(tf.image.resize(tf.io.decode_png(f.read_bytes(), channels=3), (32, 32)).numpy()) for f in files]
    np.testing.assert_allclose(images, np.stack(expected), atol=1e-3)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    for path in (tmp_path / "test").rglob("*.png"):
        path.unlink()
    with pytest.raises(DatasetUnavailable, match=r"classes of train/ \(\['cat', 'dog', 'owl'\]\): No images found"):
        build_dataset(f"folder:{tmp_path}", "test", 32, 4)


def test_unknown_dataset_and_missing_folder():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnist'.*fashion_mnist.*folder:"):
        build_dataset("mnist", "train", 32, 8)
    with pytest.raises(DatasetUnavailable, match="no train/ subfolder"):
        build_dataset("folder:/nonexistent", "train", 32, 8)


def test_tfds_offline_fails_at_once_with_the_manual_dir(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="absl"):
        with pytest.raises(DatasetUnavailable, match=r"'cifar100' is not prepared.*--download.*downloads/manual"):
            build_dataset("cifar100", "train", 32, 8, data_dir=str(tmp_path))
        assert logging.getLogger("absl").level == logging.WARNING  # the muting is undone
    # our error is the only message: not after tfds' "Variant folder ... has no dataset_info.json"
    assert [r.getMessage() for r in caplog.records if r.name == "absl"] == []


def _no_network(monkeypatch):
    import socket

    def refuse(address, timeout=None):
        raise OSError(f"no route to {address[0]}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)


def test_tfds_download_offline_fails_at_once_naming_host_and_archive(tmp_path, monkeypatch):
    # tfds itself would retry each URL 10 times with back-off, then raise requests' ConnectionError
    _no_network(monkeypatch)
    with pytest.raises(DatasetUnavailable, match=r"'cifar100' downloads from www\.cs\.toronto\.edu, which this machine cannot "
                       r"reach \(.*cifar-100-binary\.tar\.gz\)\. Offline, copy .*downloads/manual"):
        build_dataset("cifar100", "train", 32, 8, data_dir=str(tmp_path), download=True)


def test_unreachable_hosts(monkeypatch):
    urls = ["https://a.example/x.tgz", "http://a.example/y.tgz", "https://b.example:8443/z.tgz"]
    _no_network(monkeypatch)
    assert sources.unreachable_hosts(urls) == ["a.example", "b.example"]
    assert sources.unreachable_hosts([]) == []
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")  # the proxy connects, not this machine
    assert sources.unreachable_hosts(urls) == []


def test_tfds_download_failure_is_one_line_and_a_manual_archive_skips_the_check(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    manual = tmp_path / "downloads" / "manual"
    manual.mkdir(parents=True)
    (manual / "cifar-100-binary.tar.gz").write_bytes(b"")  # tfds would read it instead of downloading
    checked = []
    monkeypatch.setattr(sources, "unreachable_hosts", lambda urls: checked.append(urls) or ["unreachable.example"])

    def fail(self, download_config=None):
        raise ConnectionError("Max retries exceeded with url: /~kriz/cifar-100-binary.tar.gz\nsecond line")

    monkeypatch.setattr(type(tfds.builder("cifar100", data_dir=str(tmp_path))), "download_and_prepare", fail)
    with pytest.raises(DatasetUnavailable, match=r"^tfds could not download or prepare 'cifar100' \(ConnectionError: Max "
                       r"retries exceeded with url: /~kriz/cifar-100-binary\.tar\.gz\)\. Offline, copy") as err:
        build_dataset("cifar100", "train", 32, 8, data_dir=str(tmp_path), download=True)
    assert "\n" not in str(err.value) and checked == []
