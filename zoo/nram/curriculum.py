"""The NRAM data stream: batches of a task's examples with the paper's curriculum over difficulty.

Kurach et al. 2015 (arXiv 1511.06392, appendix B) train with the curriculum of Zaremba & Sutskever 2014
unchanged: with the current level D, every example's difficulty d is drawn as
  * 10%: uniformly from all difficulties, [1, max_difficulty],
  * 25%: uniformly from [1, D + e],
  * 65%: D + e,
with e drawn from a geometric distribution with success probability 1/2 (here counted from 0, e = k - 1 for
k ~ Geometric(1/2) on {1, 2, ...}, so that d = D half of the time: the paper does not say which of the two
usual supports it means), clipped to [1, max_difficulty]. D starts at `min_difficulty` and rises by one (up
to max_difficulty) when the model's error rate goes below a threshold, with successive rises some batches
apart. Here the error rate is the paper's per-cell error (section 4.2: wrong scored cells / scored cells)
measured at D on fresh check examples at the end of an epoch, and D rises when the cell accuracy reaches
`threshold`; at most one rise per epoch keeps rises `steps_per_epoch` batches apart.

Resume: batch i of epoch e is a function of (seed, e, i, D of epoch e) alone. D is the callback's state
(`get_state`/`set_state`), which the zoo harness stores with every checkpoint.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from zoo.batches import SeededBatches
from zoo.nram import tasks
from zoo.nram.model import answer_from_trace, score


def sample_difficulties(
    rng: np.random.Generator,
    count: int,
    current: int,
    max_difficulty: int,
    uniform_share: float = 0.1,
    range_share: float = 0.25,
) -> np.ndarray:
    """Per-example difficulties of the combined curriculum (module docstring) at current difficulty `current`.

    Args:
        rng: numpy generator.
        count: number of examples.
        current: the curriculum's difficulty D, in [1, max_difficulty].
        max_difficulty: the largest difficulty ever drawn.
        uniform_share: share drawn uniformly from [1, max_difficulty].
        range_share: share drawn uniformly from [1, D + e].

    Returns:
        int64 array of `count` difficulties in [1, max_difficulty].
    """
    if not 1 <= current <= max_difficulty:
        raise ValueError(f"current difficulty must be in [1, {max_difficulty}]; got {current}.")
    extra = rng.geometric(0.5, size=count) - 1
    upper = np.minimum(current + extra, max_difficulty)
    kind = rng.random(count)
    uniform_all = rng.integers(1, max_difficulty + 1, size=count)
    uniform_range = np.floor(rng.random(count) * upper).astype(np.int64) + 1
    chosen = np.where(
        kind < uniform_share, uniform_all, np.where(kind < uniform_share + range_share, uniform_range, upper)
    )
    return np.clip(chosen, 1, max_difficulty)


def model_inputs(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's input dict of a `tasks.generate` batch."""
    return {"memory": batch["memory"], "timesteps": batch["timesteps"]}


