"""Per-task test errors of finished MemN2N runs beside the MemN2N paper's, as a markdown table.

    python -m zoo.memn2n.report --runs_dir=runs/memn2n --out=docs/results/memn2n/per_task.md

Every `<runs_dir>/<setting>/restart_*/results.json` contributes; a setting's column is the mean over its
restarts of each task's test error (%).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from absl import app, flags

from .babi import TASK_NAMES

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


def load_runs(runs_dir: str) -> dict[str, list[dict[str, Any]]]:
    """setting name -> the results.json dicts of its finished restarts (settings sorted by name)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(glob.glob(os.path.join(runs_dir, "*", "restart_*", "results.json"))):
        with open(path) as f:
            runs.setdefault(os.path.basename(os.path.dirname(os.path.dirname(path))), []).append(json.load(f))
    return runs


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
flags.DEFINE_string("out", "docs/results/memn2n/per_task.md", "Where the markdown table goes.")


def main(argv: list[str]) -> None:
    del argv
    from zoo.memn2n import REPRODUCTION

    runs = load_runs(FLAGS.runs_dir)
    if not runs:
        raise app.UsageError(f"No finished runs (results.json) under {FLAGS.runs_dir!r}.")
    table = per_task_table(runs, [s.name for s in REPRODUCTION.settings])
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        f.write("Test error (%) per bAbI task, mean over restarts.\n\n" + table)
    print(table)


if __name__ == "__main__":
    app.run(main)
