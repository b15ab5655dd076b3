"""Image data for the ResNets: CIFAR-10 (numpy, deterministic augmentation) and ImageNet (tensorflow-datasets).

CIFAR-10 comes from `--data_dir` (the Keras/python-pickle layout `cifar-10-batches-py/`, or an `.npz` with
`x_train`, `y_train`, `x_test`, `y_test` such as the project's lossless 4,000/1,000 subset), else from
`keras.datasets.cifar10` (one download, cached in ~/.keras/datasets). Training batches are augmented as in He et al.
2015: a random 32x32 crop of the image zero-padded by 4 pixels, and a horizontal flip with probability 1/2. Batch i
of epoch e is made from (seed, e, i) alone, so a resumed run sees exactly the batches an uninterrupted one would.

ImageNet (ILSVRC 2012) comes from tensorflow-datasets' `imagenet2012`, which cannot download it: `--data_dir` must be
its manual download directory with ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar (see `imagenet.py`).

"synthetic" is a seeded random dataset of 32x32 (or any size) images whose class is visible in the colours; the smoke
configs use it so that they run anywhere, without data or network.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from zoo.batches import SeededBatches
from zoo.config import TrainConfig
from zoo.datasets import NPZ_READ_ERRORS, DataError, error_text, find_file, sha256_file
from zoo.registry import TaskData

CIFAR10_NPZ_CANDIDATES = (
    "cifar10_lossless_subset.npz",
    os.path.join("cifar10", "cifar10_lossless_subset.npz"),
    "cifar10.npz",
    os.path.join("cifar10", "cifar10.npz"),
    "cifar10_tiny.npz",
)
CIFAR10_PICKLE_CANDIDATES = ("cifar-10-batches-py", os.path.join("cifar10", "cifar-10-batches-py"))
_NUM_CLASSES = 10
# The options each dataset reads besides dataset, train_size and test_size, with their defaults (the one place
# they are set). An option another dataset reads is refused rather than ignored.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "cifar10": {"augment": True, "padding": 4},
    "synthetic": {"augment": True, "padding": 4, "image_size": 32, "num_classes": _NUM_CLASSES},
    "imagenet2012": {"image_size": 224, "tfds_data_dir": None, "shuffle_buffer": 10_000},
}
# Synthetic runs need some data: these sizes when train_size / test_size are not given.
_SYNTHETIC_SIZES = {"train_size": 512, "test_size": 128}


@dataclasses.dataclass(frozen=True)
class ResNetDataOptions:
    """The ResNets' data options (`TrainConfig.data_kwargs`); None means the dataset's default.

    Args:
        dataset: "cifar10", "synthetic" (seeded random images, no download) or "imagenet2012".
        train_size, test_size: use only the first this many images of each split; None: all of them (synthetic:
            512 and 128).
        augment: random crop + flip on training batches (cifar10, synthetic; default True).
        padding: zero padding before the random crop (cifar10, synthetic; default 4).
        image_size: the synthetic images' size (default 32), or ImageNet's crop size (default 224; the model's
            input_shape must match).
        num_classes: of the synthetic data (default 10).
        tfds_data_dir: tensorflow-datasets' data directory for ImageNet (default: its own default).
        shuffle_buffer: ImageNet examples in the shuffle buffer (default 10,000).

    After construction every option the dataset reads holds its value (defaults filled in from
    `DATASET_DEFAULTS`); the others are None.

    Raises:
        ValueError: naming the option: an unknown dataset, an out-of-range value, or an option the dataset does
            not read.
    """

    dataset: str = "cifar10"
    train_size: int | None = None
    test_size: int | None = None
    augment: bool | None = None
    padding: int | None = None
    image_size: int | None = None
    num_classes: int | None = None
    tfds_data_dir: str | None = None
    shuffle_buffer: int | None = None

    def __post_init__(self) -> None:
        if self.dataset not in DATASET_DEFAULTS:
            raise ValueError(
                f"data_kwargs dataset must be 'cifar10', 'synthetic' or 'imagenet2012'; got {self.dataset!r}."
            )
        defaults = DATASET_DEFAULTS[self.dataset]
        for name in ("augment", "padding", "image_size", "num_classes", "tfds_data_dir", "shuffle_buffer"):
            value = getattr(self, name)
            if name not in defaults:
                if value is not None:
                    readers = [dataset for dataset, options in DATASET_DEFAULTS.items() if name in options]
                    raise ValueError(
                        f"data_kwargs {name!r} applies only to dataset {' or '.join(map(repr, readers))}; the "
                        f"dataset is {self.dataset!r}."
                    )
            elif value is None:
                # Frozen: fill the dataset's default the only way a frozen dataclass allows.
                object.__setattr__(self, name, defaults[name])
        minimum_image_size = 32 if self.dataset == "imagenet2012" else 1
        for name, minimum in (
            ("train_size", 1),
            ("test_size", 1),
            ("padding", 0),
            ("image_size", minimum_image_size),
            ("num_classes", 2),
            ("shuffle_buffer", 1),
        ):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < minimum
            ):
                raise ValueError(f"data_kwargs {name} must be an integer >= {minimum}; got {value!r}.")
        if self.augment is not None and not isinstance(self.augment, bool):
            raise ValueError(f"data_kwargs augment must be True or False; got {self.augment!r}.")
        if self.tfds_data_dir is not None and not isinstance(self.tfds_data_dir, str):
            raise ValueError(f"data_kwargs tfds_data_dir must be a path or None; got {self.tfds_data_dir!r}.")


class AugmentedImages(SeededBatches):
    """Batches of images and labels, shuffled and augmented reproducibly from (seed, epoch, batch index).

    Args:
        images: uint8 array (n, height, width, channels).
        labels: integer array (n,).
        batch_size: images per batch; the last batch of an epoch holds the remainder.
        seed: seeds the per-epoch order and the augmentation.
        augment: random crop of the `padding`-padded image and horizontal flip; False yields the images as they are.
        shuffle: a new order each epoch; False keeps the stored order.
        padding: zero padding (pixels) on each side before the random crop.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of keras.utils.PyDataset.

    `__getitem__` serves the epoch `epoch`, which advances in `on_epoch_end`; a trainer resuming at epoch e calls
    `set_epoch(e)` first (zoo.training does so before every epoch).
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        seed: int,
        augment: bool = True,
        shuffle: bool = True,
        padding: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size, seed, **kwargs)
        if images.ndim != 4 or len(images) != len(labels) or len(images) == 0:
            raise ValueError(
                f"images must be (n, height, width, channels) with n = len(labels) > 0; got {images.shape} images "
                f"and {len(labels)} labels."
            )
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be an integer >= 0; got {padding!r}.")
        self.images = images
        self.num_examples = len(images)
        self.labels = np.asarray(labels, dtype="int32").reshape(-1)
        self.augment = augment
        self.shuffle = shuffle
        self.padding = padding

    def batch(self, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch `index` of `epoch`: float32 images in [0, 255] and int32 labels."""
        # Stream 0 = order, stream 1 = augmentation: separate seed sequences, never overlapping.
        chosen = self.batch_rows(index, 0, epoch=epoch, shuffle=self.shuffle)
        images = self.images[chosen]
        if self.augment:
            rng = np.random.default_rng([self.seed, 1, epoch, index])
            images = random_crop_and_flip(images, rng, self.padding)
        return images.astype("float32"), self.labels[chosen]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.batch(self.epoch, index)

    def on_epoch_end(self) -> None:
        self.epoch += 1


def random_crop_and_flip(images: np.ndarray, rng: np.random.Generator, padding: int) -> np.ndarray:
    """Crops each image at a random offset from its zero-padded copy and flips it horizontally with p = 1/2.

    Args:
        images: (n, height, width, channels).
        rng: the generator the offsets and flips are drawn from (offsets first, then flips).
        padding: pixels of zero padding on each side; 0 leaves only the flip.

    Returns:
        An array of the same shape and dtype.
    """
    n, height, width, _ = images.shape
    offsets = rng.integers(0, 2 * padding + 1, size=(n, 2))
    flips = rng.random(n) < 0.5
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    rows = offsets[:, :1] + np.arange(height)
    cols = offsets[:, 1:] + np.arange(width)
    cols = np.where(flips[:, None], cols[:, ::-1], cols)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def load_cifar10(data_dir: str | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """CIFAR-10 as uint8 images (n, 32, 32, 3) and int labels, with where it came from.

    Args:
        data_dir: a directory holding `cifar-10-batches-py/` or a CIFAR-10 `.npz` (see CIFAR10_NPZ_CANDIDATES), or
            the path of such an `.npz`; None downloads through keras.datasets (cached in ~/.keras/datasets).

    Returns:
        ({"x_train", "y_train", "x_test", "y_test"}, info with "source" and, for a file, its "sha256").

    Raises:
        DataError: nothing usable at data_dir, a malformed file, or a failed download.
    """
    if data_dir is None:
        try:
            (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
        except Exception as error:  # noqa: BLE001 - urllib, tarfile and OS errors all mean the same to the user
            raise DataError(
                f"Could not download CIFAR-10 through keras.datasets ({error}). Without network access, pass "
                f"--data_dir pointing at cifar-10-batches-py/ or a CIFAR-10 .npz."
            ) from error
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        return _checked(arrays, "keras.datasets.cifar10"), {"source": "keras.datasets.cifar10"}
    if os.path.isfile(data_dir):
        return _load_npz(data_dir)
    try:
        path = find_file(data_dir, CIFAR10_NPZ_CANDIDATES + CIFAR10_PICKLE_CANDIDATES, "CIFAR-10 data")
    except DataError as error:
        raise DataError(f"{error} (the python-pickle directory from cs.toronto.edu or an .npz).") from None
    return _load_pickles(path) if os.path.isdir(path) else _load_npz(path)


def _load_npz(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    try:
        with np.load(path) as data:
            arrays = {key: data[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as error:
        raise DataError(
            f"{path} lacks the array {error}: expected x_train, y_train, x_test, y_test."
        ) from None
    except NPZ_READ_ERRORS as error:
        raise DataError(
            f"Cannot read {path}: it is truncated or corrupt ({error_text(error)}); expected an intact "
            ".npz with x_train, y_train, x_test, y_test (uint8 images (n, 32, 32, 3), labels 0..9)."
        ) from None
    return _checked(arrays, path), {"source": os.path.abspath(path), "sha256": sha256_file(path)}


def _load_pickles(directory: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            raise DataError(f"{path} is missing: cifar-10-batches-py/ needs data_batch_1..5 and test_batch.")
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            pixels = np.asarray(batch[b"data"], dtype="uint8")
            labels = np.asarray(batch[b"labels"])
        except (OSError, pickle.UnpicklingError, KeyError, TypeError, EOFError) as error:
            raise DataError(f"{path} is not a CIFAR-10 python pickle batch ({error!r}).") from None
        # Rows hold the red, green and blue 32x32 planes one after another.
        return pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels

    train = [read(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = read("test_batch")
    arrays = {
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": x_test,
        "y_test": y_test,
    }
    return _checked(arrays, directory), {"source": os.path.abspath(directory)}


def _checked(arrays: Mapping[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    result = {}
    for split in ("train", "test"):
        x, y = np.asarray(arrays[f"x_{split}"]), np.asarray(arrays[f"y_{split}"]).reshape(-1)
        if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or x.dtype != np.uint8:
            raise DataError(f"{source}: x_{split} must be uint8 (n, 32, 32, 3); got {x.dtype} {x.shape}.")
        if len(y) != len(x) or (len(y) and (y.min() < 0 or y.max() >= _NUM_CLASSES)):
            raise DataError(f"{source}: y_{split} must hold {len(x)} labels in [0, 9].")
        result[f"x_{split}"], result[f"y_{split}"] = x, y.astype("int32")
    return result


def synthetic_images(
    count: int, seed: int, image_size: int = 32, num_classes: int = _NUM_CLASSES
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random uint8 images whose class sets a colour tint and a brighter quadrant; labels cycle 0..k-1.

    Learnable by a small convnet within a few steps, so smoke runs can tell "trains" from "does nothing".
    """
    rng = np.random.default_rng([seed, 2, count, image_size, num_classes])
    labels = np.arange(count) % num_classes
    tints = np.random.default_rng([7, num_classes]).uniform(40, 215, size=(num_classes, 3))
    images = tints[labels][:, None, None, :] + rng.normal(0, 30, size=(count, image_size, image_size, 3))
    half = image_size // 2
    for label in range(num_classes):
        row, col = divmod(label % 4, 2)
        images[labels == label, row * half : (row + 1) * half, col * half : (col + 1) * half] += 40
    return np.clip(images, 0, 255).astype("uint8"), labels.astype("int32")


def accuracy_of(model: Any, images: np.ndarray, labels: np.ndarray, batch_size: int, top_k: int = 1) -> float:
    """Fraction of `images` whose label is among the model's `top_k` highest outputs, predicted batch by batch."""
    hits = 0
    for start in range(0, len(images), batch_size):
        scores = np.asarray(model.predict_on_batch(images[start : start + batch_size].astype("float32")))
        best = np.argsort(-scores, axis=-1, kind="stable")[:, :top_k]
        hits += int(np.sum(best == labels[start : start + batch_size, None]))
    return hits / len(images)


def make_data(config: TrainConfig, data_dir: str | None) -> TaskData:
    """CIFAR-10 / synthetic images (`make_cifar10_data`) or ImageNet (`imagenet.make_imagenet_data`).

    Args:
        config: the run; its data_kwargs are `ResNetDataOptions`, whose `dataset` picks the loader.
        data_dir: see the chosen loader; None means download (CIFAR-10) or an already prepared copy (ImageNet).

    Returns:
        The TaskData of the chosen dataset.
    """
    if ResNetDataOptions(**config.data_kwargs).dataset == "imagenet2012":
        # Imported here: the ImageNet pipeline needs TensorFlow and tensorflow-datasets.
        from zoo.resnet.imagenet import make_imagenet_data

        return make_imagenet_data(config, data_dir)
    return make_cifar10_data(config, data_dir)


def make_cifar10_data(config: TrainConfig, data_dir: str | None) -> TaskData:
    """CIFAR-10 (or the synthetic stand-in) for `train_and_evaluate`; data_kwargs are `ResNetDataOptions`.

    The validation data is the test split without augmentation: the curves show the metric the seed reports;
    nothing is selected on it during training.
    """
    options = ResNetDataOptions(**config.data_kwargs)
    if options.dataset == "cifar10":
        arrays, info = load_cifar10(data_dir)
    elif options.dataset == "synthetic":
        sizes = {key: getattr(options, key) or default for key, default in _SYNTHETIC_SIZES.items()}
        arrays = {}
        for seed, split in enumerate(("train", "test")):
            arrays[f"x_{split}"], arrays[f"y_{split}"] = synthetic_images(
                sizes[f"{split}_size"],
                seed=seed,
                image_size=options.image_size,
                num_classes=options.num_classes,
            )
        info = {"source": "synthetic"}
    else:
        raise ValueError(
            f"make_cifar10_data reads cifar10 or synthetic data; use make_data for {options.dataset!r}."
        )
    for split in ("train", "test"):
        size = getattr(options, f"{split}_size")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = arrays[f"x_{split}"][:size], arrays[f"y_{split}"][:size]
    train = AugmentedImages(
        arrays["x_train"],
        arrays["y_train"],
        config.batch_size,
        seed=config.seed,
        augment=options.augment,
        padding=options.padding,
    )
    validation = AugmentedImages(
        arrays["x_test"], arrays["y_test"], config.batch_size, seed=config.seed, augment=False, shuffle=False
    )
    x_test, y_test = arrays["x_test"], arrays["y_test"]

    def evaluate(model: Any) -> dict[str, float]:
        accuracy = accuracy_of(model, x_test, y_test, batch_size=max(config.batch_size, 256))
        return {"test_accuracy": accuracy, "test_error": 1.0 - accuracy}

    info = {
        **info,
        "dataset": options.dataset,
        "train_examples": len(arrays["x_train"]),
        "test_examples": len(x_test),
        "augment": options.augment,
    }
    return TaskData(train=train, validation=validation, evaluate=evaluate, info=info)
