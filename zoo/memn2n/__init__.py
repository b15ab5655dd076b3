"""End-To-End Memory Networks on bAbI (Sukhbaatar et al. 2015; Neelakantan et al. 2015, section 4.2, Table 4).

Data options (`TrainConfig.data_kwargs`):
    tasks: a list of task numbers in 1..20, or "all"; several tasks are trained jointly in one model.
    validation_fraction: the last fraction of every task's training questions held out (reference code: 0.1).
    time_noise: the random time noise fraction of the training batches (paper: 0.1; 0 disables).
    fixture: with no --data_dir, read the small shipped fixture (tests/fixtures/babi) instead of downloading.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from zoo import datasets, resources, rows
from zoo.config import TrainConfig
from zoo.memn2n.presets import PRESETS
from zoo.registry import ReproductionSpec, Setting, TaskData, ZooEntry

from . import babi, configs
from .model import LinearStart, MemoryNetwork, build_model

FIXTURE_DIR = resources.fixture_path("babi")

DATA_DEFAULTS: dict[str, Any] = {
    "tasks": [1],
    "validation_fraction": 0.1,
    "time_noise": 0.1,
    "fixture": False,
}


def resolve_tasks(tasks: Any) -> list[int]:
    """`tasks` data option -> sorted task numbers; ValueError naming the accepted values otherwise."""
    if tasks == "all":
        return list(configs.ALL_TASKS)
    if isinstance(tasks, int) and not isinstance(tasks, bool):
        tasks = [tasks]
    if not isinstance(tasks, (list, tuple)) or not tasks or any(t not in babi.TASK_NAMES for t in tasks):
        raise ValueError(
            f"data_kwargs['tasks'] must be 'all' or a non-empty list of integers in 1..20; got {tasks!r}."
        )
    return sorted(set(tasks))


def _data_options(config: TrainConfig) -> dict[str, Any]:
    unknown = set(config.data_kwargs) - set(DATA_DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown memn2n data_kwargs {sorted(unknown)}; accepted: {sorted(DATA_DEFAULTS)}.")
    options = {**DATA_DEFAULTS, **config.data_kwargs}
    options["tasks"] = resolve_tasks(options["tasks"])
    if not 0 < options["validation_fraction"] < 1:
        raise ValueError(f"validation_fraction must be in (0, 1); got {options['validation_fraction']!r}.")
    if not 0 <= options["time_noise"] <= 1:
        raise ValueError(f"time_noise must be in [0, 1]; got {options['time_noise']!r}.")
    return options


def task_errors(model: keras.Model, arrays: dict[str, np.ndarray], batch_size: int = 512) -> dict[int, float]:
    """task number -> fraction of wrong answers of `model` on `vectorize` arrays (no time noise)."""
    times = babi.time_ids(arrays["num_sentences"], model.get_layer("memn2n").memory_size)
    logits = model.predict(babi.model_inputs(arrays, times), batch_size=batch_size, verbose=0)
    wrong = np.argmax(logits, axis=-1) != arrays["answer"]
    return {int(t): float(np.mean(wrong[arrays["task"] == t])) for t in np.unique(arrays["task"])}


def _select(arrays: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {key: value[rows] for key, value in arrays.items()}


def make_data(config: TrainConfig, data_dir: str | None) -> TaskData:
    """Training batches, validation arrays, the linear-start switch and per-task evaluation.

    Args:
        config: the run's config; data options in `config.data_kwargs` (see the module docstring), memory and
            sentence sizes from `config.model_kwargs`.
        data_dir: a folder with the bAbI task files; None reads the fixture (if `fixture`) or downloads.

    Returns:
        TaskData whose `evaluate` gives train_error, val_error and test_error (means over the tasks of the
        per-task error, without time noise) and test_error_qa<t> for every task t, all as fractions.
    """
    options = _data_options(config)
    model_kwargs = {**_MODEL_DEFAULTS, **config.model_kwargs}
    memory_size, sentence_size = model_kwargs["memory_size"], model_kwargs["sentence_size"]
    vocabulary = babi.BABI_EN_VOCABULARY
    if model_kwargs["vocab_size"] < len(vocabulary):
        raise ValueError(
            f"model_kwargs['vocab_size'] must be >= {len(vocabulary)} (the bAbI English vocabulary); "
            f"got {model_kwargs['vocab_size']}."
        )
    tasks = options["tasks"]
    if data_dir is None and options["fixture"]:
        data_dir = FIXTURE_DIR
    folder = babi.data_folder(tasks, data_dir)
    train_examples = babi.load_tasks(tasks, "train", folder)
    test_examples = babi.load_tasks(tasks, "test", folder)

    splits: dict[str, list[dict[str, np.ndarray]]] = {"train": [], "val": [], "test": []}
    for task in tasks:
        arrays = babi.vectorize(train_examples[task], vocabulary, memory_size, sentence_size)
        n = len(arrays["answer"])
        n_train = int(n * (1 - options["validation_fraction"]))
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
        joined["train"], config.batch_size, memory_size, config.seed, options["time_noise"]
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
        callbacks=[LinearStart(model_kwargs["linear_start_epochs"])],
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


_MODEL_DEFAULTS = {
    "vocab_size": len(babi.BABI_EN_VOCABULARY),
    "memory_size": 50,
    "sentence_size": 11,
    "linear_start_epochs": 0,
}


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """Summed (not averaged) cross-entropy over the batch, as in the reference code, so that lr 0.01 and clip
    norm 40 have the reference's meaning; plus accuracy."""
    return {
        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum"),
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One Table 4 row: train / validation / test error in percent, each the mean over restarts of the mean
    over tasks; with several restarts also the spread (std) of the test error."""
    row: dict[str, Any] = {}
    for key in ("train_error", "val_error", "test_error"):
        values = [100.0 * r["metrics"][key] for r in results]
        row[key] = round(float(np.mean(values)), 2)
    row["test_error_std"] = round(float(np.std([100.0 * r["metrics"]["test_error"] for r in results])), 2)
    row["restarts"] = len(results)
    return row


# Neelakantan et al. 2015, Table 4 (train / validation error in %, averaged over the 20 tasks); the
# fixed-std rows are described in the text ("also worked") without numbers.
_ONE_STAGE = {"model_kwargs": {"linear_start_epochs": 0}}
# Two-stage rows take the number of linear-start epochs from the config (a matter of scale) but require some.
_TWO_STAGE = {"model_kwargs.linear_start_epochs": rows.AtLeast(1)}
_CLIP = rows.clipping(global_norm=40.0)


def _setting(name: str, stage: str, noise: dict[str, Any], paper: dict[str, float] | None = None) -> Setting:
    if stage == "one":
        return Setting(name, {**_ONE_STAGE, **noise, **_CLIP}, paper or {})
    return Setting(name, {**noise, **_CLIP}, paper or {}, requires=_TWO_STAGE)


REPRODUCTION = ReproductionSpec(
    title="Table 4: MemN2N on bAbI 1k, average error over the 20 tasks (train / validation / test, %)",
    config="joint",
    settings=(
        _setting("one_stage", "one", rows.no_noise(), {"train_error": 10.5, "val_error": 19.5}),
        _setting(
            "one_stage_noise_eta1", "one", rows.annealed_noise(1.0), {"train_error": 9.6, "val_error": 16.6}
        ),
        _setting("one_stage_noise_std0.001", "one", rows.constant_noise(0.001)),
        _setting("two_stage", "two", rows.no_noise(), {"train_error": 6.2, "val_error": 10.9}),
        _setting(
            "two_stage_noise_eta1", "two", rows.annealed_noise(1.0), {"train_error": 5.9, "val_error": 10.8}
        ),
        _setting("two_stage_noise_std0.001", "two", rows.constant_noise(0.001)),
    ),
    columns=("train_error", "val_error", "test_error", "test_error_std", "restarts"),
    summarize=summarize,
    curve_metric="val_accuracy",
    axes=("model_kwargs.linear_start_epochs",),
)

ENTRY = ZooEntry(
    name="memn2n",
    description="End-To-End Memory Network (3 hops, PE, temporal encoding, linear start) on bAbI 1k",
    build_model=build_model,
    make_data=make_data,
    compile_kwargs=compile_kwargs,
    configs=configs.CONFIGS,
    reproduction=REPRODUCTION,
    presets=PRESETS,
)

__all__ = ["ENTRY", "LinearStart", "MemoryNetwork", "build_model", "make_data"]
