"""The per-task table against hand-computed values."""

from __future__ import annotations

from zoo.memn2n.paper import PAPER_JOINT_PE_LS_RN
from zoo.memn2n.report import per_task_table


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
