"""The per-task tables and the reference tables' selection (best of N, means over seeds) against hand values."""

from __future__ import annotations

import pytest

from zoo import stats
from zoo.memn2n.paper import PAPER_JOINT_PE_LS_RN, PAPER_PER_TASK_PE_LS_RN
from zoo.memn2n.report import (
    against_report,
    compare,
    paper_column,
    per_task_table,
    plot_per_task,
    selection,
    selection_report,
    table4,
)


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


def test_paper_columns_means_are_the_papers():
    assert round(sum(PAPER_JOINT_PE_LS_RN.values()) / 20, 1) == 12.4
    assert round(sum(PAPER_PER_TASK_PE_LS_RN.values()) / 20, 1) == 13.9
    # The printed "failed tasks (err. > 5%)": 11 in both columns.
    assert sum(e > 5 for e in PAPER_PER_TASK_PE_LS_RN.values()) == 11
    assert sum(e > 5 for e in PAPER_JOINT_PE_LS_RN.values()) == 11


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
    # Mean over the 2 tasks: mean 30.0, best by train (40 + 50) / 2, by val (20 + 10) / 2; the paper's per-task
    # column (0.0 + 8.3) / 2.
    assert "| **mean over 2 tasks** | | 30.0 | 45.0 | 15.0 | 4.2 |" in lines
    assert "paper (MemN2N per task PE LS RN) |" in text
    joint = selection_report({"two_stage": [_run(0, 0.1, 0.2, {1: 0.0, 2: 0.6})]}, "title")
    assert "paper (MemN2N joint PE LS RN) |" in joint and "| 2 two-supporting-facts | 1 | 60.0 [" in joint


# One-stage runs of the same two tasks, three seeds: task 1 tests 50, 60, 40 (mean 50); task 2 tests 20, 30, 10
# (mean 20).
ONE_STAGE_RUNS = {
    "task01_one_stage": [
        _run(0, 0.1, 0.1, {1: 0.5}),
        _run(1, 0.1, 0.1, {1: 0.6}),
        _run(2, 0.1, 0.1, {1: 0.4}),
    ],
    "task02_one_stage": [
        _run(0, 0.1, 0.1, {2: 0.2}),
        _run(1, 0.1, 0.1, {2: 0.3}),
        _run(2, 0.1, 0.1, {2: 0.1}),
    ],
}


def test_compare_over_seeds_and_over_tasks_by_hand():
    rows = compare({**PER_TASK_RUNS, **ONE_STAGE_RUNS})
    # Only (two_stage, one_stage) has both settings.
    assert [(row["a"], row["b"]) for row in rows] == [("two_stage", "one_stage")]
    row = rows[0]
    # Seeds: two-stage 40, 25, 25 (mean 30); one-stage (50+20)/2, (60+30)/2, (40+10)/2 = 35, 45, 25 (mean 35).
    assert row["seeds"] == (3, 3) and row["seed_difference"] == pytest.approx(-5.0)
    assert row["seed_p"] == pytest.approx(stats.permutation_test([40, 25, 25], [35, 45, 25]))
    # Tasks: task 1 30 - 50 = -20 (two-stage lower), task 2 30 - 20 = +10: mean -5; sign flips of (-20, 10)
    # reach |mean| >= 5 in 4 of 4 patterns (|-20+10|/2 = 5, |-20-10|/2 = 15, ...).
    assert row["tasks"] == 2 and row["task_difference"] == pytest.approx(-5.0)
    assert (row["a_lower"], row["a_higher"]) == (1, 1)
    assert row["task_p"] == pytest.approx(1.0)
    text = selection_report({**PER_TASK_RUNS, **ONE_STAGE_RUNS}, "title")
    assert "| `two_stage` | `one_stage` | 3, 3 | -5.00 |" in text and "| 2 | -5.00 | 1 / 1 | 1 |" in text


