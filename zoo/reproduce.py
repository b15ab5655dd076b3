"""The zoo's one restart runner: restarts (seeds) x a paper table's settings, run concurrently, tabulated.

    python reproduce.py --model=deep_mlp --restarts=4 --jobs=2 --out=docs/results/deep_mlp

For a model's `ENTRY.reproduction` (a `ReproductionSpec`), every (setting, restart) pair is one training run:
the spec's named config, changed by the setting's overrides, then by the command line's overrides, with seed
`config.seed + restart`. Runs go to `<runs_dir>/<setting>/restart_<r>/` and are executed by worker processes
(each calls `zoo.training.train_and_evaluate`). A run whose `results.json` exists is skipped, and a run that
was interrupted (config.json but no results.json) is resumed from its checkpoint, so re-running the same
command continues an interrupted sweep. Finally each setting's restarts are summarized by `spec.summarize`,
printed beside the paper's numbers (`Setting.paper`) and written to `<out>/`: `table.md`, `summary.json` and
`curves.png` (mean and min-max band of `spec.curve_metric` per epoch).

Setting overrides may hold one special key, `per_restart`: a list of override dicts, of which restart r uses
entry `r % len(list)`. It expresses paper rows that pool runs of several values, e.g. Table 1's 40 runs per
row are 20 at learning rate 0.1 and 20 at 0.01:
`{"per_restart": [{"learning_rate": 0.1}, {"learning_rate": 0.01}]}`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import importlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from zoo import rows
from zoo.config import TrainConfig
from zoo.registry import ReproductionSpec, Setting, ZooEntry

DEFAULT_TRAINER = "zoo.training:train_and_evaluate"
PER_RESTART = "per_restart"
Trainer = Callable[..., dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of a sweep: restart `restart` of setting `setting`."""

    setting: str
    restart: int
    config: TrainConfig
    workdir: str

    @property
    def results_path(self) -> str:
        return os.path.join(self.workdir, "results.json")

    @property
    def label(self) -> str:
        return f"{self.setting}#{self.restart}"


@dataclasses.dataclass
class SweepReport:
    """What `run_all` did: runs completed now, skipped (done before), failed (with the error)."""

    completed: list[Run] = dataclasses.field(default_factory=list)
    skipped: list[Run] = dataclasses.field(default_factory=list)
    failed: list[tuple[Run, str]] = dataclasses.field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------------------


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """Parses `field=value` strings into TrainConfig overrides; `field.key=value` sets a key of a dict field.

    Values are read as JSON when they parse (numbers, true/false/null, lists, quoted strings), else kept as
    plain strings: ["epochs=3", "data_kwargs.train_size=20000", "model_kwargs.init=good"].

    Raises:
        ValueError: an item without "=" or with an empty field name.
    """
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--override {item!r} must look like field=value or field.key=value.")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        field, _, subkey = key.strip().partition(".")
        if subkey:
            overrides.setdefault(field, {})
            if not isinstance(overrides[field], dict):
                raise ValueError(f"--override {item!r}: {field} was already set to a non-dict value.")
            overrides[field][subkey] = value
        else:
            overrides[field] = value
    return overrides


def restart_config(
    base: TrainConfig, setting: Setting, restart: int, overrides: Mapping[str, Any] | None = None
) -> TrainConfig:
    """The config of restart `restart` of `setting`.

    Order: `base`, then the setting's overrides, then its `per_restart[restart % n]` entry, then `overrides`
    (the command line's), and finally seed = that config's seed + restart.

    Raises:
        ValueError: an unknown config field, a malformed `per_restart`, or an out-of-range value.
    """
    setting_overrides = dict(setting.overrides)
    per_restart = setting_overrides.pop(PER_RESTART, None)
    config = base.replace(**setting_overrides)
    if per_restart is not None:
        if (
            not isinstance(per_restart, (list, tuple))
            or not per_restart
            or not all(isinstance(entry, Mapping) for entry in per_restart)
        ):
            raise ValueError(
                f"Setting {setting.name!r}: {PER_RESTART} must be a non-empty list of override dicts."
            )
        config = config.replace(**per_restart[restart % len(per_restart)])
    if overrides:
        config = config.replace(**overrides)
    return config.replace(seed=config.seed + restart).validate()


