"""Table 4 of Neelakantan et al. 2015 (section 4.2): MemN2N on bAbI 1k, one- and two-stage training with and
without noise, as a `ReproductionSpec`; and the MemN2N paper's per-task errors the per-task report compares with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo import rows
from zoo.memn2n.babi_facts import ALL_TASKS, REFERENCE_MEMORY_SIZE
from zoo.registry import ReproductionSpec, Setting

# Sukhbaatar et al. 2015, Table 1, bAbI 1k, 3 hops, "PE LS RN" trained jointly on all 20 tasks: test error (%).
# Transcribed from a public listing of that column (accuracies 1.0, 0.886, ...); its mean, 12.4, is the
# paper's reported mean.
PAPER_JOINT_PE_LS_RN: dict[int, float] = {
    1: 0.0,
    2: 11.4,
    3: 21.9,
    4: 13.4,
    5: 14.4,
    6: 2.8,
    7: 18.3,
    8: 9.3,
    9: 1.9,
    10: 6.5,
    11: 0.3,
    12: 0.1,
    13: 0.2,
    14: 6.9,
    15: 0.0,
    16: 2.7,
    17: 40.4,
    18: 9.4,
    19: 88.0,
    20: 0.0,
}


# The same table's "PE LS RN" column: 3 hops, one model trained per task (the reference recipe's
# `reference_per_task` table compares with it). Read off an image of the paper's Table 1 (in a public course
# presentation); the image's BoW, PE and joint columns agree with other public listings of those columns, and
# the printed mean is 13.9 (the 20 values below average 13.855).
PAPER_PER_TASK_PE_LS_RN: dict[int, float] = {
    1: 0.0,
    2: 8.3,
    3: 40.3,
    4: 2.8,
    5: 13.1,
    6: 7.6,
    7: 17.3,
    8: 10.0,
    9: 13.2,
    10: 15.1,
    11: 0.9,
    12: 0.2,
    13: 0.4,
    14: 1.7,
    15: 0.0,
    16: 1.3,
    17: 51.0,
    18: 11.1,
    19: 82.8,
    20: 0.0,
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

# ---------------------------------------------------------------------------------------------------------------
# Table 4 with the reference recipe (issue 17): configs per_task / joint_reference (configs.py, schedule.py).

# Neelakantan et al. 2015, Table 4: train / validation error (%) averaged over the 20 tasks, by base setting.
TABLE4 = {
    "one_stage": {"train_error": 10.5, "val_error": 19.5},
    "one_stage_noise_eta1": {"train_error": 9.6, "val_error": 16.6},
    "two_stage": {"train_error": 6.2, "val_error": 10.9},
    "two_stage_noise_eta1": {"train_error": 5.9, "val_error": 10.8},
}

# How Sukhbaatar et al. 2015 chose the run they report per task among their 10 initializations: the one with the
# lowest TRAINING error ("repeated each training 10 times with different random initializations, and picked the
# one with the lowest training error", section 4.2 of arXiv 1503.08895, as quoted in a public README; the
# paper's own text was not available to us, so check it before relying on this).
PAPER_SELECTION = "train_error"

# The six base settings of Table 4, one per (stage, noise). The reference recipe's learning rate depends on the
# stage: config_babi.m / config_babi_joint.m set init_lrate = 0.01 and, with linear start, 0.01/2 for both
# stages; so the rows state it. Noise: eta = 1.0 (gamma 0.55) or std 0.001, added after clipping each weight's
# gradient to norm 40.
_REFERENCE_STAGES = {
    "one": ({"model_kwargs": {"linear_start_epochs": 0}, "learning_rate": 0.01}, {}),
    "two": ({"learning_rate": 0.005}, {"model_kwargs.linear_start_epochs": rows.AtLeast(1)}),
}
# Clipping: nn/Weight.m clips each weight matrix's gradient on its own (max_grad_norm 40), not the gradient of
# all weights jointly, so the reference configs and rows clip per tensor (Keras clipnorm). Matlab's norm() of a matrix is its
# largest singular value, which is at most the Frobenius norm clipnorm uses: ours clips at least as often.
REFERENCE_CLIPPING = rows.clipping(norm=40.0)
_NOISES = {
    "": rows.no_noise(),
    "_noise_eta1": rows.annealed_noise(1.0),
    "_noise_std0.001": rows.constant_noise(0.001),
}
BASE_SETTINGS = tuple(f"{stage}_stage{noise}" for stage in _REFERENCE_STAGES for noise in _NOISES)


def _reference_settings(task: int | None, exact: bool = False) -> list[Setting]:
    """The six base settings, for one task (`task<tt>_<setting>`, data_kwargs tasks [t]) or the joint model.

    `exact`: each task's row also states the reference code's memory size for that task (REFERENCE_MEMORY_SIZE)
    and its blank draw (time_noise_blanks "inclusive").
    """
    settings = []
    for stage, (overrides, requires) in _REFERENCE_STAGES.items():
        for suffix, noise in _NOISES.items():
            base = f"{stage}_stage{suffix}"
            stated = {**overrides, **noise, **REFERENCE_CLIPPING}
            if task is None:
                settings.append(Setting(base, stated, TABLE4.get(base, {}), requires=requires))
            else:
                stated["data_kwargs"] = {"tasks": [task]}
                if exact:
                    stated["data_kwargs"]["time_noise_blanks"] = "inclusive"
                    stated["model_kwargs"] = {
                        **stated.get("model_kwargs", {}),
                        "memory_size": REFERENCE_MEMORY_SIZE[task],
                    }
                settings.append(Setting(f"task{task:02d}_{base}", stated, {}, requires=requires))
    return settings


def split_setting(name: str) -> tuple[int | None, str]:
    """ "task03_two_stage" -> (3, "two_stage"); a joint setting "two_stage" -> (None, "two_stage")."""
    head, _, rest = name.partition("_")
    if head.startswith("task") and head[4:].isdigit() and rest:
        return int(head[4:]), rest
    return None, name


def best_run(results: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """The run with the lowest `metrics[key]` (the first one on ties), as Sukhbaatar et al. select per task."""
    return min(results, key=lambda result: result["metrics"][key])


def summarize_selection(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`summarize`'s row plus the test error of the best run by training and by validation error (best of N)."""
    row = summarize(results)
    for key in ("train_error", "val_error"):
        row[f"test_error_best_by_{key[:-6]}"] = round(
            100.0 * best_run(results, key)["metrics"]["test_error"], 2
        )
    return row