def test_compare_detects_a_consistent_per_task_difference():
    # Eight tasks, A lower by 10 points on each: the sign-flip test's smallest p, 2 / 2**8.
    runs = {}
    for task in range(1, 9):
        runs[f"task{task:02d}_two_stage"] = [_run(0, 0.1, 0.1, {task: 0.1}), _run(1, 0.1, 0.1, {task: 0.3})]
        runs[f"task{task:02d}_one_stage"] = [_run(0, 0.1, 0.1, {task: 0.2}), _run(1, 0.1, 0.1, {task: 0.4})]
    (row,) = compare(runs)
    assert row["task_difference"] == pytest.approx(-10.0) and row["a_lower"] == 8
    assert row["task_p"] == pytest.approx(2 / 256)
    # Over seeds: 10, 30 against 20, 40 -> -10; of the 6 splits of {10, 20, 30, 40} into 2 + 2, four differ by
    # >= 10 ({10,30}/{20,40}, {10,20}/{30,40} and their mirrors): p = 4/6.
    assert row["seed_difference"] == pytest.approx(-10.0) and row["seed_p"] == pytest.approx(4 / 6)


def test_compare_averages_both_settings_over_the_same_tasks():
    # A ran tasks 1 and 2, B only task 1 (a partial sweep): the seed means must not average A over 2 tasks
    # and B over 1.
    runs = {**PER_TASK_RUNS, "task01_one_stage": ONE_STAGE_RUNS["task01_one_stage"]}
    (row,) = compare(runs)
    # Task 1 only: two-stage seeds 30, 40, 20 (mean 30) against one-stage 50, 60, 40 (mean 50).
    assert row["tasks"] == 1 and row["seed_difference"] == pytest.approx(-20.0)
    assert row["task_difference"] == pytest.approx(-20.0)


def test_compare_of_joint_settings_has_no_task_test():
    runs = {
        "two_stage": [_run(0, 0.1, 0.1, {1: 0.1, 2: 0.3}), _run(1, 0.1, 0.1, {1: 0.2, 2: 0.4})],
        "one_stage": [_run(0, 0.1, 0.1, {1: 0.3, 2: 0.5}), _run(1, 0.1, 0.1, {1: 0.4, 2: 0.6})],
    }
    (row,) = compare(runs)
    # One model answers all tasks: seed means 20, 30 vs 40, 50; the tasks are not independent pairs.
    assert row["seed_difference"] == pytest.approx(-20.0) and row["task_p"] is None
    assert "| `two_stage` | `one_stage` | 2, 2 | -20.00 |" in selection_report(runs, "t")
    assert "| -20.00 | 2 / 0 | - |" in selection_report(runs, "t")


def test_joint_table4_counts_the_tasks_the_model_answered():
    runs = {"two_stage": [_run(0, 0.1, 0.2, {1: 0.0, 2: 0.6, 3: 0.3})]}
    assert table4(runs)["two_stage"]["tasks"] == 3


def test_plot_per_task_writes_a_png(tmp_path):
    path = tmp_path / "selection.png"
    runs = {**PER_TASK_RUNS, **ONE_STAGE_RUNS}
    plot_per_task(selection(runs), str(path), paper_column(runs))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_against_report_pairs_the_same_rows_of_two_tables():
    # This table: PER_TASK_RUNS' two_stage (task 1 mean 30, task 2 mean 30; seeds 40, 25, 25). Baseline: the same
    # rows 10 points higher on task 1 only (task 1 mean 40; seeds 45, 30, 30).
    baseline = {
        "task01_two_stage": [
            _run(r["config"]["seed"], 0.1, 0.1, {1: r["metrics"]["test_error"] + 0.1})
            for r in PER_TASK_RUNS["task01_two_stage"]
        ],
        "task02_two_stage": PER_TASK_RUNS["task02_two_stage"],
        "task01_one_stage": ONE_STAGE_RUNS["task01_one_stage"],  # a row this table did not run: left out
    }
    text = against_report(PER_TASK_RUNS, baseline, "base")
    # Seeds: 30 - 35 = -5; tasks: (-10 + 0) / 2 = -5, 1 lower, 0 higher; sign flips of (-10, 0): p = 1.
    assert "| `two_stage` | 3, 3 | -5.00 |" in text and "| 2 | -5.00 | 1 / 0 | 1 |" in text
    assert "one_stage" not in text
