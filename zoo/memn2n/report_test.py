"""The per-task tables and the reference tables' selection (best of N, means over seeds) against hand values."""

from __future__ import annotations

import pytest

from zoo.memn2n.paper import PAPER_JOINT_PE_LS_RN
from zoo.memn2n.report import per_task_table, selection, selection_report, table4


def test_per_task_table_means_over_restarts_and_tasks():
    runs = {
        "b": [{"metrics": {"test_error_qa1": 0.10, "test_error_qa19": 0.50}}],
        "a": [
            {"metrics": {"test_error_qa1": 0.00, "test_error_qa19": 0.80, "loss": 3.0}},
            {"metrics": {"test_error_qa1": 0.02, "test_error_qa19": 0.90}},
        ],
        "empty": [],
    }
    lines = per_task_table(runs, ["b", "a", "empty"]).splitlines()
    assert lines[0] == "| task | b | a | paper (MemN2N, joint PE LS RN) |"
    assert lines[2] == "| 1 single-supporting-fact | 10.0 | 1.0 | 0.0 |"
    assert lines[3] == "| 19 path-finding | 50.0 | 85.0 | 88.0 |"
    assert lines[4] == "| **mean** | 30.0 | 43.0 | 44.0 |"


def test_paper_column_mean_is_the_papers():
    assert round(sum(PAPER_JOINT_PE_LS_RN.values()) / 20, 1) == 12.4


# ------------------------------------------------------------------ the reference tables' selection (issue 17)


def _run(seed: int, train: float, val: float, test: dict[int, float]) -> dict:
    metrics = {"train_error": train, "val_error": val, "test_error": sum(test.values()) / len(test)}
    metrics.update({f"test_error_qa{t}": e for t, e in test.items()})
    return {"config": {"seed": seed}, "metrics": metrics}


# Two tasks, three seeds, one model per task. Hand arithmetic in the tests below.
PER_TASK_RUNS = {
    "task01_two_stage": [
        _run(0, 0.10, 0.20, {1: 0.30}),
        _run(1, 0.05, 0.25, {1: 0.40}),
        _run(2, 0.20, 0.10, {1: 0.20}),
    ],
    "task02_two_stage": [
        _run(0, 0.00, 0.10, {2: 0.50}),
        _run(1, 0.30, 0.00, {2: 0.10}),
        _run(2, 0.10, 0.20, {2: 0.30}),
    ],
}


def test_selection_per_task_mean_and_best_of_n():
    chosen = selection(PER_TASK_RUNS)["two_stage"]
    # Task 1: tests 30, 40, 20 -> mean 30; lowest train error is seed 1 (0.05) -> 40; lowest val seed 2 -> 20.
    assert chosen[1]["mean"] == pytest.approx(30.0) and chosen[1]["n"] == 3
    assert (chosen[1]["best_by_train"], chosen[1]["best_by_val"]) == pytest.approx((40.0, 20.0))
    # Task 2: tests 50, 10, 30 -> mean 30; lowest train seed 0 -> 50; lowest val seed 1 -> 10.
    assert chosen[2]["mean"] == pytest.approx(30.0)
    assert (chosen[2]["best_by_train"], chosen[2]["best_by_val"]) == pytest.approx((50.0, 10.0))
    for cell in chosen.values():
        assert min(20.0, 10.0) <= cell["low"] <= cell["mean"] <= cell["high"] <= 50.0


def test_selection_ties_take_the_first_run_and_equal_runs_give_a_point_interval():
    runs = {"task05_one_stage": [_run(0, 0.1, 0.1, {5: 0.2}), _run(1, 0.1, 0.1, {5: 0.2})]}
    cell = selection(runs)["one_stage"][5]
    assert (cell["mean"], cell["low"], cell["high"]) == pytest.approx((20.0, 20.0, 20.0))
    runs = {"task05_one_stage": [_run(0, 0.1, 0.1, {5: 0.2}), _run(1, 0.1, 0.1, {5: 0.6})]}
    assert selection(runs)["one_stage"][5]["best_by_train"] == pytest.approx(20.0)


def test_table4_over_tasks_pairs_the_tasks_of_each_seed():
    row = table4(PER_TASK_RUNS)["two_stage"]
    # Seed means over the two tasks: train 5.0, 17.5, 15.0; val 15.0, 12.5, 15.0; test 40.0, 25.0, 25.0.
    assert row["seeds"] == 3 and row["tasks"] == 2
    assert row["train_error"]["mean"] == pytest.approx(12.5)
    assert row["val_error"]["mean"] == pytest.approx(42.5 / 3)
    assert row["test_error"]["mean"] == pytest.approx(30.0)
    assert 25.0 <= row["test_error"]["low"] <= 30.0 <= row["test_error"]["high"] <= 40.0
    # A seed whose task 2 has not finished is left out of the means over tasks.
    partial = {**PER_TASK_RUNS, "task02_two_stage": PER_TASK_RUNS["task02_two_stage"][:2]}
    row = table4(partial)["two_stage"]
    assert row["seeds"] == 2 and row["test_error"]["mean"] == pytest.approx(32.5)


def test_joint_selection_chooses_one_model_for_all_tasks():
    runs = {
        "two_stage_noise_eta1": [
            _run(0, 0.10, 0.20, {1: 0.0, 2: 0.6}),
            _run(1, 0.05, 0.30, {1: 0.1, 2: 0.6}),
        ]
    }
    chosen = selection(runs)["two_stage_noise_eta1"]
    assert chosen[1]["mean"] == pytest.approx(5.0)
    assert (chosen[1]["best_by_train"], chosen[1]["best_by_val"]) == pytest.approx((10.0, 0.0))
    row = table4(runs)["two_stage_noise_eta1"]
    assert row["test_error"]["mean"] == pytest.approx(32.5) and row["train_error"]["mean"] == pytest.approx(
        7.5
    )


def test_selection_report_lists_table4_and_the_mean_over_tasks():
    text = selection_report(PER_TASK_RUNS, "title")
    lines = text.splitlines()
    table4_row = next(line for line in lines if line.startswith("| `two_stage` |"))
    assert table4_row.startswith("| `two_stage` | 3 | 2 | 12.5 [") and table4_row.endswith("| 6.2 | 10.9 |")
    assert "| 1 single-supporting-fact | 3 | 30.0 [" in text and "| 40.0 | 20.0 | 0.0 |" in text
    # Mean over the 2 tasks: mean 30.0, best by train (40 + 50) / 2, by val (20 + 10) / 2; paper (0.0 + 11.4) / 2.
    assert "| **mean over 2 tasks** | | 30.0 | 45.0 | 15.0 | 5.7 |" in lines
