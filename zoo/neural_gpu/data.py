"""The Neural GPU's data options and pipeline: the generated arithmetic stream with its length curriculum, and
the evaluation of the trained model at several lengths."""

from __future__ import annotations

import dataclasses
from typing import Any

from zoo.config import TrainConfig
from zoo.neural_gpu import tasks
from zoo.neural_gpu.curriculum import ArithmeticDataset, CurriculumCallback
from zoo.registry import TaskData

# Keeps evaluation examples apart from every training stream of any seed.
_EVAL_SEED_OFFSET = 1_000_003


@dataclasses.dataclass(frozen=True)
class NeuralGPUDataOptions:
    """The keys of `config.data_kwargs` for the Neural GPU, with their defaults (lengths are sequence lengths,
    see zoo/neural_gpu/tasks.py).

    Args:
        task: one of `tasks.TASKS` ("badd", "bmul", ...).
        min_length: the curriculum's first length.
        max_length: the curriculum's last length.
        curriculum_threshold: the sequence error below which the curriculum lengthens the task.
        curriculum_step: lengths added at each lengthening.
        mixed_sizes: whether a batch mixes shorter examples with ones at the curriculum's length.
        check_examples: examples of the curriculum's check.
        eval_lengths: the lengths the trained model is evaluated at (bit_error_len{n}, sequence_error_len{n}).
        eval_examples: examples per evaluation length.
        eval_batch_size: the batch size of the evaluation.
    """

    task: str = "badd"
    min_length: int = 4
    max_length: int = 20
    curriculum_threshold: float = 0.2
    curriculum_step: int = 1
    mixed_sizes: bool = True
    check_examples: int = 64
    eval_lengths: list[int] = dataclasses.field(default_factory=lambda: [20, 200])
    eval_examples: int = 64
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        # The curriculum's settings are checked where they are used (curriculum.py), with the same messages.
        tasks.check_task(self.task)
        if not isinstance(self.eval_lengths, (list, tuple)) or not self.eval_lengths:
            raise ValueError(f"eval_lengths must be a non-empty list of lengths; got {self.eval_lengths!r}.")
        for length in self.eval_lengths:
            tasks.check_length(length, "eval_lengths entry")


def make_data(config: TrainConfig, data_dir: str | None = None) -> TaskData:
    """The generated training stream, its curriculum callback and the length-sweep evaluation.

    Args:
        config: the run's config; `steps_per_epoch` is the dataset's length (default 100).
        data_dir: unused (the data is generated).

    Returns:
        TaskData whose `evaluate` reports bit_error_len{n} and sequence_error_len{n} for each n in eval_lengths.
    """
    options = NeuralGPUDataOptions(**config.data_kwargs)
    dataset = ArithmeticDataset(
        task=options.task,
        min_length=options.min_length,
        max_length=options.max_length,
        batch_size=config.batch_size,
        batches_per_epoch=config.steps_per_epoch or 100,
        seed=config.seed,
        mixed_sizes=options.mixed_sizes,
    )
    callback = CurriculumCallback(
        dataset,
        threshold=options.curriculum_threshold,
        check_examples=options.check_examples,
        step=options.curriculum_step,
    )

    def evaluate(model: Any) -> dict[str, float]:
        return evaluate_lengths(
            model,
            options.task,
            options.eval_lengths,
            options.eval_examples,
            seed=config.seed + _EVAL_SEED_OFFSET,
            batch_size=options.eval_batch_size,
        )

    info = {
        "task": options.task,
        "generated": "numpy, seeded by (seed, epoch, batch)",
        **dataclasses.asdict(options),
    }
    return TaskData(train=dataset, evaluate=evaluate, callbacks=[callback], info=info)


def evaluate_lengths(
    model: Any, task: str, lengths: list[int], examples: int, seed: int, batch_size: int = 32
) -> dict[str, float]:
    """Per-bit and per-sequence error at each length, on fresh examples seeded by `seed`.

    Returns:
        {"bit_error_len20": ..., "sequence_error_len20": ..., ...}.
    """
    metrics: dict[str, float] = {}
    for length in lengths:
        result = tasks.measure_error(model, task, length, examples, seed=seed, batch_size=batch_size)
        metrics[f"bit_error_len{length}"] = result["bit_error"]
        metrics[f"sequence_error_len{length}"] = result["sequence_error"]
    return metrics
