"""Per-task test errors of finished MemN2N runs beside the MemN2N paper's, as markdown tables.

    python -m zoo.memn2n.report --runs_dir=runs/memn2n --out=docs/results/memn2n_table4_joint_cpu/per_task.md
    python -m zoo.memn2n.report --table=reference_per_task --override seed=100 --restarts=5 \
        --runs_dir=runs/memn2n/reference_per_task --out=docs/results/memn2n_reference_per_task_cpu/selection.md

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
from zoo.config import parse_overrides
from zoo.memn2n.babi_facts import TASK_NAMES
from zoo.memn2n.paper import (
    BASE_SETTINGS,
    PAPER_JOINT_PE_LS_RN,
    PAPER_PER_TASK_PE_LS_RN,
    PAPER_SELECTION,
    TABLE4,
    split_setting,
)


def load_runs(
    runs_dir: str,
    restarts: int,
    table: str | None = None,
    config_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """setting -> the results.json dicts of its finished restarts among the first `restarts`, the table's order.

    Args:
        runs_dir: the sweep's --runs_dir.
        restarts: restarts per setting to read.
        table: one of the entry's tables (None: the main Table 4 spec).
        config_name: the sweep's --config (None: the table's).
        overrides: the sweep's --override values, parsed.

    Raises:
        ValueError: a finished run ran another config than the one planned from these arguments (so that
            runs of another recipe in the same folder are never mixed into the report).
    """
    from zoo.memn2n import (
        ENTRY,
    )  # here: building the entry imports Keras, which the table itself does not need

    runs = reproduce.plan_runs(
        ENTRY, restarts, runs_dir, config_name=config_name, overrides=overrides, table=table
    )
    return reproduce.load_results(runs)


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
    rows: dict[str, dict[str, Any]] = {}
    for base, (tasks, values) in _seed_means(runs).items():
        if values["test_error"]:
            rows[base] = {"seeds": len(values["test_error"]), "tasks": tasks}
            rows[base].update({key: _interval(v) for key, v in values.items()})
    return rows


def _seed_means(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, tuple[int, dict[str, list[float]]]]:
    """base setting -> (number of tasks, error key -> each complete seed's error (%) averaged over its tasks)."""
    by_seed: dict[str, dict[int, dict[int | None, Mapping[str, Any]]]] = {}
    for name, results in runs.items():
        task, base = split_setting(name)
        for result in results:
            by_seed.setdefault(base, {}).setdefault(result["config"]["seed"], {})[task] = result["metrics"]
    means = {}
    for base, seeds in by_seed.items():
        tasks = {task for metrics in seeds.values() for task in metrics}
        complete = [s for s in sorted(seeds) if set(seeds[s]) == tasks]
        # A joint model (task None) answers every task: count the tasks it was tested on.
        joint_tasks = {k for m in seeds[min(seeds)].values() for k in m if k.startswith("test_error_qa")}
        means[base] = (
            len(joint_tasks) if tasks == {None} else len(tasks),
            {
                key: [100.0 * float(np.mean([m[key] for m in seeds[s].values()])) for s in complete]
                for key in ("train_error", "val_error", "test_error")
            },
        )
    return means


# (A, B) pairs the selection report tests: noise against none in each stage, then linear start against none in
# each noise setting (does the two-stage recipe pay off?).
COMPARISONS: tuple[tuple[str, str], ...] = (
    ("one_stage_noise_eta1", "one_stage"),
    ("one_stage_noise_std0.001", "one_stage"),
    ("two_stage_noise_eta1", "two_stage"),
    ("two_stage_noise_std0.001", "two_stage"),
    ("two_stage", "one_stage"),
    ("two_stage_noise_eta1", "one_stage_noise_eta1"),
    ("two_stage_noise_std0.001", "one_stage_noise_std0.001"),
)


def compare(
    runs: Mapping[str, Sequence[Mapping[str, Any]]], pairs: Sequence[tuple[str, str]] = COMPARISONS
) -> list[dict[str, Any]]:
    """Test error (%) of setting A against B, two ways, for each pair whose both settings have runs.

    - over seeds: each complete seed's test error averaged over the tasks both settings ran (as `table4` counts
      seeds), A's seeds against B's, difference of means and a two-sided permutation test (unpaired: a seed
      number does not pair two runs);
    - over tasks (one model per task only): each task's mean over seeds (`selection`), paired by task: the mean
      of the per-task differences, how many tasks A has lower / higher error on, and a two-sided sign-flip
      permutation test. A joint model's tasks are not independent pairs, so joint settings get no task test.

    Args:
        runs: setting -> finished runs (results.json dicts), per-task ("task03_two_stage") or joint names.
        pairs: (A, B) base settings to compare.

    Returns:
        One dict per testable pair: "a", "b", "seeds" (n_a, n_b), "seed_difference", "seed_p", "tasks",
        "task_difference", "a_lower", "a_higher", "task_p" (None for joint settings). Differences are A minus B
        (negative: A better).
    """
    chosen = selection(runs)
    rows = []
    for a, b in pairs:
        if a not in chosen or b not in chosen:
            continue
        tasks = sorted(set(chosen[a]) & set(chosen[b]))
        per_task = any(split_setting(name)[0] is not None for name in runs if split_setting(name)[1] == a)
        shared = {
            name: results
            for name, results in runs.items()
            if split_setting(name)[1] in (a, b) and (not per_task or split_setting(name)[0] in tasks)
        }
        seed_values = {base: values["test_error"] for base, (_, values) in _seed_means(shared).items()}
        if not seed_values.get(a) or not seed_values.get(b):
            continue
        first = [chosen[a][t]["mean"] for t in tasks]
        second = [chosen[b][t]["mean"] for t in tasks]
        differences = np.subtract(first, second)
        rows.append(
            {
                "a": a,
                "b": b,
                "seeds": (len(seed_values[a]), len(seed_values[b])),
                "seed_difference": float(np.mean(seed_values[a]) - np.mean(seed_values[b])),
                "seed_p": stats.permutation_test(seed_values[a], seed_values[b]),
                "tasks": len(tasks),
                "task_difference": float(differences.mean()),
                "a_lower": int(np.sum(differences < 0)),
                "a_higher": int(np.sum(differences > 0)),
                "task_p": stats.paired_permutation_test(first, second) if per_task else None,
            }
        )
    return rows


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _comparison_table(rows: Sequence[Mapping[str, Any]], with_b: bool) -> list[str]:
    """Markdown lines of `compare`'s rows; `with_b` adds the B column (a baseline table's rows need none)."""
    head = "| A | B |" if with_b else "| setting |"
    lines = [
        f"{head} seeds A, B | difference over seeds | p (seeds) | tasks | mean difference over tasks "
        "| tasks A lower / higher | p (tasks) |",
        "|" + "---|" * (8 + with_b),
    ]
    for row in rows:
        b = f" `{row['b']}` |" if with_b else ""
        lines.append(
            f"| `{row['a']}` |{b} {row['seeds'][0]}, {row['seeds'][1]} | {row['seed_difference']:+.2f} | "
            f"{_p(row['seed_p'])} | {row['tasks']} | {row['task_difference']:+.2f} | "
            f"{row['a_lower']} / {row['a_higher']} | {_p(row['task_p'])} |"
        )
    return lines


def _bonferroni_note(rows: Sequence[Mapping[str, Any]]) -> str:
    tests = sum(1 + (row["task_p"] is not None) for row in rows)
    return (
        f"{tests} tests on the same runs: with a Bonferroni correction a p-value above 0.05 / {tests} = "
        f"{0.05 / tests:.4f} is no evidence."
    )


def against_report(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    baseline: Mapping[str, Sequence[Mapping[str, Any]]],
    title: str,
) -> str:
    """Markdown: every base setting that both tables ran, this table's runs (A) against the baseline's (B).

    Both tables' per-task rows are named alike ("task03_two_stage"); the baseline's are compared under the name
    "<base>@baseline" with `compare` (over seeds, and paired by task).

    Args:
        runs: this table's setting -> finished runs.
        baseline: the other table's setting -> finished runs.
        title: how the section names the baseline.

    Returns:
        A markdown section.
    """
    renamed = {f"{name}@baseline": results for name, results in baseline.items()}
    ran = [
        {split_setting(name)[1] for name, results in table.items() if results} for table in (runs, baseline)
    ]
    bases = [b for b in BASE_SETTINGS if b in ran[0] and b in ran[1]]
    rows = compare({**runs, **renamed}, [(base, f"{base}@baseline") for base in bases])
    lines = [
        f"## Against {title}",
        "",
        "Test error (%), A: this table, B: the baseline table, A minus B (negative: A lower). Tests as above; "
        + (_bonferroni_note(rows) if rows else ""),
        "",
        *_comparison_table(rows, with_b=False),
    ]
    return "\n".join(lines) + "\n"


def plot_per_task(
    chosen: Mapping[str, Mapping[int, Mapping[str, Any]]],
    path: str,
    paper: tuple[str, Mapping[int, float]] | None = None,
) -> None:
    """Each task's mean test error over seeds with its 95 % interval, one marker per base setting; to `path`.

    Args:
        chosen: `selection`'s base setting -> task -> cell.
        path: the PNG to write.
        paper: (label, task -> test error %), drawn as a black bar across each task's markers.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [base for base in BASE_SETTINGS if base in chosen]
    tasks = sorted({task for base in order for task in chosen[base]})
    figure, axis = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / max(1, len(order))
    for index, base in enumerate(order):
        x = [tasks.index(t) + (index - (len(order) - 1) / 2) * width for t in chosen[base]]
        cells = list(chosen[base].values())
        means = np.array([c["mean"] for c in cells])
        bars = np.array([[c["mean"] - c["low"] for c in cells], [c["high"] - c["mean"] for c in cells]])
        marker = "o" if base.startswith("one") else "s"
        axis.errorbar(x, means, yerr=bars, fmt=marker, markersize=3.5, capsize=1.5, label=base)
    if paper is not None:
        label, errors = paper
        axis.scatter(
            range(len(tasks)),
            [errors[t] for t in tasks],
            marker="_",
            s=600,
            color="black",
            label=f"paper: {label}",
        )
    axis.set_xticks(range(len(tasks)), [str(t) for t in tasks])
    axis.set_xlabel("bAbI task")
    axis.set_ylabel("test error (%), mean over seeds, 95 % CI")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8, ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def paper_column(runs: Mapping[str, Any]) -> tuple[str, dict[int, float]]:
    """The MemN2N paper's column to compare with.

    Args:
        runs: setting -> runs; per-task settings are named "task03_...", joint ones by their base setting.

    Returns:
        (label, task -> test error %): Sukhbaatar et al.'s per-task or joint "PE LS RN" column.
    """
    if any(split_setting(name)[0] is not None for name in runs):
        return "MemN2N per task PE LS RN", PAPER_PER_TASK_PE_LS_RN
    return "MemN2N joint PE LS RN", PAPER_JOINT_PE_LS_RN


def _ci(cell: Mapping[str, Any]) -> str:
    return f"{cell['mean']:.1f} [{cell['low']:.1f}, {cell['high']:.1f}]"


def selection_report(runs: Mapping[str, Sequence[Mapping[str, Any]]], title: str) -> str:
    """Markdown: Table 4 over the 20 tasks, then one per-task table per base setting (see `selection`)."""
    summary = table4(runs)
    chosen = selection(runs)
    paper_name, paper_errors = paper_column(runs)
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
    compared = compare(runs)
    if compared:
        lines += [
            "",
            "## Comparisons (test error, A minus B; negative: A lower)",
            "",
            "Over seeds: each seed's mean over the tasks, A's seeds against B's, two-sided permutation test. Over",
            "tasks (one model per task only): each task's mean over seeds, paired by task, two-sided sign-flip",
            f"permutation test. {_bonferroni_note(compared)}",
            "",
            *_comparison_table(compared, with_b=True),
        ]
    for base in order:
        if base not in chosen:
            continue
        tasks = chosen[base]
        lines += [
            "",
            f"## `{base}`: test error per task",
            "",
            f"| task | seeds | mean [95% CI] | best of N by train | best of N by val | paper ({paper_name}) |",
            "|---|---|---|---|---|---|",
        ]
        for task, cell in tasks.items():
            lines.append(
                f"| {task} {TASK_NAMES[task]} | {cell['n']} | {_ci(cell)} | {cell['best_by_train']:.1f} | "
                f"{cell['best_by_val']:.1f} | {paper_errors[task]} |"
            )
        means = [
            np.mean([cell[k] for cell in tasks.values()]) for k in ("mean", "best_by_train", "best_by_val")
        ]
        paper_mean = np.mean([paper_errors[t] for t in tasks])
        lines.append(
            f"| **mean over {len(tasks)} tasks** | | {means[0]:.1f} | {means[1]:.1f} | {means[2]:.1f} | "
            f"{paper_mean:.1f} |"
        )
    return "\n".join(lines) + "\n"


FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command line's flags, defined when run as a program only: train.py and reproduce.py define flags of
    the same names (--config, --override, --runs_dir, ...) in the same absl registry, and tests import them all."""
    flags.DEFINE_string("runs_dir", "runs/memn2n", "The reproduction's runs directory.")
    flags.DEFINE_integer(
        "restarts", 20, "Restarts per setting to read (reproduce.py --restarts); missing ones are skipped."
    )
    flags.DEFINE_string(
        "out", "docs/results/memn2n_table4_joint_cpu/per_task.md", "Where the markdown table goes."
    )
    flags.DEFINE_string(
        "against_runs_dir",
        None,
        "With --table: also compare with the runs of --against_table under this directory (same row names), e.g. "
        "reference_per_task_exact against reference_per_task.",
    )
    flags.DEFINE_string("against_table", "reference_per_task", "The table of --against_runs_dir.")
    flags.DEFINE_string("config", None, "The sweep's --config (default: the table's).")
    flags.DEFINE_multi_string(
        "override", [], "The sweep's --override values (field=value), e.g. seed=100; applied to both tables."
    )
    flags.DEFINE_string(
        "table",
        None,
        "reference_per_task or reference_joint (reproduce.py --table): write the selection report of that table; "
        "default: the per-task table of the main Table 4 sweep.",
    )


def main(argv: list[str]) -> None:
    del argv
    try:
        overrides = parse_overrides(FLAGS.override)
        runs = load_runs(FLAGS.runs_dir, FLAGS.restarts, FLAGS.table, FLAGS.config, overrides)
    except ValueError as error:  # a bad override or table, or runs of another config: one line, exit 2
        raise app.UsageError(str(error)) from None
    if not any(runs.values()):
        raise app.UsageError(f"No finished runs (results.json) under {FLAGS.runs_dir!r}.")
    if FLAGS.table is not None:
        from zoo.memn2n import ENTRY

        text = selection_report(runs, ENTRY.table(FLAGS.table).title)
        if FLAGS.against_runs_dir:
            try:
                baseline = load_runs(
                    FLAGS.against_runs_dir, FLAGS.restarts, FLAGS.against_table, None, overrides
                )
            except ValueError as error:
                raise app.UsageError(str(error)) from None
            if not any(baseline.values()):
                raise app.UsageError(f"No finished runs (results.json) under {FLAGS.against_runs_dir!r}.")
            text += "\n" + against_report(runs, baseline, f"`{FLAGS.against_table}`")
        os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
        with open(FLAGS.out, "w") as f:
            f.write(text)
        # The plot beside the markdown: selection.md -> selection.png.
        plot_per_task(selection(runs), os.path.splitext(FLAGS.out)[0] + ".png", paper_column(runs))
        print(text)
        return
    table = per_task_table(runs, list(runs))
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        f.write("Test error (%) per bAbI task, mean over restarts.\n\n" + table)
    print(table)


if __name__ == "__main__":
    define_flags()
    app.run(main)
