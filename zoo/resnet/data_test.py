"""Tests of the CIFAR-10 pipeline (zoo/resnet/data.py) on the real-pixel fixture tests/fixtures/cifar10_tiny.npz."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

import zoo
from zoo.config import TrainConfig
from zoo.datasets import DataError
from zoo.resnet.data import (
    AugmentedImages,
    ResNetDataOptions,
    load_cifar10,
    make_cifar10_data,
    random_crop_and_flip,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
FIXTURE = os.path.join(FIXTURES, "cifar10_tiny.npz")
# The first labels of CIFAR-10's data_batch_1 and test_batch, as published with the dataset.
FIRST_TRAIN_LABELS = [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
FIRST_TEST_LABELS = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]


def test_fixture_is_the_start_of_real_cifar10():
    arrays, info = load_cifar10(FIXTURES)
    assert arrays["x_train"].shape == (64, 32, 32, 3) and arrays["x_test"].shape == (32, 32, 32, 3)
    assert arrays["x_train"].dtype == np.uint8
    assert list(arrays["y_train"][:10]) == FIRST_TRAIN_LABELS
    assert list(arrays["y_test"][:10]) == FIRST_TEST_LABELS
    assert info["source"].endswith("cifar10_tiny.npz") and len(info["sha256"]) == 64
    same, _ = load_cifar10(FIXTURE)  # the .npz path itself works too
    np.testing.assert_array_equal(same["x_test"], arrays["x_test"])


def test_python_pickle_layout(tmp_path):
    with np.load(FIXTURE) as data:
        x_train, y_train, x_test, y_test = (data[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()

    def write(name, images, labels):
        # The published format: each row is the 1024 red, then green, then blue values, row-major.
        rows = np.stack([images[..., c].reshape(len(images), -1) for c in range(3)], axis=1).reshape(
            len(images), -1
        )
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rows, b"labels": [int(v) for v in labels]}, f)

    for i in range(5):
        write(f"data_batch_{i + 1}", x_train[i * 12 : (i + 1) * 12], y_train[i * 12 : (i + 1) * 12])
    write("test_batch", x_test, y_test)
    arrays, _ = load_cifar10(str(tmp_path))
    np.testing.assert_array_equal(arrays["x_train"], x_train[:60])
    np.testing.assert_array_equal(arrays["y_train"], y_train[:60])
    np.testing.assert_array_equal(arrays["x_test"], x_test)
    os.remove(folder / "data_batch_3")
    with pytest.raises(DataError, match="data_batch_3"):
        load_cifar10(str(tmp_path))


def test_missing_or_malformed_data_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_cifar10(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        load_cifar10(str(tmp_path))
    bad = tmp_path / "cifar10.npz"
    np.savez(
        bad,
        x_train=np.zeros((2, 28, 28), "uint8"),
        y_train=[0, 1],
        x_test=np.zeros((1, 32, 32, 3)),
        y_test=[0],
    )
    with pytest.raises(DataError, match="x_train must be uint8"):
        load_cifar10(str(tmp_path))
    np.savez(bad, x_train=np.zeros((2, 32, 32, 3), "uint8"), y_train=[0, 1])
    with pytest.raises(DataError, match="x_test"):
        load_cifar10(str(tmp_path))


def _is_crop_of(output: np.ndarray, source: np.ndarray, padding: int) -> tuple[int, int, bool] | None:
    """The (row offset, column offset, flipped) of a crop of the zero-padded source equal to output, by search."""
    height, width, _ = source.shape
    padded = np.zeros((height + 2 * padding, width + 2 * padding, source.shape[2]), source.dtype)
    padded[padding : padding + height, padding : padding + width] = source
    for flipped in (False, True):
        for row in range(2 * padding + 1):
            for col in range(2 * padding + 1):
                crop = padded[row : row + height, col : col + width]
                if np.array_equal(crop[:, ::-1] if flipped else crop, output):
                    return row, col, flipped
    return None


def test_augmentation_is_a_padded_crop_and_flip_with_uniform_offsets():
    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, size=(400, 6, 6, 3), dtype=np.uint8)
    labels = np.arange(400)  # the label names the source image
    dataset = AugmentedImages(images, labels, batch_size=100, seed=3, padding=2)
    found = []
    for index in range(len(dataset)):
        batch, batch_labels = dataset[index]
        for output, label in zip(batch, batch_labels):
            match = _is_crop_of(output.astype("uint8"), images[label], padding=2)
            assert match is not None, f"batch {index}: output for image {label} is no padded crop/flip of it"
            found.append(match)
    flips = np.mean([flipped for _, _, flipped in found])
    offsets = np.bincount([5 * row + col for row, col, _ in found], minlength=25)
    assert 0.42 < flips < 0.58  # 400 fair coin flips: 4 standard deviations
    assert offsets.min() >= 4 and offsets.max() <= 34  # 25 offsets, 16 expected each
    assert sorted(np.concatenate([dataset[i][1] for i in range(len(dataset))])) == list(range(400))


def test_batches_depend_only_on_seed_epoch_and_index():
    with np.load(FIXTURE) as data:
        images, labels = data["x_train"], data["y_train"]
    first = AugmentedImages(images, labels, batch_size=24, seed=5)
    second = AugmentedImages(images, labels, batch_size=24, seed=5)
    assert len(first) == 3 and len(first[2][0]) == 64 - 48
    second.set_epoch(2)
    late = second[1]
    first.on_epoch_end()
    first.on_epoch_end()  # epoch 2 reached the ordinary way, after serving other batches
    first[0]
    np.testing.assert_array_equal(first[1][0], late[0])
    np.testing.assert_array_equal(first[1][1], late[1])
    # Each epoch's batches cover every image once, in a new order.
    orders = [
        np.concatenate([first.batch_rows(i, 0, epoch=epoch) for i in range(len(first))]) for epoch in range(3)
    ]
    assert all(sorted(order) == list(range(64)) for order in orders)
    assert not np.array_equal(orders[0], orders[1])
    other_seed = AugmentedImages(images, labels, batch_size=24, seed=6)
    other_seed.set_epoch(2)
    assert not np.array_equal(other_seed[1][0], late[0])
    plain = AugmentedImages(images, labels, batch_size=24, seed=5, augment=False, shuffle=False)
    np.testing.assert_array_equal(plain[1][0], images[24:48].astype("float32"))


def test_crop_without_padding_only_flips():
    images = np.random.default_rng(1).integers(0, 256, size=(50, 4, 5, 3), dtype=np.uint8)
    out = random_crop_and_flip(images, np.random.default_rng(2), padding=0)
    for original, result in zip(images, out):
        assert np.array_equal(result, original) or np.array_equal(result, original[:, ::-1])


class _Oracle:
    """A stand-in model that scores the true label highest for the first `correct` images, class 0 otherwise."""

    def __init__(self, labels: np.ndarray, correct: int):
        self.labels, self.correct, self.seen = labels, correct, 0

    def predict_on_batch(self, images: np.ndarray) -> np.ndarray:
        labels = self.labels[self.seen : self.seen + len(images)].copy()
        labels[np.arange(self.seen, self.seen + len(images)) >= self.correct] = 0
        self.seen += len(images)
        return np.eye(10)[labels]


def test_make_data_on_the_fixture_and_evaluation():
    config = TrainConfig(model="resnet34", data_kwargs={"train_size": 40}, batch_size=16, seed=1)
    data = make_cifar10_data(config, FIXTURES)
    assert len(data.train) == 3 and len(data.validation) == 2
    assert data.info["train_examples"] == 40 and data.info["test_examples"] == 32
    images, labels = data.train[0]
    assert images.shape == (16, 32, 32, 3) and images.dtype == np.float32 and labels.dtype == np.int32
    with np.load(FIXTURE) as fixture:
        y_test = fixture["y_test"].astype("int32")
    # 20 of 32 right by construction, plus those of the other 12 whose true class is 0.
    expected = (20 + np.sum(y_test[20:] == 0)) / 32
    assert data.evaluate(_Oracle(y_test, correct=20))["test_accuracy"] == pytest.approx(expected)


@pytest.mark.parametrize(
    "data_kwargs, message",
    [
        ({"dataset": "mnist"}, "'cifar10', 'synthetic' or 'imagenet2012'"),
        ({"train_size": 0}, "train_size"),
        ({"image_size": 64}, "image_size' applies only to dataset 'synthetic' or 'imagenet2012'"),
        ({"shuffle_buffer": 8}, "shuffle_buffer' applies only to dataset 'imagenet2012'"),
        ({"dataset": "synthetic", "num_classes": 1}, "num_classes must be an integer >= 2"),
        ({"augment": 1}, "augment must be True or False"),
    ],
)
def test_bad_data_kwargs(data_kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_cifar10_data(TrainConfig(model="resnet34", data_kwargs=data_kwargs), FIXTURES)


def test_data_options_fill_each_datasets_defaults_and_refuse_unknown_keys():
    assert ResNetDataOptions() == ResNetDataOptions(dataset="cifar10", augment=True, padding=4)
    synthetic = ResNetDataOptions(dataset="synthetic")
    assert (synthetic.image_size, synthetic.num_classes, synthetic.shuffle_buffer) == (32, 10, None)
    imagenet = ResNetDataOptions(dataset="imagenet2012")
    assert (imagenet.image_size, imagenet.shuffle_buffer, imagenet.augment) == (224, 10_000, None)
    entry = zoo.get("resnet34")
    with pytest.raises(ValueError, match="Unknown data_kwargs key 'train_sizes'"):
        entry.check_options(entry.config("smoke").replace(data_kwargs={"train_sizes": 10}))


def test_synthetic_data_is_seeded_and_class_dependent():
    config = TrainConfig(
        model="resnet34", data_kwargs={"dataset": "synthetic", "train_size": 60}, batch_size=60
    )
    first, second = make_cifar10_data(config, None), make_cifar10_data(config, None)
    np.testing.assert_array_equal(first.train[0][0], second.train[0][0])
    images, labels = first.validation[0]
    means = np.stack([images[labels == k].mean(axis=(0, 1, 2)) for k in range(10)])
    # The class tints are far apart compared with the per-image noise: nearest tint recovers the class.
    per_image = images.mean(axis=(1, 2))
    assert np.mean(np.argmin(((per_image[:, None] - means[None]) ** 2).sum(-1), axis=1) == labels) > 0.9
