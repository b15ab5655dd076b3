"""The base of the zoo's training datasets: batch i of epoch e is made from (seed, e, i) alone.

`TaskData.train` asks this of every PyDataset it hands the trainer, so that a resumed run (even one resumed in
the middle of an epoch) sees exactly the batches an uninterrupted one would have seen: zoo.training's
`EpochView` calls `set_epoch(e)` before it asks for a batch of epoch e.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


class SeededBatches(keras.utils.PyDataset):
    """A PyDataset that serves the epoch `set_epoch` selected (0 until then), seeded by `seed`.

    A subclass makes batch `index` from `self.seed`, `self.epoch` and `index` only, e.g. with
    `np.random.default_rng([self.seed, self.epoch, index])`.

    Args:
        batch_size: examples per batch.
        seed: the base seed of the batches' order and content.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of keras.utils.PyDataset.
    """

    def __init__(self, batch_size: int, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self._order_key: tuple | None = None  # what `epoch_order` last computed, and its result
        self._order: np.ndarray | None = None

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch whose batches `__getitem__` serves."""
        self.epoch = int(epoch)

    def epoch_order(self, size: int, *stream: int, epoch: int | None = None) -> np.ndarray:
        """The permutation of `size` examples for `epoch` (default: the selected one), from the seed sequence
        [seed, *stream, epoch]; computed once per epoch, not once per batch."""
        epoch = self.epoch if epoch is None else epoch
        key = (size, stream, epoch)
        if self._order_key != key:
            self._order = np.random.default_rng([self.seed, *stream, epoch]).permutation(size)
            self._order_key = key
        return self._order
