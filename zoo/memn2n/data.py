"""bAbI for the MemN2N: the data options, the training batches, the validation split and per-task evaluation."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from zoo import datasets, resources
from zoo.config import TrainConfig
from zoo.memn2n import babi
from zoo.memn2n.babi_facts import ALL_TASKS, TASK_NAMES
from zoo.memn2n.model import LinearStart, model_arguments
from zoo.memn2n.schedule import ScheduleOptions, StageSchedule
from zoo.registry import TaskData

FIXTURE_DIR = resources.fixture_path("babi")


def resolve_tasks(tasks: Any) -> tuple[int, ...]:
    """`tasks` data option -> sorted task numbers; ValueError naming the accepted values otherwise."""
    if tasks == "all":
        return ALL_TASKS
    if isinstance(tasks, int) and not isinstance(tasks, bool):
        tasks = [tasks]
    if not isinstance(tasks, (list, tuple)) or not tasks or any(t not in TASK_NAMES for t in tasks):
        raise ValueError(
            f"data_kwargs['tasks'] must be 'all' or a non-empty list of integers in 1..20; got {tasks!r}."
        )
    return tuple(sorted(set(tasks)))


@dataclasses.dataclass(frozen=True)
class MemN2NDataOptions:
    """The MemN2N's data options (`TrainConfig.data_kwargs`).

    Args:
        tasks: a list of task numbers in 1..20, one number, or "all"; several tasks are trained jointly in one
            model. Held as the sorted tuple of task numbers after construction.
        validation_fraction: the last fraction of every task's training questions held out (reference code: 0.1).
        time_noise: the random time noise fraction of the training batches (paper: 0.1; 0 disables).
        time_noise_blanks: "inclusive" draws the number of inserted blanks as the reference code does (up to
            ceil(time_noise * n)), "exclusive" (default, every run before this option) up to one less; see
            `babi.time_ids`.
        fixture: with no --data_dir, read the small shipped fixture (tests/fixtures/babi) instead of downloading.
        schedule: None (a single step-decay schedule from TrainConfig, `LinearStart` switching at a fixed epoch),
            or the reference code's two-stage schedule as a dict of `schedule.ScheduleOptions` (switch "epochs" or
            "plateau", stage_epochs, decay_every, patience): the learning rate restarts after the switch and the
            run stops stage_epochs later. It needs lr_decay_every_epochs=None (the schedule owns the rate).

    Raises:
        ValueError: naming the option and the values it accepts.
    """

    tasks: str | int | Sequence[int] = (1,)
    validation_fraction: float = 0.1
    time_noise: float = 0.1
    fixture: bool = False
    schedule: Mapping[str, Any] | None = None
    time_noise_blanks: str = "exclusive"

    def __post_init__(self) -> None:
        # Frozen: the normalized tasks are stored the only way a frozen dataclass allows.
        object.__setattr__(self, "tasks", resolve_tasks(self.tasks))
        if not _is_number(self.validation_fraction) or not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"data_kwargs validation_fraction must be in (0, 1); got {self.validation_fraction!r}."
            )
        if not _is_number(self.time_noise) or not 0 <= self.time_noise <= 1:
            raise ValueError(f"data_kwargs time_noise must be in [0, 1]; got {self.time_noise!r}.")
        if not isinstance(self.fixture, bool):
            raise ValueError(f"data_kwargs fixture must be True or False; got {self.fixture!r}.")
        if self.schedule is not None:
            ScheduleOptions.from_option(self.schedule)
        if self.time_noise_blanks not in babi.TIME_NOISE_BLANKS:
            raise ValueError(
                f"data_kwargs time_noise_blanks must be one of {babi.TIME_NOISE_BLANKS}; got "
                f"{self.time_noise_blanks!r}."
            )

    def as_data_kwargs(self) -> dict[str, Any]:
        """These options as `TrainConfig.data_kwargs` (JSON types: the tasks as a list).

        `schedule` (while None) and `time_noise_blanks` (while "exclusive") are left out: they came with issue
        17, and the configs written before them must keep resolving to exactly the same data_kwargs
        (tests/test_resolved_configs.py), so that finished runs are recognised as the planned ones.
        """
        kwargs = {**dataclasses.asdict(self), "tasks": list(self.tasks)}
        if self.schedule is None:
            del kwargs["schedule"]
        if self.time_noise_blanks == "exclusive":
            del kwargs["time_noise_blanks"]
        return kwargs


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def task_errors(model: keras.Model, arrays: dict[str, np.ndarray], batch_size: int = 512) -> dict[int, float]:
    """task number -> fraction of wrong answers of `model` on `vectorize` arrays (no time noise)."""
    times = babi.time_ids(arrays["num_sentences"], model.get_layer("memn2n").memory_size)
    logits = model.predict(babi.model_inputs(arrays, times), batch_size=batch_size, verbose=0)
    wrong = np.argmax(logits, axis=-1) != arrays["answer"]
    return {int(t): float(np.mean(wrong[arrays["task"] == t])) for t in np.unique(arrays["task"])}


def _select(arrays: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {key: value[rows] for key, value in arrays.items()}


def _stage_callback(options: MemN2NDataOptions, config: TrainConfig, linear_start_epochs: int) -> Any:
    """The callback that runs the stages: the reference's schedule if the options give one, else LinearStart."""
    if options.schedule is None:
        return LinearStart(linear_start_epochs)
    schedule = ScheduleOptions.from_option(options.schedule)
    return StageSchedule(schedule, linear_start_epochs, config.learning_rate, config.lr_decay_factor)


