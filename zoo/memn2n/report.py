"""Per-task test errors of finished MemN2N runs beside the MemN2N paper's, as markdown tables.

    python -m zoo.memn2n.report --runs_dir=runs/memn2n --out=docs/results/memn2n_table4_joint_cpu/per_task.md
    python -m zoo.memn2n.report --table=reference_per_task --restarts=5 --runs_dir=runs/memn2n/per_task \
        --out=docs/results/memn2n_reference_per_task/selection.md

The runs are those `reproduce.py --model=memn2n [--table=...]` made under `--runs_dir` (zoo.planning's layout,
read by zoo.reproduce.load_results). Without --table: a setting's column is the mean over its finished restarts
of each task's test error (%). With --table (the reference recipe's tables, issue 17): `selection_report`, i.e.
Table 4's train / validation / test error over the 20 tasks with 95 % bootstrap intervals over seeds, and per
task and setting the mean test error over seeds (95 % interval) and the best-of-N test error when the seed is
chosen by training error (as Sukhbaatar et al. did, paper.PAPER_SELECTION) or by validation error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from absl import app, flags

from zoo import reproduce, stats
from zoo.memn2n.babi_facts import TASK_NAMES
from zoo.memn2n.paper import BASE_SETTINGS, PAPER_JOINT_PE_LS_RN, PAPER_SELECTION, TABLE4, split_setting


def load_runs(runs_dir: str, restarts: int, table: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """setting -> the results.json dicts of its finished restarts among the first `restarts`, the table's order.

    `table`: one of the entry's tables (None: the main Table 4 spec).
    """
    from zoo.memn2n import (
        ENTRY,
    )  # here: building the entry imports Keras, which the table itself does not need

    return reproduce.load_results(reproduce.plan_runs(ENTRY, restarts, runs_dir, table=table))


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


def _test_errors(result: Mapping[str, Any]) -> dict[int, float]:
    """task -> test error (%) of one run (a per-task run has one task, a joint run all of them)."""
    prefix = "test_error_qa"
    metrics = result["metrics"]
    return {int(k[len(prefix) :]): 100.0 * float(v) for k, v in metrics.items() if k.startswith(prefix)}


def _interval(values: Sequence[float]) -> dict[str, Any]:
    low, high = stats.bootstrap_mean_interval(values)
    return {"mean": float(np.mean(values)), "low": low, "high": high, "n": len(values)}


def selection(runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, dict[int, dict[str, Any]]]:
    """base setting -> task -> the seeds' test errors (%): mean with 95 % bootstrap interval and best of N.

    `runs` maps a table's settings ("task03_two_stage" one model per task, or "two_stage" one joint model) to
    their finished runs. Best of N: the test error of the run with the lowest training ("best_by_train") or
    validation ("best_by_val") error, first run on ties; for a joint model the run is chosen by its errors over
    all tasks, as one model is one choice.
    """
    chosen: dict[str, dict[int, dict[str, Any]]] = {}
    for name, results in runs.items():
        if not results:
            continue
        _, base = split_setting(name)
        per_run = [_test_errors(result) for result in results]
        for task in sorted(set().union(*per_run)):
            cell = _interval([errors[task] for errors in per_run])
            for key in ("train_error", "val_error"):
                best = min(range(len(results)), key=lambda i: results[i]["metrics"][key])
                cell[f"best_by_{key[:-6]}"] = per_run[best][task]
            chosen.setdefault(base, {})[task] = cell
    return chosen


def table4(runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """base setting -> Table 4's errors (%) over the 20 tasks, each a mean over seeds with a 95 % bootstrap interval.

    A seed's value is its model's (joint) or its 20 models' (per task: the mean over the tasks of that seed's
    runs) train / validation / test error; seeds are matched by the run's config seed, and a per-task seed counts
    only once all its tasks finished (so that every value averages the same tasks).
    """
    by_seed: dict[str, dict[int, dict[int | None, Mapping[str, Any]]]] = {}
    for name, results in runs.items():
        task, base = split_setting(name)
        for result in results:
            by_seed.setdefault(base, {}).setdefault(result["config"]["seed"], {})[task] = result["metrics"]
    tasks_per_base = {base: {task for seeds in by_seed[base].values() for task in seeds} for base in by_seed}
    rows: dict[str, dict[str, Any]] = {}
    for base, seeds in by_seed.items():
        complete = [s for s in sorted(seeds) if set(seeds[s]) == tasks_per_base[base]]
        if not complete:
            continue
        rows[base] = {"seeds": len(complete), "tasks": len(tasks_per_base[base])}
        for key in ("train_error", "val_error", "test_error"):
            values = [100.0 * float(np.mean([m[key] for m in seeds[s].values()])) for s in complete]
            rows[base][key] = _interval(values)
    return rows


def _ci(cell: Mapping[str, Any]) -> str:
    return f"{cell['mean']:.1f} [{cell['low']:.1f}, {cell['high']:.1f}]"


def selection_report(runs: Mapping[str, Sequence[Mapping[str, Any]]], title: str) -> str:
    """Markdown: Table 4 over the 20 tasks, then one per-task table per base setting (see `selection`)."""
    summary = table4(runs)
    chosen = selection(runs)
    order = [base for base in BASE_SETTINGS if base in summary or base in chosen]
    lines = [
        f"# {title}",
        "",
        "Errors in %. [a, b]: 95 % percentile-bootstrap interval of the mean over seeds. Best of N: the test error",
        "of the seed with the lowest training (or validation) error; Sukhbaatar et al. report per task the best of",
        f"10 runs by {PAPER_SELECTION.replace('_', ' ')}.",
        "",
        "## Table 4: mean over the tasks (all 20 once the sweep is complete)",
        "",
        "| setting | seeds | tasks | train | validation | test | train (paper) | validation (paper) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for base in order:
        if base not in summary:
            continue
        row, paper = summary[base], TABLE4.get(base, {})
        cells = [
            f"`{base}`",
            str(row["seeds"]),
            str(row["tasks"]),
            *(_ci(row[k]) for k in ("train_error", "val_error", "test_error")),
        ]
        cells += [str(paper.get(k, "-")) for k in ("train_error", "val_error")]
        lines.append("| " + " | ".join(cells) + " |")
    for base in order:
        if base not in chosen:
            continue
        tasks = chosen[base]
        lines += [
            "",
            f"## `{base}`: test error per task",
            "",
            "| task | seeds | mean [95% CI] | best of N by train | best of N by val | paper (MemN2N joint PE LS RN) |",
            "|---|---|---|---|---|---|",
        ]
        for task, cell in tasks.items():
            lines.append(
                f"| {task} {TASK_NAMES[task]} | {cell['n']} | {_ci(cell)} | {cell['best_by_train']:.1f} | "
                f"{cell['best_by_val']:.1f} | {PAPER_JOINT_PE_LS_RN[task]} |"
            )
        means = [
            np.mean([cell[k] for cell in tasks.values()]) for k in ("mean", "best_by_train", "best_by_val")
        ]
        paper_mean = np.mean([PAPER_JOINT_PE_LS_RN[t] for t in tasks])
        lines.append(
            f"| **mean over {len(tasks)} tasks** | | {means[0]:.1f} | {means[1]:.1f} | {means[2]:.1f} | "
            f"{paper_mean:.1f} |"
        )
    return "\n".join(lines) + "\n"


FLAGS = flags.FLAGS
flags.DEFINE_string("runs_dir", "runs/memn2n", "The reproduction's runs directory.")
flags.DEFINE_integer(
    "restarts", 20, "Restarts per setting to read (reproduce.py --restarts); missing ones are skipped."
)
flags.DEFINE_string(
    "out", "docs/results/memn2n_table4_joint_cpu/per_task.md", "Where the markdown table goes."
)
flags.DEFINE_string(
    "table",
    None,
    "reference_per_task or reference_joint (reproduce.py --table): write the selection report of that table; "
    "default: the per-task table of the main Table 4 sweep.",
)


def main(argv: list[str]) -> None:
    del argv
    runs = load_runs(FLAGS.runs_dir, FLAGS.restarts, FLAGS.table)
    if not any(runs.values()):
        raise app.UsageError(f"No finished runs (results.json) under {FLAGS.runs_dir!r}.")
    if FLAGS.table is not None:
        from zoo.memn2n import ENTRY

        text = selection_report(runs, ENTRY.table(FLAGS.table).title)
        os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
        with open(FLAGS.out, "w") as f:
            f.write(text)
        print(text)
        return
    table = per_task_table(runs, list(runs))
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        f.write("Test error (%) per bAbI task, mean over restarts.\n\n" + table)
    print(table)


if __name__ == "__main__":
    app.run(main)