class NRAMDataset(SeededBatches):
    """Batches of one task, difficulties from the curriculum; batch i of epoch e is seeded by (seed, e, i).

    Args:
        task: a task name of `zoo.nram.tasks.TASKS`.
        memory_size: M of the model.
        max_difficulty: the difficulty the curriculum ends at (and the test difficulty).
        min_difficulty: the curriculum's first level.
        curriculum: False samples every example at max_difficulty.
        batch_size: examples per batch.
        batches_per_epoch: `len()` of the dataset.
        seed: base seed.
    """

    def __init__(
        self,
        task: str,
        memory_size: int,
        max_difficulty: int,
        min_difficulty: int,
        curriculum: bool,
        batch_size: int,
        batches_per_epoch: int,
        seed: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size, seed, batches_per_epoch=batches_per_epoch, **kwargs)
        self.task = tasks.get_task(task)
        limit = self.task.max_difficulty(memory_size)
        if not 1 <= max_difficulty <= limit:
            raise ValueError(
                f"difficulty must be in [1, {limit}] for task {task!r} with memory_size={memory_size}; "
                f"got {max_difficulty}."
            )
        if not 1 <= min_difficulty <= max_difficulty:
            raise ValueError(
                f"min_difficulty must be in [1, difficulty={max_difficulty}]; got {min_difficulty}."
            )
        self.memory_size = memory_size
        self.max_difficulty = max_difficulty
        self.min_difficulty = min_difficulty
        self.curriculum = curriculum
        self.current = min_difficulty if curriculum else max_difficulty

    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        self.check_index(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.curriculum:
            difficulties = sample_difficulties(rng, self.batch_size, self.current, self.max_difficulty)
        else:
            difficulties = np.full(self.batch_size, self.max_difficulty)
        batch = tasks.generate(self.task, difficulties, self.memory_size, rng, self.batch_size)
        return model_inputs(batch), batch["target"]


def measure(
    model: Any, task: str, difficulty: int, memory_size: int, examples: int, seed: int, batch_size: int = 256
) -> dict[str, float]:
    """Cell and whole-example accuracy of `model` on fresh examples of one difficulty.

    Args:
        model: a built NRAM (`zoo.nram.model.build_nram`).
        task: task name.
        difficulty: the examples' difficulty.
        memory_size: M of the model.
        examples: number of examples.
        seed: seeds the examples.
        batch_size: examples per forward pass.

    Returns:
        {"cell_accuracy": ..., "example_accuracy": ...}.
    """
    batch = tasks.generate(task, difficulty, memory_size, np.random.default_rng(seed), examples)
    # predict reuses the model's compiled predict step (and splits batches over replicas); an eager call on JAX
    # would trace and compile the step scan anew at every check, and each check's code stays mapped in the process.
    trace = model.predict(model_inputs(batch), batch_size=batch_size, verbose=0)
    return score(answer_from_trace(np.asarray(trace)), batch["target"])


class CurriculumCallback(keras.callbacks.Callback):
    """Raises the curriculum difficulty when the cell accuracy at the current one reaches `threshold`.

    The paper raises the level when its error rate, a per-cell error (section 4.2), falls below a threshold.
    Also multiplies the model's entropy-bonus weight by `entropy_decay` at every epoch end (the paper's
    exponentially decreasing entropy coefficient). Adds `curriculum_difficulty` (the difficulty of the next
    epoch), `curriculum_cell_accuracy`, `curriculum_example_accuracy` and `entropy_weight` to the epoch logs.

    Args:
        dataset: the NRAMDataset the curriculum drives.
        threshold: cell accuracy (1 - the paper's error rate) needed at the current difficulty to move on.
        check_examples: fresh examples of the per-epoch check.
        entropy_decay: factor applied to the entropy weight at every epoch end.
    """

    def __init__(
        self,
        dataset: NRAMDataset,
        threshold: float = 0.9,
        check_examples: int = 128,
        entropy_decay: float = 1.0,
    ) -> None:
        super().__init__()
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"curriculum_threshold must be in (0, 1]; got {threshold!r}.")
        if check_examples < 1:
            raise ValueError(f"check_examples must be >= 1; got {check_examples!r}.")
        if not 0.0 <= entropy_decay <= 1.0:
            raise ValueError(f"entropy_decay must be in [0, 1]; got {entropy_decay!r}.")
        self.dataset = dataset
        self.threshold = threshold
        self.check_examples = check_examples
        self.entropy_decay = entropy_decay

    def get_state(self) -> dict[str, Any]:
        """The curriculum difficulty, saved with the harness's checkpoints."""
        return {"current": int(self.dataset.current)}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `get_state`'s dict."""
        self.dataset.current = int(state["current"])

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        data = self.dataset
        check = measure(
            self.model,
            data.task.name,
            data.current,
            data.memory_size,
            self.check_examples,
            seed=[data.seed, epoch, 7919],  # apart from the training batches' (seed, epoch, index) streams
        )
        if (
            data.curriculum
            and check["cell_accuracy"] >= self.threshold
            and data.current < data.max_difficulty
        ):
            data.current += 1
        core = self.model.get_layer("nram_core")
        core.entropy_weight.assign(core.entropy_weight * self.entropy_decay)
        if logs is not None:
            logs["curriculum_difficulty"] = float(data.current)
            logs["curriculum_cell_accuracy"] = float(check["cell_accuracy"])
            logs["curriculum_example_accuracy"] = float(check["example_accuracy"])
            logs["entropy_weight"] = float(keras.ops.convert_to_numpy(core.entropy_weight))
