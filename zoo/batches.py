"""The base of the zoo's training datasets: batch i of epoch e is made from (seed, e, i) alone.

`TaskData.train` asks this of every PyDataset it hands the trainer, so that a resumed run (even one resumed in
the middle of an epoch) sees exactly the batches an uninterrupted one would have seen: zoo.training's
`EpochView` calls `set_epoch(e)` before it asks for a batch of epoch e.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np


class SeededBatches(keras.utils.PyDataset):
    """A PyDataset that serves the epoch `set_epoch` selected (0 until then), seeded by `seed`.

    A subclass makes batch `index` from `self.seed`, `self.epoch` and `index` only, e.g. with
    `np.random.default_rng([self.seed, self.epoch, index])`. It either generates every batch, and passes
    `batches_per_epoch`, or serves a fixed set of examples, and sets `num_examples` (then `batch_rows` gives a
    batch's rows of the epoch's shuffle and the last batch of an epoch holds the remainder).

    Args:
        batch_size: examples per batch.
        seed: the base seed of the batches' order and content.
        batches_per_epoch: `len()` of a dataset that generates its batches; None for a fixed set.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of keras.utils.PyDataset.
    """

    def __init__(
        self, batch_size: int, seed: int, *, batches_per_epoch: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        _check_positive_int(batch_size, "batch_size")
        if batches_per_epoch is not None:
            _check_positive_int(batches_per_epoch, "batches_per_epoch")
        self.batch_size = batch_size
        self.seed = seed
        self.batches_per_epoch = batches_per_epoch
        self.num_examples: int | None = None  # the size of a fixed set, set by the subclasses that serve one
        self.epoch = 0
        self._order_key: tuple | None = None  # what `epoch_order` last computed, and its result
        self._order: np.ndarray | None = None

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch whose batches `__getitem__` serves."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if (self.batches_per_epoch is None) == (self.num_examples is None):
            raise TypeError(
                f"{type(self).__name__} must either pass batches_per_epoch (generated batches) or set "
                f"num_examples (a fixed set); got batches_per_epoch={self.batches_per_epoch}, "
                f"num_examples={self.num_examples}."
            )
        if self.batches_per_epoch is not None:
            return self.batches_per_epoch
        return math.ceil(self.num_examples / self.batch_size)

    def check_index(self, index: int) -> None:
        """Raises IndexError unless `index` is a batch of the epoch, in [0, len(self))."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} is out of range [0, {len(self)}).")

    def epoch_order(self, size: int, *stream: int, epoch: int | None = None) -> np.ndarray:
        """The permutation of `size` examples for `epoch` (default: the selected one), from the seed sequence
        [seed, *stream, epoch]; computed once per epoch, not once per batch."""
        epoch = self.epoch if epoch is None else epoch
        key = (size, stream, epoch)
        if self._order_key != key:
            self._order = np.random.default_rng([self.seed, *stream, epoch]).permutation(size)
            self._order_key = key
        return self._order

    def batch_rows(
        self, index: int, *stream: int, epoch: int | None = None, shuffle: bool = True
    ) -> np.ndarray:
        """The rows of the fixed set that batch `index` of `epoch` (default: the selected one) holds: its slice
        of `epoch_order(num_examples, *stream)`, or of the stored order when `shuffle` is False.

        Raises:
            IndexError: `index` is not in [0, len(self)).
        """
        self.check_index(index)
        size = self.num_examples
        order = self.epoch_order(size, *stream, epoch=epoch) if shuffle else np.arange(size)
        return order[index * self.batch_size : (index + 1) * self.batch_size]


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