def make_data(config: TrainConfig, data_dir: str | None) -> TaskData:
    """Training batches, validation arrays, the linear-start switch and per-task evaluation.

    Args:
        config: the run's config; its data_kwargs are `MemN2NDataOptions`, memory and sentence sizes come from
            `config.model_kwargs` (build_model's defaults where not given).
        data_dir: a folder with the bAbI task files; None reads the fixture (if `fixture`) or downloads.

    Returns:
        TaskData whose `evaluate` gives train_error, val_error and test_error (means over the tasks of the
        per-task error, without time noise) and test_error_qa<t> for every task t, all as fractions.
    """
    options = MemN2NDataOptions(**config.data_kwargs)
    vocabulary = babi.BABI_EN_VOCABULARY
    model_kwargs = model_arguments({"vocab_size": len(vocabulary), **config.model_kwargs})
    memory_size, sentence_size = model_kwargs["memory_size"], model_kwargs["sentence_size"]
    if model_kwargs["vocab_size"] < len(vocabulary):
        raise ValueError(
            f"model_kwargs['vocab_size'] must be >= {len(vocabulary)} (the bAbI English vocabulary); "
            f"got {model_kwargs['vocab_size']}."
        )
    if options.schedule is not None and config.lr_decay_every_epochs is not None:
        raise ValueError(
            "data_kwargs schedule sets the learning rate itself; it needs lr_decay_every_epochs=None (got "
            f"{config.lr_decay_every_epochs})."
        )
    tasks = list(options.tasks)
    if data_dir is None and options.fixture:
        data_dir = FIXTURE_DIR
    folder = babi.data_folder(tasks, data_dir)
    train_examples = babi.load_tasks(tasks, "train", folder)
    test_examples = babi.load_tasks(tasks, "test", folder)

    splits: dict[str, list[dict[str, np.ndarray]]] = {"train": [], "val": [], "test": []}
    for task in tasks:
        arrays = babi.vectorize(train_examples[task], vocabulary, memory_size, sentence_size)
        n = len(arrays["answer"])
        n_train = int(n * (1 - options.validation_fraction))
        if n_train < 1 or n_train == n:
            raise datasets.DataError(
                f"bAbI task {task} has {n} training questions: too few to hold out a split."
            )
        splits["train"].append(_select(arrays, np.arange(n_train)))
        splits["val"].append(_select(arrays, np.arange(n_train, n)))
        splits["test"].append(babi.vectorize(test_examples[task], vocabulary, memory_size, sentence_size))
    joined = {
        name: {k: np.concatenate([a[k] for a in parts]) for k in parts[0]} for name, parts in splits.items()
    }

    batches = babi.BabiBatches(
        joined["train"],
        config.batch_size,
        memory_size,
        config.seed,
        options.time_noise,
        options.time_noise_blanks,
    )
    val = joined["val"]
    validation = (babi.model_inputs(val, babi.time_ids(val["num_sentences"], memory_size)), val["answer"])

    def evaluate(model: keras.Model) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for name, arrays in joined.items():
            errors = task_errors(model, arrays)
            metrics[f"{name}_error"] = float(np.mean(list(errors.values())))
            if name == "test":
                metrics.update({f"test_error_qa{t}": e for t, e in errors.items()})
        return metrics

    checksums = {
        babi.task_filename(t, s): datasets.sha256_file(os.path.join(folder, babi.task_filename(t, s)))
        for t in tasks
        for s in ("train", "test")
    }
    return TaskData(
        train=batches,
        validation=validation,
        evaluate=evaluate,
        callbacks=[_stage_callback(options, config, model_kwargs["linear_start_epochs"])],
        info={
            "tasks": tasks,
            "data_dir": data_dir,
            "num_train": int(len(joined["train"]["answer"])),
            "num_val": int(len(val["answer"])),
            "num_test": int(len(joined["test"]["answer"])),
            "sha256": checksums,
            "official_files": all(babi.FILE_SHA256.get(k) == v for k, v in checksums.items()),
        },
    )
