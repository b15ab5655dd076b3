"""Per-task test errors of finished MemN2N runs beside the MemN2N paper's, as a markdown table.

    python -m zoo.memn2n.report --runs_dir=runs/memn2n --out=docs/results/memn2n/per_task.md

The runs are those `reproduce.py --model=memn2n` made under `--runs_dir` (zoo.planning's layout, read by
zoo.reproduce.load_results): a setting's column is the mean over its finished restarts of each task's test
error (%).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from absl import app, flags

from zoo import reproduce
from zoo.memn2n.babi_facts import TASK_NAMES
from zoo.memn2n.paper import PAPER_JOINT_PE_LS_RN


def load_runs(runs_dir: str, restarts: int) -> dict[str, list[dict[str, Any]]]:
    """setting -> the results.json dicts of its finished restarts among the first `restarts`, Table 4's order."""
    from zoo.memn2n import (
        ENTRY,
    )  # here: building the entry imports Keras, which the table itself does not need

    return reproduce.load_results(reproduce.plan_runs(ENTRY, restarts, runs_dir))


def per_task_table(runs: Mapping[str, Sequence[dict[str, Any]]], order: Sequence[str] | None = None) -> str:
    """Markdown: one row per task (and a mean row), one column per setting, the paper's column last.

    Args:
        runs: setting -> results dicts holding metrics "test_error_qa<t>" (fractions).
        order: the settings' column order (default: sorted names); settings without runs are left out.

    Returns:
        The table, errors in percent with one decimal.
    """
    settings = [s for s in (order or sorted(runs)) if runs.get(s)]
    prefix = "test_error_qa"
    keys = {
        key for s in settings for result in runs[s] for key in result["metrics"] if key.startswith(prefix)
    }
    tasks = sorted(int(key[len(prefix) :]) for key in keys)
    columns = {
        s: {t: 100.0 * float(np.mean([r["metrics"][f"test_error_qa{t}"] for r in runs[s]])) for t in tasks}
        for s in settings
    }
    header = ["task", *settings, "paper (MemN2N, joint PE LS RN)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for t in tasks:
        cells = [
            f"{t} {TASK_NAMES[t]}",
            *(f"{columns[s][t]:.1f}" for s in settings),
            f"{PAPER_JOINT_PE_LS_RN[t]}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    means = [f"{np.mean([columns[s][t] for t in tasks]):.1f}" for s in settings]
    paper_mean = np.mean([PAPER_JOINT_PE_LS_RN[t] for t in tasks])
    lines.append("| **mean** | " + " | ".join([*means, f"{paper_mean:.1f}"]) + " |")
    return "\n".join(lines) + "\n"


FLAGS = flags.FLAGS
flags.DEFINE_string("runs_dir", "runs/memn2n", "The reproduction's runs directory.")
flags.DEFINE_integer(
    "restarts", 20, "Restarts per setting to read (reproduce.py --restarts); missing ones are skipped."
)
flags.DEFINE_string("out", "docs/results/memn2n/per_task.md", "Where the markdown table goes.")


def main(argv: list[str]) -> None:
    del argv
    runs = load_runs(FLAGS.runs_dir, FLAGS.restarts)
    if not any(runs.values()):
        raise app.UsageError(f"No finished runs (results.json) under {FLAGS.runs_dir!r}.")
    table = per_task_table(runs, list(runs))
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        f.write("Test error (%) per bAbI task, mean over restarts.\n\n" + table)
    print(table)


if __name__ == "__main__":
    app.run(main)
