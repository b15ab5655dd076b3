"""The zoo's one restart runner: restarts (seeds) x a paper table's settings, run concurrently, tabulated.

    python reproduce.py --model=deep_mlp --restarts=4 --jobs=2

For a model's `ENTRY.reproduction` (a `ReproductionSpec`), every (setting, restart) pair is one training run:
the spec's named config, changed by the setting's overrides, then by the command line's overrides, with seed
`config.seed + restart` (planned in zoo/planning.py). Runs go to `<runs_dir>/<setting>/restart_<r>/` and are
executed by worker processes that stop with the runner (zoo/execution.py; each calls
`zoo.training.train_and_evaluate`). A run whose `results.json` exists is skipped, and a run that was interrupted
(config.json but no results.json) is resumed from its checkpoint, so re-running the same command continues an
interrupted sweep. Finally each setting's restarts are summarized by `spec.summarize`, printed beside the paper's
numbers (`Setting.paper`) and written to `<out>/` (this module): `table.md`, `summary.json` and `curves.png`
(mean and min-max band of `spec.curve_metric` per epoch).

This module re-exports the planning and execution names (`plan_runs`, `run_all`, `Run`, `SweepReport`, ...), so
`from zoo import reproduce` gives the whole runner.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from zoo import significance
from zoo.config import parse_overrides
from zoo.execution import (
    DEFAULT_TRAINER,
    Progress,
    SweepInterrupted,
    SweepReport,
    Trainer,
    finished_results,
    run_all,
    trainer_path,
)
from zoo.planning import PER_RESTART, Run, plan_runs, restart_config
from zoo.registry import ReproductionSpec, ZooEntry

__all__ = [
    "DEFAULT_TRAINER",
    "STORE",
    "PER_RESTART",
    "Progress",
    "Run",
    "SweepInterrupted",
    "SweepReport",
    "Trainer",
    "curve_statistics",
    "format_table",
    "load_results",
    "machine_description",
    "nvidia_gpus",
    "parse_overrides",
    "plan_runs",
    "plot_curves",
    "restart_config",
    "restore_from_store",
    "run_all",
    "stored_results_path",
    "summarize",
    "trainer_path",
    "write_report",
]

# Each finished run's results.json is kept under <out>/runs/, beside the table, so that a committed table can be
# extended later: rerunning its command restores those results into the runs' workdirs (where `run_all` skips
# them) and trains only the new restarts.
STORE = "runs"
# The epoch log of sigma_t / RMS(clipped gradient entry) (keras_gradnoise.NoiseStddevLogger).
NOISE_TO_GRADIENT = "noise_to_gradient"


def stored_results_path(out: str, run: Run) -> str:
    """Where `write_report` keeps `run`'s results.json under the report folder `out`."""
    return os.path.join(out, STORE, run.setting, f"restart_{run.restart:03d}.json")


def restore_from_store(runs: Sequence[Run], out: str) -> list[Run]:
    """Copies each run's stored results.json from `out` into its workdir when the workdir has none yet.

    Returns:
        The runs restored; `run_all` then skips them (after checking that they ran the planned config).
    """
    restored = []
    for run in runs:
        stored = stored_results_path(out, run)
        if not os.path.exists(run.results_path) and os.path.exists(stored):
            os.makedirs(run.workdir, exist_ok=True)
            shutil.copyfile(stored, run.results_path + ".restoring")
            os.replace(run.results_path + ".restoring", run.results_path)
            restored.append(run)
    return restored


def _store_results(runs: Sequence[Run], results_by_run: Mapping[str, dict[str, Any]], out: str) -> None:
    for run in runs:
        if run.label in results_by_run:
            path = stored_results_path(out, run)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".writing", "w") as f:
                json.dump(results_by_run[run.label], f, indent=1, sort_keys=True)
            os.replace(path + ".writing", path)


def load_results(runs: Sequence[Run]) -> dict[str, list[dict[str, Any]]]:
    """setting -> the results.json dicts of its finished restarts (restart order), unfinished left out.

    Raises:
        ValueError: a finished run ran another config than the planned one (`finished_results`).
    """
    return _by_setting(runs, finished_results(runs))