def plan_runs(
    entry: ZooEntry,
    restarts: int,
    runs_dir: str,
    settings: Sequence[str] | None = None,
    config_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[Run]:
    """All (setting, restart) runs of `entry`'s reproduction, settings in the spec's order, restarts inner.

    Args:
        entry: a zoo entry with a `reproduction` spec.
        restarts: restarts (seeds) per setting, >= 1.
        runs_dir: the runs' parent directory.
        settings: names of the settings to run (None: all of them).
        config_name: the named config the settings start from (None: the spec's).
        overrides: TrainConfig overrides applied to every run (see `restart_config`).

    Raises:
        ValueError: no reproduction spec, restarts < 1, an unknown setting or config name, or a resolved run that
            contradicts its row (an override of one of the table's axes; see zoo/rows.py).
    """
    spec = entry.reproduction
    if spec is None:
        raise ValueError(f"Model {entry.name!r} has no reproduction spec (ENTRY.reproduction is None).")
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts must be a positive integer; got {restarts!r}.")
    known = [setting.name for setting in spec.settings]
    if settings:
        unknown = [name for name in settings if name not in known]
        if unknown:
            raise ValueError(
                f"Unknown settings {unknown} for {entry.name}. Known settings: {', '.join(known)}."
            )
    chosen = [setting for setting in spec.settings if not settings or setting.name in settings]
    base = entry.config(config_name or spec.config)
    runs = []
    for setting in chosen:
        for restart in range(restarts):
            config = restart_config(base, setting, restart, overrides)
            rows.check_run(spec, setting, restart, config)
            runs.append(
                Run(
                    setting.name,
                    restart,
                    config,
                    os.path.join(runs_dir, setting.name, f"restart_{restart:03d}"),
                )
            )
    return runs


# ---------------------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------------------


def _resolve_trainer(trainer: Trainer | str) -> Trainer:
    if callable(trainer):
        return trainer
    module_name, _, function_name = trainer.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def _init_worker(threads: int) -> None:
    # Set before the worker first imports TensorFlow/JAX, so that concurrent runs do not oversubscribe cores.
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _execute(
    trainer: Trainer | str,
    config_json: str,
    workdir: str,
    data_dir: str | None,
    train_kwargs: Mapping[str, Any] | None = None,
) -> float:
    """Runs one training in this (worker) process; returns its wall seconds. Exceptions propagate."""
    started = time.time()
    config = TrainConfig.from_json(config_json)
    resume = os.path.exists(os.path.join(workdir, "config.json"))
    if "keras" in sys.modules:
        # A worker runs many trainings: start each from a clean Keras state (names, graphs, seeds).
        sys.modules["keras"].backend.clear_session()
    _resolve_trainer(trainer)(
        config, workdir, data_dir=data_dir, resume=resume, verbose=0, **(train_kwargs or {})
    )
    return time.time() - started


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class Progress:
    """A progress bar over runs: redrawn in place on a terminal, one line per finished run otherwise."""

    def __init__(self, total: int, jobs: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.jobs, self.enabled = total, jobs, enabled
        self.stream = stream or sys.stdout
        self.done = self.skipped = self.failed = 0
        self.durations: list[float] = []
        self.started = time.time()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, run: Run, status: str, seconds: float | None = None, detail: str = "") -> None:
        """Records that `run` finished with `status` ("done", "skipped" or "failed") and redraws the bar."""
        self.done += 1
        self.skipped += status == "skipped"
        self.failed += status == "failed"
        if seconds is not None and status == "done":
            self.durations.append(seconds)
        if not self.enabled:
            return
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        elapsed = time.time() - self.started
        remaining = self.total - self.done
        eta = ""
        if self.durations and remaining:
            mean = sum(self.durations) / len(self.durations)
            eta = f" | ETA {_format_seconds(mean * math.ceil(remaining / self.jobs))}"
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} runs | "
            f"{self.skipped} skipped | {self.failed} failed | elapsed {_format_seconds(elapsed)}{eta} | "
            f"{run.label} {status}" + (f" {detail}" if detail else "")
        )
        if self._tty:
            self.stream.write("\r\033[K" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _final_metric(run: Run) -> str:
    try:
        with open(run.results_path) as f:
            metrics = json.load(f).get("metrics", {})
    except (OSError, ValueError):
        return ""
    shown = [
        f"{k}={v:.4g}" for k, v in metrics.items() if k.startswith("test") and isinstance(v, (int, float))
    ]
    return " ".join(shown[:2])


def _check_same_config(run: Run) -> None:
    """A finished run is reused only if it ran the planned config; anything else would mix sweeps silently."""
    with open(run.results_path) as f:
        recorded = json.load(f).get("config")
    planned = json.loads(run.config.to_json())
    if recorded != planned:
        differing = sorted(
            key for key in set(planned) | set(recorded or {}) if (recorded or {}).get(key) != planned.get(key)
        )
        raise ValueError(
            f"{run.workdir} holds a finished run of a different config (fields {', '.join(differing)} differ). "
            "Pass another --runs_dir, or delete that directory to rerun it."
        )


def run_all(
    runs: Sequence[Run],
    trainer: Trainer | str = DEFAULT_TRAINER,
    jobs: int = 1,
    data_dir: str | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
    train_kwargs: Mapping[str, Any] | None = None,
) -> SweepReport:
    """Executes the runs that have no results.json yet, `jobs` at a time in worker processes.

    Args:
        runs: from `plan_runs`.
        trainer: `trainer(config, workdir, data_dir=..., resume=..., verbose=0)`, as a callable (module-level,
            so that worker processes can import it) or a "module:function" string.
        jobs: concurrent worker processes; 1 runs everything in this process, one after another.
        data_dir: passed to every run.
        progress: draw the progress bar.
        stream: where the progress bar goes (default stdout).
        train_kwargs: more keyword arguments of every `trainer` call, e.g. {"strategy": "data_parallel",
            "cpu_devices": 2} for `zoo.training.train_and_evaluate`. A run with a multi-device strategy uses all
            the process's devices, so on GPUs give it --jobs=1.

    Returns:
        A SweepReport. A failing run does not stop the others; it is listed in `failed`.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer; got {jobs!r}.")
    report = SweepReport()
    bar = Progress(len(runs), jobs, stream, enabled=progress)
    pending = []
    for run in runs:
        if os.path.exists(run.results_path):
            _check_same_config(run)
            report.skipped.append(run)
            bar.update(run, "skipped")
        else:
            pending.append(run)

    def finish(run: Run, outcome: Callable[[], float]) -> None:
        try:
            seconds = outcome()
        except Exception as error:  # one broken run must not lose the sweep; it is reported and retried later
            last_line = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()[-1]
            report.failed.append((run, last_line))
            bar.update(run, "failed", detail=last_line)
        else:
            report.completed.append(run)
            bar.update(run, "done", seconds, f"{_format_seconds(seconds)} {_final_metric(run)}".strip())

    if jobs == 1 or len(pending) <= 1:
        for run in pending:
            finish(
                run,
                lambda run=run: _execute(trainer, run.config.to_json(), run.workdir, data_dir, train_kwargs),
            )
        return report
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(jobs, len(pending)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(threads,),
    ) as pool:
        futures = {
            pool.submit(_execute, trainer, run.config.to_json(), run.workdir, data_dir, train_kwargs): run
            for run in pending
        }
        try:
            for future in concurrent.futures.as_completed(futures):
                finish(futures[future], future.result)
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            raise
    return report


# ---------------------------------------------------------------------------------------------------------
# Aggregation and output
# ---------------------------------------------------------------------------------------------------------


def load_results(runs: Sequence[Run]) -> dict[str, list[dict[str, Any]]]:
    """setting -> the results.json dicts of its finished restarts (restart order), unfinished left out."""
    results: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        results.setdefault(run.setting, [])
        if os.path.exists(run.results_path):
            with open(run.results_path) as f:
                results[run.setting].append(json.load(f))
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
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [f"`{row['setting']}`", str(row["runs"])]
        for column in spec.columns:
            cells += [_cell(row["ours"].get(column)), _cell(row["paper"].get(column))]
        lines.append("| " + " | ".join(cells) + " |")
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


def plot_curves(spec: ReproductionSpec, results: Mapping[str, list[dict[str, Any]]], path: str) -> str | None:
    """Plots `spec.curve_metric` per epoch (mean line, min-max band) for every setting into a PNG.

    Settings whose names share the part before the first "_" (e.g. "exp1") share a panel, so that rows that
    differ only in the noise are drawn together. Returns the path, or None when there is nothing to plot.
    """
    if spec.curve_metric is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    groups: dict[str, list[str]] = {}
    for setting in spec.settings:
        if results.get(setting.name):
            groups.setdefault(setting.name.split("_")[0], []).append(setting.name)
    if not groups:
        return None
    columns = min(3, len(groups))
    rows = math.ceil(len(groups) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(5.0 * columns, 3.6 * rows), squeeze=False, sharey=True
    )
    for axis, (group, names) in zip(axes.flat, groups.items(), strict=False):
        for name in names:
            stats = curve_statistics(results[name], spec.curve_metric)
            epochs = list(range(1, len(stats["mean"]) + 1))
            (line,) = axis.plot(
                epochs, stats["mean"], marker="o", markersize=3, label=f"{name} (n={len(results[name])})"
            )
            axis.fill_between(epochs, stats["min"], stats["max"], color=line.get_color(), alpha=0.2)
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.set_title(group)
        axis.set_xlabel("epoch")
        axis.set_ylabel(spec.curve_metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(groups) :]:
        axis.set_visible(False)
    title = textwrap.fill(spec.title, width=55 * columns)
    figure.suptitle(f"{title}\n{spec.curve_metric}: mean over restarts, band = min..max", fontsize=9)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


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
) -> dict[str, Any]:
    """Summarizes the finished runs into `<out>/table.md`, `<out>/summary.json` and `<out>/curves.png`.

    Returns:
        The summary dict (also in summary.json): title, command, machine, date, rows, run counts, files.
    """
    spec = entry.reproduction
    if spec is None:
        raise ValueError(f"Model {entry.name!r} has no reproduction spec (ENTRY.reproduction is None).")
    results = load_results(runs)
    rows = summarize(spec, results)
    os.makedirs(out, exist_ok=True)
    plot_path = plot_curves(spec, results, os.path.join(out, "curves.png"))
    results_by_run = {}
    for run in runs:
        if os.path.exists(run.results_path):
            with open(run.results_path) as f:
                results_by_run[run.label] = json.load(f)
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
    summary = {
        "title": spec.title,
        "model": entry.name,
        "command": command,
        "machine": machine_description(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "scale": scale,
        "rows": rows,
        "finished_runs": len(results_by_run),
        "planned_runs": len(runs),
        "failed_runs": [(run.label, error) for run, error in report.failed] if report else [],
        "mean_run_wall_seconds": sum(walls) / len(walls) if walls else None,
        "curves": os.path.basename(plot_path) if plot_path else None,
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
    if plot_path:
        lines += [f"![{spec.curve_metric} per epoch]({os.path.basename(plot_path)})", ""]
    lines += ["## Runs", "", *_run_lines(runs, results_by_run), ""]
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True, default=str)
    return summary
