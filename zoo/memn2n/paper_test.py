"""The reference recipe's tables: what the shared runner plans from them, and how the entry exposes them."""

from __future__ import annotations

import collections

import pytest

from zoo import planning, registry, rows
from zoo.memn2n import ENTRY
from zoo.memn2n.babi_facts import REFERENCE_MEMORY_SIZE
from zoo.memn2n.paper import BASE_SETTINGS, JOINT_REPRODUCTION, PER_TASK_REPRODUCTION, split_setting

BASES = [
    "one_stage",
    "one_stage_noise_eta1",
    "one_stage_noise_std0.001",
    "two_stage",
    "two_stage_noise_eta1",
    "two_stage_noise_std0.001",
]


def test_per_task_rows_plan_20_tasks_x_6_settings_x_restarts(tmp_path):
    runs = planning.plan_runs(ENTRY, 5, str(tmp_path), table="reference_per_task")
    assert len(runs) == 20 * 6 * 5
    per_task = collections.Counter(run.config.data_kwargs["tasks"][0] for run in runs)
    assert per_task == {task: 30 for task in range(1, 21)}
    for run in runs:
        task, base = split_setting(run.setting)
        assert run.config.data_kwargs["tasks"] == [task] and base in BASES
        assert run.config.seed == run.restart  # per_task's seed 0 + restart
        assert run.workdir == str(tmp_path / run.setting / f"restart_{run.restart:03d}")
    assert {run.restart for run in runs if run.setting == "task07_two_stage_noise_eta1"} == set(range(5))
    first = [run.setting for run in runs[:30:5]]
    assert first == [f"task01_{base}" for base in BASES]


def test_reference_rows_state_stage_rate_noise_and_clipping(tmp_path):
    runs = {
        run.label: run.config
        for run in planning.plan_runs(ENTRY, 1, str(tmp_path), table="reference_per_task")
    }
    one, two = runs["task16_one_stage#0"], runs["task16_two_stage_noise_eta1#0"]
    assert (one.model_kwargs["linear_start_epochs"], one.learning_rate) == (0, 0.01)
    assert (two.model_kwargs["linear_start_epochs"], two.learning_rate) == (20, 0.005)
    assert (one.noise_eta, one.noise_std, two.noise_eta, two.noise_gamma) == (0.0, None, 1.0, 0.55)
    assert runs["task16_two_stage_noise_std0.001#0"].noise_std == 0.001
    # Each weight's gradient clipped on its own, as nn/Weight.m does; the fixed switch (the table's config).
    assert {(c.global_clipnorm, c.clipnorm) for c in runs.values()} == {(None, 40.0)}
    assert {c.data_kwargs["schedule"]["switch"] for c in runs.values()} == {"epochs"}
    for spec in (PER_TASK_REPRODUCTION, JOINT_REPRODUCTION):
        assert all(rows.missing_axes(spec, setting) == [] for setting in spec.settings)


def test_joint_rows_and_the_selected_config(tmp_path):
    runs = planning.plan_runs(ENTRY, 5, str(tmp_path), table="reference_joint")
    assert len(runs) == 30 and [run.setting for run in runs[::5]] == BASES == list(BASE_SETTINGS)
    assert {run.config.model_kwargs["embedding_dim"] for run in runs} == {50}
    assert {len(run.config.data_kwargs["tasks"]) for run in runs} == {20}
    assert {run.config.data_kwargs["schedule"]["switch"] for run in runs} == {"epochs"}
    # --config picks the plateau-switch variant; --settings one task's rows.
    plateau = planning.plan_runs(
        ENTRY, 2, str(tmp_path), ["task03_two_stage"], "per_task", table="reference_per_task"
    )
    assert [run.config.data_kwargs["schedule"]["switch"] for run in plateau] == ["plateau", "plateau"]
    assert [run.config.data_kwargs["tasks"] for run in plateau] == [[3], [3]]


def test_a_row_cannot_be_moved_to_another_task_by_an_override(tmp_path):
    with pytest.raises(ValueError, match="task03_two_stage declares data_kwargs.tasks"):
        planning.plan_runs(
            ENTRY,
            1,
            str(tmp_path),
            ["task03_two_stage"],
            overrides={"data_kwargs": {"tasks": [4]}},
            table="reference_per_task",
        )


def test_entry_tables():
    assert ENTRY.table() is ENTRY.reproduction and ENTRY.table("reference_joint") is JOINT_REPRODUCTION
    with pytest.raises(
        ValueError, match="Known tables: reference_joint, reference_per_task, reference_per_task_exact"
    ):
        ENTRY.table("per_task")
    for name in registry.names():  # every other model keeps its one table under entry.reproduction
        entry = registry.get(name)
        if entry.reproduction is not None:
            assert entry.table() is entry.reproduction
    assert split_setting("task03_two_stage_noise_eta1") == (3, "two_stage_noise_eta1")
    assert split_setting("two_stage") == (None, "two_stage")


def test_exact_rows_differ_from_the_reference_rows_only_in_memory_size_and_blank_draw(tmp_path):
    plain = {
        r.label: r.config for r in planning.plan_runs(ENTRY, 1, str(tmp_path), table="reference_per_task")
    }
    exact = {
        r.label: r.config
        for r in planning.plan_runs(ENTRY, 1, str(tmp_path), table="reference_per_task_exact")
    }
    assert set(plain) == set(exact) and len(exact) == 120
    for label, config in exact.items():
        task = config.data_kwargs["tasks"][0]
        # config_babi.m: the longest training story, at most 50 (recounted from the files in babi_test.py).
        assert config.model_kwargs["memory_size"] == REFERENCE_MEMORY_SIZE[task]
        assert config.data_kwargs["time_noise_blanks"] == "inclusive"
        expected = plain[label].replace(
            model_kwargs={"memory_size": REFERENCE_MEMORY_SIZE[task]},
            data_kwargs={"time_noise_blanks": "inclusive"},
        )
        assert config == expected, label
    assert exact["task04_two_stage#0"].model_kwargs["memory_size"] == 2