def _by_setting(
    runs: Sequence[Run], results_by_run: Mapping[str, dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        results.setdefault(run.setting, [])
        if run.label in results_by_run:
            results[run.setting].append(results_by_run[run.label])
    return results


def summarize(spec: ReproductionSpec, results: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per setting in `results` (spec order): {"setting", "runs", "ours": {...}, "paper": {...}}."""
    rows = []
    for setting in spec.settings:
        if setting.name not in results:
            continue
        ours = spec.summarize(results[setting.name]) if results[setting.name] else {}
        rows.append(
            {
                "setting": setting.name,
                "runs": len(results[setting.name]),
                "ours": {column: ours.get(column) for column in spec.columns},
                "paper": {column: setting.paper.get(column) for column in spec.columns},
                "intervals": significance.row_statistics(spec, results[setting.name]),
            }
        )
    return rows


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def format_table(spec: ReproductionSpec, rows: Sequence[Mapping[str, Any]]) -> str:
    """A markdown table: setting, runs, then each column measured here beside the paper's value."""
    header = ["setting", "runs"]
    for column in spec.columns:
        header += [f"{column} (ours)", f"{column} (paper)"]
    header += significance.interval_header(spec)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        runs = str(row["runs"]) + ("*" if row["runs"] < significance.MIN_RUNS else "")
        cells = [f"`{row['setting']}`", runs]
        for column in spec.columns:
            cells += [_cell(row["ours"].get(column)), _cell(row["paper"].get(column))]
        cells += significance.interval_cells(spec, row.get("intervals") or {})
        lines.append("| " + " | ".join(cells) + " |")
    if any(row["runs"] < significance.MIN_RUNS for row in rows):
        lines += ["", f"\\* fewer than {significance.MIN_RUNS} runs: such a row supports no statement."]
    return "\n".join(lines)


def curve_statistics(results: Sequence[Mapping[str, Any]], metric: str) -> dict[str, list[float]]:
    """Per-epoch mean, min and max of `history[metric]` over restarts (NaNs ignored; ragged lengths ok)."""
    curves = [result.get("history", {}).get(metric) or [] for result in results]
    length = max((len(curve) for curve in curves), default=0)
    stats: dict[str, list[float]] = {"mean": [], "min": [], "max": [], "count": []}
    for epoch in range(length):
        values = [
            float(curve[epoch])
            for curve in curves
            if epoch < len(curve) and curve[epoch] is not None and math.isfinite(float(curve[epoch]))
        ]
        stats["count"].append(float(len(values)))
        stats["mean"].append(sum(values) / len(values) if values else math.nan)
        stats["min"].append(min(values) if values else math.nan)
        stats["max"].append(max(values) if values else math.nan)
    return stats


def curve_panel(setting: str) -> str:
    """The panel of `setting`'s curves: the part of its name before the first "_" ("exp1_he_noise" -> "exp1"),
    with a bare "no_noise" beside "noise" and "noise_eta0.01" ("noise")."""
    first = setting.split("_")[0]
    return "noise" if first == "no" else first


def plot_curves(
    spec: ReproductionSpec,
    results: Mapping[str, list[dict[str, Any]]],
    path: str,
    metric: str | None = None,
    log_scale: bool = False,
) -> str | None:
    """Plots `metric` (default `spec.curve_metric`) per epoch (mean line, min-max band) for every setting into a
    PNG, on a log axis with `log_scale`.

    Settings whose names share the part before the first "_" (e.g. "exp1") share a panel, so that rows that
    differ only in the noise are drawn together (`curve_panel`). Returns the path, or None when there is nothing to plot.
    """
    metric = metric or spec.curve_metric
    if metric is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    groups: dict[str, list[str]] = {}
    for setting in spec.settings:
        if any(result.get("history", {}).get(metric) for result in results.get(setting.name, ())):
            groups.setdefault(curve_panel(setting.name), []).append(setting.name)
    if not groups:
        return None
    columns = min(3, len(groups))
    rows = math.ceil(len(groups) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(5.0 * columns, 3.6 * rows), squeeze=False, sharey=True
    )
    for axis, (group, names) in zip(axes.flat, groups.items(), strict=False):
        for name in names:
            stats = curve_statistics(results[name], metric)
            epochs = list(range(1, len(stats["mean"]) + 1))
            (line,) = axis.plot(
                epochs, stats["mean"], marker="o", markersize=3, label=f"{name} (n={len(results[name])})"
            )
            axis.fill_between(epochs, stats["min"], stats["max"], color=line.get_color(), alpha=0.2)
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.set_title(group)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        if log_scale:
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(groups) :]:
        axis.set_visible(False)
    title = textwrap.fill(spec.title, width=55 * columns)
    figure.suptitle(f"{title}\n{metric}: mean over restarts, band = min..max", fontsize=9)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def noise_to_gradient_summary(results: Mapping[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Per setting with logged ratios: the median over restarts of the first and the last epoch's
    noise-to-gradient ratio, {"first": ..., "last": ...}."""
    summary = {}
    for name, setting_results in results.items():
        curves = [r.get("history", {}).get(NOISE_TO_GRADIENT) for r in setting_results]
        curves = [c for c in curves if c]
        if curves and any(value > 0 for curve in curves for value in curve):
            summary[name] = {
                "first": statistics.median(curve[0] for curve in curves),
                "last": statistics.median(curve[-1] for curve in curves),
            }
    return summary


def machine_description() -> str:
    """A short description of this machine for reports: host, CPUs, Python, Keras backend and any NVIDIA GPUs."""
    keras = sys.modules.get("keras")
    backend = keras.backend.backend() if keras else os.environ.get("KERAS_BACKEND", "tensorflow")
    text = (
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"Keras backend {backend}"
    )
    gpus = nvidia_gpus()
    return f"{text}, GPU: {', '.join(gpus)}" if gpus else text


def nvidia_gpus() -> list[str]:
    """Names of the NVIDIA GPUs `nvidia-smi` lists; empty without the tool or when it fails.

    Asked of nvidia-smi rather than of a backend because the reporting process imports no backend (the runs happen
    in worker processes).
    """
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        listing = subprocess.run(
            [tool, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]


def _run_lines(runs: Sequence[Run], results_by_run: Mapping[str, dict[str, Any]]) -> list[str]:
    lines = ["| setting | restart | seed | learning_rate | final metrics |", "|---|---|---|---|---|"]
    for run in runs:
        result = results_by_run.get(run.label)
        if result is None:
            metrics = "(not finished)"
        else:
            metrics = ", ".join(
                f"{k}={_cell(float(v))}"
                for k, v in sorted(result.get("metrics", {}).items())
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            )
        config = run.config
        lines.append(
            f"| `{run.setting}` | {run.restart} | {config.seed} | {config.learning_rate} | {metrics} |"
        )
    return lines


def write_report(
    out: str,
    entry: ZooEntry,
    runs: Sequence[Run],
    command: str,
    report: SweepReport | None = None,
    table: str | None = None,
) -> dict[str, Any]:
    """Summarizes the finished runs into `<out>/table.md`, `<out>/summary.json` and `<out>/curves.png`, and
    keeps each finished run's results.json under `<out>/runs/<setting>/restart_<r>.json` (see `STORE`). `table`
    names the spec the runs were planned from (`ZooEntry.table`; None: `entry.reproduction`).

    Returns:
        The summary dict (also in summary.json): title, command, machine, date, rows, run counts, files.

    Raises:
        ValueError: a finished run ran another config than the planned one (nothing is written then).
    """
    spec = entry.table(table)
    results_by_run = finished_results(runs)  # each read once, and checked before anything is written
    results = _by_setting(runs, results_by_run)
    rows = summarize(spec, results)
    os.makedirs(out, exist_ok=True)
    plot_path = plot_curves(spec, results, os.path.join(out, "curves.png"))
    # sigma_t / RMS of the clipped gradient's entries, logged by every zoo run: did the noise dominate, and did
    # it anneal below the gradient within the run?
    ratios = noise_to_gradient_summary(results)
    ratio_path = plot_curves(
        spec,
        {name: results[name] for name in ratios},  # rows with noise: a log axis has no room for 0
        os.path.join(out, f"{NOISE_TO_GRADIENT}.png"),
        NOISE_TO_GRADIENT,
        log_scale=True,
    )
    walls = [
        r.get("wall_seconds")
        for r in results_by_run.values()
        if isinstance(r.get("wall_seconds"), (int, float))
    ]
    first = runs[0].config if runs else None
    scale = (
        f"restarts per setting: {len({r.restart for r in runs})}; epochs={first.epochs}, "
        f"steps_per_epoch={first.steps_per_epoch}, batch_size={first.batch_size}, "
        f"data_kwargs={first.data_kwargs}"
        if first
        else ""
    )
    _store_results(runs, results_by_run, out)
    compared = significance.comparisons(spec, results)
    summary = {
        "title": spec.title,
        "model": entry.name,
        "command": command,
        "machine": machine_description(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "scale": scale,
        "rows": rows,
        "comparisons": compared,
        "finished_runs": len(results_by_run),
        "planned_runs": len(runs),
        "failed_runs": [(run.label, error) for run, error in report.failed] if report else [],
        "mean_run_wall_seconds": sum(walls) / len(walls) if walls else None,
        "curves": os.path.basename(plot_path) if plot_path else None,
        "noise_to_gradient": ratios,
    }
    lines = [
        f"# {spec.title}",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {summary['machine']}; report written {summary['date']}.",
        "",
        f"Scale: {scale}. Finished runs: {len(results_by_run)} of {len(runs)}"
        + (f"; mean wall time per run {summary['mean_run_wall_seconds']:.0f} s." if walls else "."),
        "",
        format_table(spec, rows),
        "",
    ]
    lines += significance.comparison_markdown(spec, compared)
    if plot_path:
        lines += [f"![{spec.curve_metric} per epoch]({os.path.basename(plot_path)})", ""]
    if ratio_path:
        lines += [
            "Noise-to-gradient ratio sigma_t / RMS(clipped gradient entry) per epoch (log scale); above 1 the "
            "noise dominates each update:",
            "",
            f"![{NOISE_TO_GRADIENT} per epoch]({os.path.basename(ratio_path)})",
            "",
        ]
    lines += ["## Runs", "", *_run_lines(runs, results_by_run), ""]
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True, default=str)
    return summary
