"""MNIST for the deep MLP: the training arrays, the test-set evaluation and the data's provenance.

The training set goes to the trainer as (images, labels) arrays; zoo.training batches and shuffles them from
(seed, epoch) alone, so a resumed run sees exactly the batches an uninterrupted one would. Images stay raw
uint8 (the model scales them), which keeps the full training set at 47 MB per process.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np

from zoo import resources
from zoo.config import TrainConfig
from zoo.datasets import DataError, MNISTData, load_mnist, mnist_content_md5, read_mnist_npz
from zoo.registry import TaskData

# The shipped test fixture: the first 300 training and the first 100 test images of the official MNIST.
FIXTURE_PATH = resources.fixture_path("mnist_tiny.npz")
SOURCES: tuple[str, ...] = ("mnist", "fixture")


@dataclasses.dataclass(frozen=True)
class DeepMLPDataOptions:
    """The deep MLP's data options (`TrainConfig.data_kwargs`).

    Args:
        source: "mnist" (the full 60k/10k; from `data_dir`, else downloaded through keras.datasets) or
            "fixture" (the shipped 300/100 subset; ignores data_dir).
        train_size: train on the first this many training examples only (a scaled-down run); None = all.

    Raises:
        ValueError: an unknown source, or a train_size that is not a positive integer (whether it exceeds the
            training set is checked by `make_data`, which knows the data).
    """

    source: str = "mnist"
    train_size: int | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"data_kwargs source must be one of {', '.join(SOURCES)}; got {self.source!r}.")
        size = self.train_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"data_kwargs train_size must be a positive integer or None; got {size!r}.")


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> float:
    """Fraction of `images` whose most probable class under `model` equals the label (numpy argmax)."""
    probabilities = model.predict(images, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def load_source(source: str, data_dir: str | None) -> MNISTData:
    """MNIST from `source`: "mnist" (full, via `load_mnist(data_dir)`) or "fixture" (the shipped subset).

    Raises:
        ValueError: unknown source. DataError: missing or corrupt data.
    """
    if source == "mnist":
        return load_mnist(data_dir)
    if source == "fixture":
        path = os.path.normpath(FIXTURE_PATH)
        if not os.path.exists(path):
            raise DataError(
                f"The MNIST test fixture {path} is missing (it ships in the source tree and in wheels built "
                f"from it). Use data_kwargs source='mnist' with --data_dir instead."
            )
        arrays = read_mnist_npz(path)
        return MNISTData(
            **arrays, source=path, content_md5={k: mnist_content_md5(v) for k, v in arrays.items()}
        )
    raise ValueError(f"data_kwargs source must be one of {', '.join(SOURCES)}; got {source!r}.")


def make_data(config: TrainConfig, data_dir: str | None) -> TaskData:
    """The deep MLP's data: shuffled MNIST training batches, the test set as validation and final evaluation.

    Args:
        config: the run's TrainConfig: its data_kwargs are `DeepMLPDataOptions`.
        data_dir: directory with mnist.npz or the MNIST IDX files, or None.

    Returns:
        TaskData with (images, labels) training arrays, whose `evaluate` gives {"test_accuracy": ...} on the
        full test split, and whose per-epoch validation is the same test split (the paper reports test
        accuracy; no model selection uses it: results are those of the last epoch).

    Raises:
        ValueError: out-of-range data options. DataError: missing or corrupt data.
    """
    options = DeepMLPDataOptions(**config.data_kwargs)
    data = load_source(options.source, data_dir)
    train_size = options.train_size
    if train_size is not None and train_size > len(data.x_train):
        raise ValueError(
            f"data_kwargs train_size must be an integer in [1, {len(data.x_train)}]; got {train_size!r}."
        )
    x_train, y_train = data.x_train[:train_size], data.y_train[:train_size]
    x_test, y_test = data.x_test, data.y_test.astype(np.int32)

    def evaluate(model: keras.Model) -> dict[str, float]:
        return {"test_accuracy": accuracy(model, x_test, y_test)}

    info = {
        "dataset": "MNIST",
        "source": data.source,
        "content_md5": data.content_md5,
        "train_examples": len(x_train),
        "test_examples": len(x_test),
    }
    return TaskData(
        train=(x_train, y_train.astype(np.int32)), validation=(x_test, y_test), evaluate=evaluate, info=info
    )
