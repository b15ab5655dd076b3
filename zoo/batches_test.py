"""The shared base of the zoo's training datasets: sizes, bad arguments, and the shuffles every dataset that
serves a fixed set draws (pinned: the committed reproduction runs were trained on exactly these orders)."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.batches import SeededBatches
from zoo.memn2n.babi import BabiBatches
from zoo.neural_programmer import tables
from zoo.resnet.data import AugmentedImages
from zoo.training import ArrayBatches


def _rows_of_epoch(dataset: SeededBatches, *stream: int, epoch: int) -> list[np.ndarray]:
    dataset.set_epoch(epoch)
    return [dataset.batch_rows(index, *stream) for index in range(len(dataset))]


class _Fixed(SeededBatches):
    def __init__(self, num_examples: int, batch_size: int, seed: int) -> None:
        super().__init__(batch_size, seed)
        self.num_examples = num_examples


def test_a_fixed_set_is_cut_into_ceil_batches_of_one_permutation_per_epoch() -> None:
    dataset = _Fixed(num_examples=10, batch_size=4, seed=3)
    assert len(dataset) == 3
    for epoch in (0, 1, 5):
        rows = _rows_of_epoch(dataset, epoch=epoch)
        assert [len(r) for r in rows] == [4, 4, 2]
        expected = np.random.default_rng([3, epoch]).permutation(10)
        np.testing.assert_array_equal(np.concatenate(rows), expected)
    with pytest.raises(IndexError, match=r"batch index 3 is out of range \[0, 3\)"):
        dataset.batch_rows(3)
    np.testing.assert_array_equal(dataset.batch_rows(2, shuffle=False), [8, 9])


def test_bad_sizes_are_refused_by_name() -> None:
    for bad in (0, -2, 2.0, True, "8"):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            _Fixed(num_examples=4, batch_size=bad, seed=0)
        with pytest.raises(ValueError, match="batches_per_epoch must be a positive integer"):
            SeededBatches(8, 0, batches_per_epoch=bad)
    assert len(SeededBatches(8, 0, batches_per_epoch=7)) == 7
    with pytest.raises(TypeError, match="must pass batches_per_epoch or set num_examples"):
        len(SeededBatches(8, 0))


def test_every_fixed_set_dataset_keeps_its_recorded_shuffle() -> None:
    """Each dataset's epoch order is the permutation of its own seed sequence ([seed, *stream, epoch])."""
    seed, n = 11, 13
    arrays = (np.arange(n), np.arange(n) * 2)
    array_batches = ArrayBatches(arrays, batch_size=5, seed=seed)
    array_batches.set_epoch(2)
    served = np.concatenate([array_batches[i][0] for i in range(len(array_batches))])
    np.testing.assert_array_equal(served, np.random.default_rng([seed, 2]).permutation(n))

    babi_arrays = {
        "story": np.zeros((n, 2, 3), "int32"),
        "query": np.arange(n)[:, None],
        "answer": np.arange(n),
        "num_sentences": np.ones(n, "int32"),
    }
    babi = BabiBatches(babi_arrays, batch_size=4, memory_size=2, seed=seed, time_noise=0.0)
    babi.set_epoch(1)
    served = np.concatenate([babi[i][1] for i in range(len(babi))])
    np.testing.assert_array_equal(served, np.random.default_rng([seed, 1]).permutation(n))

    labels = np.arange(n)
    images = AugmentedImages(np.zeros((n, 2, 2, 1), "uint8"), labels, batch_size=6, seed=seed, augment=False)
    images.set_epoch(3)
    served = np.concatenate([images[i][1] for i in range(len(images))])
    np.testing.assert_array_equal(served, np.random.default_rng([seed, 0, 3]).permutation(n))

    qa = tables.TableQADataset(n, 4, seed=seed, num_rows=3, num_columns=2)
    qa.set_epoch(4)
    served = np.concatenate([qa[i][0]["question"] for i in range(len(qa))])
    order = np.random.default_rng([seed, 1 + len(tables._STREAMS), 4]).permutation(n)
    np.testing.assert_array_equal(served, qa.x["question"][order])
