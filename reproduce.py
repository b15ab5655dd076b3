"""Reproduces a paper table of a zoo model with many restarts per setting.

    python reproduce.py --model=deep_mlp --restarts=4 --jobs=2 --out=docs/results/deep_mlp

Runs restarts x the model's reproduction settings concurrently (see zoo/reproduce.py and docs/reproduce.md),
skips runs that already finished (re-run the same command to continue an interrupted sweep), prints the table
beside the paper's numbers and writes table.md, summary.json and curves.png into --out. Bad input ends with
exit status 2 and one line on stderr; failed runs with exit status 1 after the report of the finished ones.
"""

from __future__ import annotations

import os
import shlex
import sys

from absl import app, flags

from zoo import registry

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any TensorFlow import: keep the terminal readable

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, f"Zoo model with a reproduction spec: {', '.join(registry.names())}.")
flags.DEFINE_integer("restarts", 4, "Restarts (seeds) per setting (the paper often used 20-40).")
flags.DEFINE_integer("jobs", 2, "Concurrent worker processes (1: run in this process, one after another).")
flags.DEFINE_list(
    "settings", None, "Comma-separated subset of the settings (default: all); --list shows them."
)
flags.DEFINE_bool("list", False, "List the model's settings with the paper's numbers and exit.")
flags.DEFINE_string(
    "config", None, "Named config the settings start from (default: the spec's, usually paper)."
)
flags.DEFINE_integer("epochs", None, "Override epochs (>= 1) for every run.")
flags.DEFINE_integer("steps", None, "Override steps per epoch (>= 1) for every run.")
flags.DEFINE_integer("batch_size", None, "Override the batch size (>= 1) for every run.")
flags.DEFINE_multi_string(
    "override",
    [],
    "Any TrainConfig override for every run, field=value or dict_field.key=value (JSON values).",
)
flags.DEFINE_string(
    "out", None, "Where table.md, summary.json and curves.png go (default docs/results/<model>)."
)
flags.DEFINE_string(
    "runs_dir", None, "Parent of the runs' workdirs (default runs/<model>/<config>, git-ignored)."
)
flags.DEFINE_string("data_dir", None, "Local copy of the task's data, passed to every run.")
flags.DEFINE_string(
    "strategy",
    None,
    "train.py's --strategy for every run (auto, one_device, data_parallel, mirrored); each run uses all the "
    "devices of its process, so with GPUs pass --jobs=1.",
)
flags.DEFINE_integer(
    "cpu_devices", None, "Split each run's CPU into this many logical devices (try data_parallel on CPU)."
)
flags.DEFINE_bool("progress", True, "Show the progress bar over runs.")

_SHORTCUTS = {"epochs": "epochs", "steps": "steps_per_epoch", "batch_size": "batch_size"}
_SWEEP_STRATEGIES = ("auto", "one_device", "data_parallel", "mirrored")


def _fail(message: str, status: int = 2) -> None:
    print(f"reproduce.py: error: {message}", file=sys.stderr)
    sys.exit(status)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        _fail(f"unexpected arguments {argv[1:]}; all options are --flags (see --helpshort).")
    try:
        from zoo import reproduce

        if not FLAGS.model:
            raise ValueError(f"--model is required. Known models: {', '.join(registry.names())}.")
        entry = registry.get(FLAGS.model)
        if entry.reproduction is None:
            raise ValueError(f"Model {FLAGS.model!r} has no reproduction spec.")
        if FLAGS.list:
            for setting in entry.reproduction.settings:
                print(f"{setting.name}: paper {dict(setting.paper)}; overrides {dict(setting.overrides)}")
            return
        if FLAGS.data_dir is not None and not os.path.isdir(FLAGS.data_dir):
            raise ValueError(f"--data_dir {FLAGS.data_dir!r} does not exist or is not a directory.")
        if FLAGS.strategy is not None and FLAGS.strategy not in _SWEEP_STRATEGIES:
            raise ValueError(
                f"--strategy must be one of {', '.join(_SWEEP_STRATEGIES)} (each run is one process); got "
                f"{FLAGS.strategy!r}. Multi-worker and multi-process runs go through train.py."
            )
        for name in ("restarts", "jobs", "epochs", "steps", "batch_size", "cpu_devices"):
            if FLAGS[name].value is not None and FLAGS[name].value < 1:
                raise ValueError(f"--{name} must be >= 1; got {FLAGS[name].value}.")
        overrides = reproduce.parse_overrides(FLAGS.override)
        overrides.update(
            {field: FLAGS[flag].value for flag, field in _SHORTCUTS.items() if FLAGS[flag].value}
        )
        runs_dir = FLAGS.runs_dir or os.path.join(
            "runs", FLAGS.model, FLAGS.config or entry.reproduction.config
        )
        out = FLAGS.out or os.path.join("docs", "results", FLAGS.model)
        runs = reproduce.plan_runs(entry, FLAGS.restarts, runs_dir, FLAGS.settings, FLAGS.config, overrides)
    except ValueError as error:  # also DataError
        _fail(str(error))
    settings = len(runs) // FLAGS.restarts
    print(f"{len(runs)} runs ({FLAGS.restarts} restarts x {settings} settings), {FLAGS.jobs} jobs.")
    try:
        train_kwargs = {
            name: FLAGS[name].value for name in ("strategy", "cpu_devices") if FLAGS[name].value is not None
        }
        report = reproduce.run_all(
            runs,
            jobs=FLAGS.jobs,
            data_dir=FLAGS.data_dir,
            progress=FLAGS.progress,
            train_kwargs=train_kwargs,
        )
    except ValueError as error:
        _fail(str(error))
    command = "python reproduce.py " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    summary = reproduce.write_report(out, entry, runs, command, report)
    print()
    print(reproduce.format_table(entry.reproduction, summary["rows"]))
    print(
        f"\nWritten: {out}/table.md, {out}/summary.json"
        + (f", {out}/curves.png" if summary["curves"] else "")
    )
    if report.failed:
        for run, error in report.failed:
            print(f"FAILED {run.label} ({run.workdir}): {error}", file=sys.stderr)
        _fail(
            f"{len(report.failed)} of {len(runs)} runs failed; re-run the same command to retry them.",
            status=1,
        )


if __name__ == "__main__":
    app.run(main)
