"""The Neural GPU curriculum: train short first, lengthen the task once the current length is learned.

As in the reference trainer, the curriculum length starts small and grows by one whenever the sequence error at the
current length falls below a threshold (by 1, or 2 to stay on even lengths); half of the batches keep sampling shorter lengths, so earlier lengths are not
forgotten.

State and resume: the current length lives in the model's non-trainable `curriculum_length` variable, so it is saved
with every checkpoint and `.keras` file. `CurriculumCallback` copies it into the dataset at the start of each epoch
and writes the new value back at the end of the epoch. A resumed run therefore restores the curriculum together with
the weights, and batch i of epoch e is made from (seed, e, i, curriculum length of epoch e) alone.

Keras creates a fresh data iterator at each epoch start (after the callbacks' `on_epoch_begin`) when `fit` gets
`steps_per_epoch=None` and a dataset whose `len()` is the epoch, as zoo/training.py does. With steps_per_epoch
passed to `fit` instead, Keras may prefetch the next epoch's first batches before the callback has published the
new length, and the run would no longer be reproducible.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from zoo.batches import SeededBatches
from zoo.neural_gpu import tasks


class ArithmeticDataset(SeededBatches):
    """Batches of binary addition or multiplication, each batch at one sequence length.

    Batch i of epoch e comes from numpy's generator seeded with (seed, e, i). Even-numbered batches have the
    current curriculum length; odd-numbered batches a length drawn uniformly from [min_length, current - 1] (or
    current + 1 while the curriculum is still at min_length), so half of the training keeps revisiting shorter
    lengths.

    The alternation also guarantees that any two consecutive batches differ in length: Keras' TensorFlow adapter
    infers the input signature from the first two batches it sees (also when a resumed run starts mid-epoch), and
    two equal lengths there would freeze the sequence length of the whole run.

    Args:
        task: "badd" or "bmul".
        min_length: shortest sequence length sampled.
        max_length: longest length the curriculum reaches.
        batch_size: examples per batch.
        batches_per_epoch: `len()` of the dataset, i.e. training steps per epoch.
        seed: base seed of the data stream.
        mixed_sizes: half of the examples with smaller operands, padded (see `tasks.make_examples`); the
            curriculum's check and all evaluations use full-size operands.
    """

    def __init__(
        self,
        task: str,
        min_length: int,
        max_length: int,
        batch_size: int,
        batches_per_epoch: int,
        seed: int,
        mixed_sizes: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size, seed, batches_per_epoch=batches_per_epoch, **kwargs)
        self.task = tasks.check_task(task)
        self.min_length = tasks.check_length(min_length, "min_length")
        self.max_length = tasks.check_length(max_length, "max_length")
        if self.max_length < self.min_length:
            raise ValueError(f"max_length ({max_length}) must be >= min_length ({min_length}).")
        self.mixed_sizes = mixed_sizes
        self.current_length = self.min_length

    def set_state(self, epoch: int, current_length: int) -> None:
        """Sets the epoch and curriculum length the next batches are made for (called by CurriculumCallback)."""
        self.epoch = int(epoch)
        self.current_length = int(np.clip(current_length, self.min_length, self.max_length))

    def length_of_batch(self, index: int, rng: np.random.Generator) -> int:
        """The sequence length of batch `index` (draws from `rng` for odd indices)."""
        current = self.current_length
        if index % 2 == 0:
            return current
        if current > self.min_length:
            return int(rng.integers(self.min_length, current))
        return min(current + 1, self.max_length)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        self.check_index(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        length = self.length_of_batch(index, rng)
        return tasks.make_examples(self.task, length, self.batch_size, rng, mixed_sizes=self.mixed_sizes)


class CurriculumCallback(keras.callbacks.Callback):
    """Raises the curriculum length when the sequence error at the current length drops below `threshold`.

    At each epoch end it measures the sequence error at the current length on `check_examples` fresh full-size
    examples (seeded by (seed, epoch)); below `threshold` the length grows by `step`, up to the dataset's
    max_length. It adds
    `curriculum_length` (the length for the next epoch) and `curriculum_sequence_error` to the epoch logs.

    Args:
        dataset: the ArithmeticDataset the curriculum drives.
        threshold: sequence-error bound for moving on (the reference uses 0.15 to 0.3).
        check_examples: examples of the per-epoch check.
        step: length increment. 2 keeps the checked lengths even: an odd length n = 2k + 1 filled by two k-bit
            operands leaves the tape no spare cell, which the check would then also have to master.
    """

    def __init__(
        self, dataset: ArithmeticDataset, threshold: float = 0.2, check_examples: int = 64, step: int = 1
    ) -> None:
        super().__init__()
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ValueError(f"step must be an integer >= 1; got {step!r}.")
        self.step = step
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1]; got {threshold!r}.")
        if check_examples < 1:
            raise ValueError(f"check_examples must be >= 1; got {check_examples!r}.")
        self.dataset = dataset
        self.threshold = threshold
        self.check_examples = check_examples

    def _model_length(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.curriculum_length.value))

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.dataset.set_state(epoch, self._model_length())

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        current = self.dataset.current_length
        check = tasks.measure_error(
            self.model,
            self.dataset.task,
            current,
            self.check_examples,
            seed=self.dataset.seed * 100003 + epoch,
            batch_size=self.check_examples,
        )
        if check["sequence_error"] < self.threshold and current < self.dataset.max_length:
            current = min(current + self.step, self.dataset.max_length)
            self.model.curriculum_length.assign(current)
        if logs is not None:
            logs["curriculum_length"] = float(current)
            logs["curriculum_sequence_error"] = float(check["sequence_error"])
