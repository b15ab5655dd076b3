"""The NRAM's data options and pipeline: the generated task stream with its difficulty curriculum, and the test
at the final difficulty."""

from __future__ import annotations

import dataclasses
from typing import Any

from zoo.config import TrainConfig
from zoo.nram import tasks
from zoo.nram.curriculum import CurriculumCallback, NRAMDataset, measure
from zoo.nram.model import MODEL_DEFAULTS
from zoo.registry import TaskData

# Keeps test examples apart from every training and check stream of any seed.
_TEST_SEED_OFFSET = 2_000_003


@dataclasses.dataclass(frozen=True)
class NRAMDataOptions:
    """The keys of `config.data_kwargs` for the NRAM, with their defaults.

    Args:
        task: one of `tasks.TASKS` ("list_k", "access", ...).
        difficulty: the final (and test) difficulty; its range depends on the task and the model's memory size,
            so `data_settings` checks it against the model.
        min_difficulty: the curriculum's first difficulty.
        curriculum: whether the difficulty grows by the curriculum (False: every example at `difficulty`).
        curriculum_threshold: the check accuracy at which the curriculum raises the difficulty, in (0, 1].
        entropy_decay: the per-epoch factor of the entropy bonus's weight, in [0, 1].
        check_examples: examples of the curriculum's check.
        test_examples: fresh examples of the final test.
    """

    task: str = "list_k"
    difficulty: int = 3
    min_difficulty: int = 1
    curriculum: bool = True
    curriculum_threshold: float = 0.9
    entropy_decay: float = 1.0
    check_examples: int = 128
    test_examples: int = 1000

    def __post_init__(self) -> None:
        # The curriculum's settings are checked where they are used (curriculum.py), with the same messages.
        tasks.get_task(self.task)
        for name in ("check_examples", "test_examples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"data_kwargs {name} must be a positive integer; got {value!r}.")


def data_settings(config: TrainConfig) -> dict[str, Any]:
    """The data options of `config` as a dict, with the model's "memory_size", checked against the model's memory
    size and step budget.

    Raises:
        ValueError: a data option out of range, or a difficulty the model cannot hold or finish in its steps.
    """
    options = NRAMDataOptions(**config.data_kwargs)
    task = tasks.get_task(options.task)
    model = {**MODEL_DEFAULTS, **config.model_kwargs}
    limit = task.max_difficulty(model["memory_size"])
    if not isinstance(options.difficulty, int) or not 1 <= options.difficulty <= limit:
        raise ValueError(
            f"data_kwargs difficulty must be an integer in [1, {limit}] for task {task.name!r} with "
            f"memory_size={model['memory_size']}; got {options.difficulty!r}."
        )
    needed = task.timesteps(options.difficulty)
    if model["max_timesteps"] < needed:
        raise ValueError(
            f"model_kwargs max_timesteps={model['max_timesteps']} is below the {needed} steps task "
            f"{task.name!r} gets at difficulty {options.difficulty}; raise max_timesteps to >= {needed}."
        )
    return {**dataclasses.asdict(options), "memory_size": model["memory_size"]}


def make_data(config: TrainConfig, data_dir: str | None = None) -> TaskData:
    """The generated training stream with its curriculum callback and the test at the final difficulty.

    Args:
        config: the run's config; `steps_per_epoch` is the dataset's length (default 100).
        data_dir: unused (the data is generated).

    Returns:
        TaskData whose `evaluate` reports test_cell_accuracy, test_example_accuracy and success (1.0 when
        every test example is right, the paper's criterion) on `test_examples` fresh examples at `difficulty`.
    """
    # NRAMDataOptions(**config.data_kwargs), with the checks against the model that the options alone cannot do.
    settings = data_settings(config)
    dataset = NRAMDataset(
        task=settings["task"],
        memory_size=settings["memory_size"],
        max_difficulty=settings["difficulty"],
        min_difficulty=settings["min_difficulty"],
        curriculum=bool(settings["curriculum"]),
        batch_size=config.batch_size,
        batches_per_epoch=config.steps_per_epoch or 100,
        seed=config.seed,
    )
    callback = CurriculumCallback(
        dataset,
        threshold=settings["curriculum_threshold"],
        check_examples=settings["check_examples"],
        entropy_decay=settings["entropy_decay"],
    )

    def evaluate(model: Any) -> dict[str, float]:
        result = measure(
            model,
            settings["task"],
            settings["difficulty"],
            settings["memory_size"],
            settings["test_examples"],
            seed=config.seed + _TEST_SEED_OFFSET,
        )
        return {
            "test_cell_accuracy": result["cell_accuracy"],
            "test_example_accuracy": result["example_accuracy"],
            "success": float(result["example_accuracy"] == 1.0),
        }

    info = {"generated": "numpy, seeded by (seed, epoch, batch) and the curriculum difficulty", **settings}
    return TaskData(train=dataset, evaluate=evaluate, callbacks=[callback], info=info)