def _test_error_percent(result: dict[str, Any]) -> float:
    return 100.0 * result["metrics"]["test_error"]


def _reference_spec(
    title: str, config: str, settings: list[Setting], axes: tuple[str, ...]
) -> ReproductionSpec:
    names = {setting.name for setting in settings}
    return ReproductionSpec(
        title=title,
        config=config,
        settings=tuple(settings),
        columns=(
            "train_error",
            "val_error",
            "test_error",
            "test_error_std",
            "test_error_best_by_train",
            "test_error_best_by_val",
            "restarts",
        ),
        summarize=summarize_selection,
        curve_metric="val_accuracy",
        axes=axes,
        run_value=_test_error_percent,
        run_value_name="test error (%)",
        comparisons=tuple(
            (name, name.replace(noise, ""))
            for name in sorted(names)
            for noise in ("_noise_eta1", "_noise_std0.001")
            if noise in name and name.replace(noise, "") in names
        ),
    )


# One model per task: 20 tasks x 6 settings; `python -m zoo.memn2n.report --table=reference_per_task` adds the
# per-task selection and the mean over tasks.
PER_TASK_REPRODUCTION = _reference_spec(
    "Table 4 with the reference recipe, one model per bAbI 1k task (errors %, per task)",
    "per_task_fixed",
    [setting for task in ALL_TASKS for setting in _reference_settings(task)],
    ("model_kwargs.linear_start_epochs", "learning_rate", "data_kwargs.tasks"),
)
# The same with the reference code's memory size per task and its blank draw (config per_task_exact).
EXACT_PER_TASK_REPRODUCTION = _reference_spec(
    "Table 4 with the reference recipe, one model per bAbI 1k task, the reference's memory size per task and "
    "blank draw (errors %, per task)",
    "per_task_exact",
    [setting for task in ALL_TASKS for setting in _reference_settings(task, exact=True)],
    (
        "model_kwargs.linear_start_epochs",
        "learning_rate",
        "data_kwargs.tasks",
        "model_kwargs.memory_size",
        "data_kwargs.time_noise_blanks",
    ),
)
# One model for all 20 tasks (config_babi_joint.m), the six settings.
JOINT_REPRODUCTION = _reference_spec(
    "Table 4 with the reference recipe, one model for all 20 bAbI 1k tasks (errors %, mean over tasks)",
    "joint_reference_fixed",
    _reference_settings(None),
    ("model_kwargs.linear_start_epochs", "learning_rate"),
)
TABLES = {
    "reference_per_task": PER_TASK_REPRODUCTION,
    "reference_per_task_exact": EXACT_PER_TASK_REPRODUCTION,
    "reference_joint": JOINT_REPRODUCTION,
}
