"""The shared base of the zoo's training datasets: sizes, bad arguments, and the shuffles every dataset that
serves a fixed set draws (pinned: the committed reproduction runs were trained on exactly these orders)."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.batches import SeededBatches
from zoo.memn2n.babi import BabiBatches
from zoo.neural_gpu.curriculum import ArithmeticDataset
from zoo.neural_programmer import tables
from zoo.nram.curriculum import NRAMDataset
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
    with pytest.raises(TypeError, match="must either pass batches_per_epoch .* or set num_examples"):
        len(SeededBatches(8, 0))
    with pytest.raises(TypeError, match="got batches_per_epoch=50, num_examples=4"):
        AugmentedImages(
            np.zeros((4, 2, 2, 1), "uint8"), np.arange(4), batch_size=2, seed=0, batches_per_epoch=50
        )[0]


def test_generated_datasets_refuse_a_batch_past_the_epoch() -> None:
    arithmetic = ArithmeticDataset("badd", 4, 8, batch_size=2, batches_per_epoch=3, seed=0)
    nram = NRAMDataset("copy", 8, 2, 1, True, batch_size=2, batches_per_epoch=3, seed=0)
    for dataset in (arithmetic, nram):
        assert len(dataset) == 3
        dataset[2]
        with pytest.raises(IndexError, match=r"batch index 3 is out of range \[0, 3\)"):
            dataset[3]


def _served(dataset: SeededBatches, epoch: int, part) -> np.ndarray:
    """Batch by batch, what `part` picks of each batch of `epoch`, checking the batch boundaries on the way."""
    dataset.set_epoch(epoch)
    batches = [np.asarray(part(dataset[i])) for i in range(len(dataset))]
    sizes = [len(batch) for batch in batches]
    assert sizes[:-1] == [dataset.batch_size] * (len(sizes) - 1) and 0 < sizes[-1] <= dataset.batch_size
    return np.concatenate(batches)


def test_every_fixed_set_dataset_keeps_its_recorded_shuffle() -> None:
    """Each dataset's epoch order is the permutation of its own seed sequence ([seed, *stream, epoch]); one is
    written out, so a change of numpy's generator would show too."""
    seed, n = 11, 13
    assert np.random.default_rng([seed, 2]).permutation(n).tolist() == [
        2,
        12,
        3,
        11,
        8,
        0,
        7,
        10,
        4,
        1,
        6,
        5,
        9,
    ]

    array_batches = ArrayBatches((np.arange(n), np.arange(n) * 2), batch_size=5, seed=seed)
    served = _served(array_batches, 2, lambda batch: batch[0])
    assert served.tolist() == [2, 12, 3, 11, 8, 0, 7, 10, 4, 1, 6, 5, 9]
    in_order = ArrayBatches((np.arange(n), np.arange(n)), batch_size=5, seed=seed, shuffle=False)
    np.testing.assert_array_equal(_served(in_order, 2, lambda batch: batch[0]), np.arange(n))

    babi_arrays = {
        "story": np.zeros((n, 2, 3), "int32"),
        "query": np.arange(n)[:, None],
        "answer": np.arange(n),
        "num_sentences": np.ones(n, "int32"),
    }
    babi = BabiBatches(babi_arrays, batch_size=4, memory_size=2, seed=seed, time_noise=0.0)
    served = _served(babi, 1, lambda batch: batch[1])
    np.testing.assert_array_equal(served, np.random.default_rng([seed, 1]).permutation(n))

    images = AugmentedImages(
        np.zeros((n, 2, 2, 1), "uint8"), np.arange(n), batch_size=6, seed=seed, augment=False
    )
    served = _served(images, 3, lambda batch: batch[1])
    np.testing.assert_array_equal(served, np.random.default_rng([seed, 0, 3]).permutation(n))
    plain = AugmentedImages(
        np.zeros((n, 2, 2, 1), "uint8"), np.arange(n), batch_size=6, seed=seed, augment=False, shuffle=False
    )
    np.testing.assert_array_equal(_served(plain, 3, lambda batch: batch[1]), np.arange(n))

    qa = tables.TableQADataset(n, 4, seed=seed, num_rows=3, num_columns=2)
    served = _served(qa, 4, lambda batch: batch[0]["question"])
    order = np.random.default_rng([seed, 1 + len(tables._STREAMS), 4]).permutation(n)
    np.testing.assert_array_equal(served, qa.x["question"][order])
