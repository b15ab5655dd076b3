"""Reproduces a paper table of a zoo model with many restarts per setting.

    python reproduce.py --model=deep_mlp --restarts=4 --jobs=2

Runs restarts x the model's reproduction settings concurrently (see zoo/reproduce.py and docs/reproduce.md),
skips runs that already finished (re-run the same command to continue an interrupted sweep), prints the table
beside the paper's numbers and writes table.md, summary.json and curves.png into --out (default
<runs_dir>/report, under the git-ignored runs/, so that committed results are never overwritten by accident).
Bad input ends with exit status 2 and one line on stderr; failed runs with exit status 1 after the report of
the finished ones. Ctrl-C (or SIGTERM) stops the workers within seconds, prints the command that continues the
sweep and exits with status 130 (143).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import signal
import sys

from absl import app, flags

from zoo import cli, registry
from zoo.execution import SweepInterrupted

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any TensorFlow import: keep the terminal readable

FLAGS = flags.FLAGS
_ABSL_FLAGS = frozenset(FLAGS)  # absl's own (--verbosity, --helpshort, ...); ours are defined below
flags.DEFINE_string("model", None, f"Zoo model with a reproduction spec: {', '.join(registry.names())}.")
flags.DEFINE_integer("restarts", 4, "Restarts (seeds) per setting (the paper often used 20-40).")
flags.DEFINE_integer("jobs", 2, "Concurrent worker processes (1: run in this process, one after another).")
flags.DEFINE_list(
    "settings", None, "Comma-separated subset of the settings (default: all); --list shows them."
)
flags.DEFINE_string(
    "table",
    None,
    "Which of the model's reproduction tables to run (default: its main one), e.g. memn2n's reference_per_task; "
    "an unknown name is refused with the known ones.",
)
flags.DEFINE_bool("list", False, "List the model's settings with the paper's numbers and exit.")
flags.DEFINE_bool(
    "report_only",
    False,
    "Train nothing: write the report (and its store of per-run results) from the runs already finished, e.g. "
    "results.json files brought back from a GPU session into --runs_dir.",
)
flags.DEFINE_string(
    "config", None, "Named config the settings start from (default: the spec's, usually paper)."
)
# flag name -> TrainConfig field; the same flags (and --override) as train.py's, applied to every run
_SHORTCUTS = cli.define_config_flags(("epochs", "steps", "batch_size"), scope=" For every run.")
flags.DEFINE_string(
    "out",
    None,
    "Where table.md, summary.json and curves.png go (default <runs_dir>/report, git-ignored; give "
    "docs/results/<model> explicitly to update the committed report).",
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
flags.DEFINE_string(
    "trainer",
    "zoo.training:train_and_evaluate",
    "module:function that trains one run, called as f(config, workdir, data_dir=, resume=, verbose=) "
    "(the tests use fake ones).",
)
OWN_FLAGS = sorted(set(FLAGS) - _ABSL_FLAGS)

_SWEEP_STRATEGIES = ("auto", "one_device", "data_parallel", "mirrored")


def _fail(message: str, status: int = 2) -> None:
    cli.fail("reproduce.py", message, status)


def _command() -> str:
    """The command line that ran this sweep; running it again continues the sweep."""
    return shlex.join(["python", "reproduce.py", *sys.argv[1:]])


def _check_trainer(trainer: str) -> None:
    module, sep, function = trainer.partition(":")
    if not sep or not module or not function:
        raise ValueError(f"--trainer must look like module:function; got {trainer!r}.")
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ValueError(f"--trainer {trainer!r}: no module {module!r} can be imported.")


def main(argv: list[str]) -> None:
    try:
        _main(argv)
    except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM: the workers are stopped; no traceback
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the message
        number = interrupt.signal_number if isinstance(interrupt, SweepInterrupted) else signal.SIGINT
        if isinstance(interrupt, SweepInterrupted):
            report = interrupt.report
            done = len(report.completed) + len(report.skipped)
            print(
                f"reproduce.py: interrupted by {signal.Signals(number).name}: {done} runs finished, "
                f"{len(report.failed)} failed, {len(interrupt.stopped)} stopped mid-run (they resume from their "
                "last checkpoint); no report was written.",
                file=sys.stderr,
            )
        else:
            print("reproduce.py: interrupted.", file=sys.stderr)
        print(f"Continue the sweep with: {_command()}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Skip the interpreter's teardown: with TensorFlow imported (by the model's module) it takes seconds, and
        # the workers are already gone.
        os._exit(128 + number)


def _main(argv: list[str]) -> None:
    if len(argv) > 1:
        _fail(f"unexpected arguments {argv[1:]}; all options are --flags (see --helpshort).")
    try:
        from zoo import reproduce

        if not FLAGS.model:
            raise ValueError(f"--model is required. Known models: {', '.join(registry.names())}.")
        entry = registry.get(FLAGS.model)
        if entry.reproduction is None and FLAGS.table is None:
            raise ValueError(f"Model {FLAGS.model!r} has no reproduction spec.")
        spec = entry.table(FLAGS.table)
        if FLAGS.list:
            for setting in spec.settings:
                print(f"{setting.name}: paper {dict(setting.paper)}; overrides {dict(setting.overrides)}")
            return
        if FLAGS.data_dir is not None and not os.path.isdir(FLAGS.data_dir):
            raise ValueError(f"--data_dir {FLAGS.data_dir!r} does not exist or is not a directory.")
        if FLAGS.strategy is not None and FLAGS.strategy not in _SWEEP_STRATEGIES:
            raise ValueError(
                f"--strategy must be one of {', '.join(_SWEEP_STRATEGIES)} (each run is one process); got "
                f"{FLAGS.strategy!r}. Multi-worker and multi-process runs go through train.py."
            )
        for name in ("restarts", "jobs", "cpu_devices"):
            if FLAGS[name].value is not None and FLAGS[name].value < 1:
                raise ValueError(f"--{name} must be >= 1; got {FLAGS[name].value}.")
        cli.check_config_flags(FLAGS, _SHORTCUTS)
        _check_trainer(FLAGS.trainer)
        overrides = cli.config_changes(FLAGS, _SHORTCUTS)
        runs_dir = FLAGS.runs_dir or os.path.join("runs", FLAGS.model, FLAGS.config or spec.config)
        out = FLAGS.out or os.path.join(runs_dir, "report")
        cli.check_output_dir(runs_dir, "--runs_dir")
        cli.check_output_dir(out, "--out")
        runs = reproduce.plan_runs(
            entry, FLAGS.restarts, runs_dir, FLAGS.settings, FLAGS.config, overrides, table=FLAGS.table
        )
        for run in runs:
            cli.check_output_dir(run.workdir, f"The workdir of run {run.label}")
    except ValueError as error:  # also DataError
        _fail(str(error))
    settings = len(runs) // FLAGS.restarts
    print(
        f"{len(runs)} runs ({FLAGS.restarts} restarts x {settings} settings), {FLAGS.jobs} jobs.", flush=True
    )
    restored = reproduce.restore_from_store(runs, out)
    if restored:
        print(f"{len(restored)} finished runs taken from {os.path.join(out, reproduce.STORE)}.", flush=True)
    if FLAGS.report_only:
        try:  # loading the finished runs checks that each ran the planned config
            summary = reproduce.write_report(out, entry, runs, _command(), table=FLAGS.table)
        except ValueError as error:
            _fail(str(error))
        print(reproduce.format_table(spec, summary["rows"]))
        print(f"\nWritten from {summary['finished_runs']} finished runs: {out}/table.md, {out}/summary.json")
        return
    try:
        train_kwargs = {
            name: FLAGS[name].value for name in ("strategy", "cpu_devices") if FLAGS[name].value is not None
        }
        report = reproduce.run_all(
            runs,
            trainer=FLAGS.trainer,
            jobs=FLAGS.jobs,
            data_dir=FLAGS.data_dir,
            progress=FLAGS.progress,
            train_kwargs=train_kwargs,
        )
    except ValueError as error:
        _fail(str(error))
    summary = reproduce.write_report(out, entry, runs, _command(), report, table=FLAGS.table)
    print()
    print(reproduce.format_table(spec, summary["rows"]))
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


def run() -> None:
    """The command line: absl's app.run with flag errors as one line and exit status 2."""
    app.run(main, flags_parser=cli.flags_parser("reproduce.py", OWN_FLAGS))


if __name__ == "__main__":
    run()
