"""Trains one zoo model: `python train.py --model=deep_mlp --config=smoke --workdir=/tmp/mlp`.

Flags left unset keep the named config's value. See docs/training.md for the workdir layout, resuming and
distributed training. Bad input (a flag that does not parse or does not exist, unknown model/config/strategy,
out-of-range numbers, a missing --data_dir or corrupt data in it, a --workdir that is a file, malformed TF_CONFIG)
ends with exit status 2 and one line on stderr, before anything is written. Ctrl-C ends with exit status 130 and
the command that continues the run (`--resume`). `--resume` may raise `--epochs` to extend a finished run.
"""

from __future__ import annotations

import os
import shlex
import sys

from absl import app, flags, logging

from zoo import cli, distribute, registry
from zoo.distribute import STRATEGIES, parse_tf_config

FLAGS = flags.FLAGS
_ABSL_FLAGS = frozenset(FLAGS)  # absl's own (--verbosity, --helpshort, ...); ours are defined below
flags.DEFINE_string("model", None, f"Zoo model: {', '.join(registry.names())}.")
flags.DEFINE_string("config", "default", "Named config of the model: smoke, default, paper, ...")
flags.DEFINE_string(
    "workdir", None, "Output directory (config.json, checkpoint/, tensorboard/, model.keras, ...)."
)
flags.DEFINE_string(
    "data_dir", None, "Local copy of the task's data; unset: the default location or download."
)
flags.DEFINE_bool("resume", False, "Continue the run in --workdir from its latest checkpoint.")
flags.DEFINE_string(
    "strategy",
    "auto",
    f"Distribution strategy: {', '.join(STRATEGIES)} (multi_worker reads TF_CONFIG; data_parallel is "
    "keras.distribution.DataParallel on JAX, MirroredStrategy on TensorFlow).",
)
flags.DEFINE_integer(
    "cpu_devices", None, "Split the CPU into this many logical devices (try data_parallel/mirrored on CPU)."
)
flags.DEFINE_string(
    "coordinator_address",
    None,
    "JAX multi-process data_parallel: host:port of process 0 (or KERAS_DISTRIBUTION_JOB_ADDRESSES).",
)
flags.DEFINE_integer(
    "num_processes",
    None,
    "JAX multi-process data_parallel: the process count (or KERAS_DISTRIBUTION_NUM_PROCESSES).",
)
flags.DEFINE_integer(
    "process_id",
    None,
    "JAX multi-process data_parallel: this process's id, 0 is the chief (or KERAS_DISTRIBUTION_PROCESS_ID).",
)
flags.DEFINE_integer("checkpoint_every_steps", None, "Also checkpoint every N steps inside an epoch.")
flags.DEFINE_integer("verbose", 1, "1: progress bars, 2: one line per epoch, 0: silent.")
# flag name -> TrainConfig field: the flags that change the named config (zoo/cli.py defines them for both scripts)
_OVERRIDES = cli.define_config_flags(
    (
        "optimizer",
        "learning_rate",
        "noise_eta",
        "noise_gamma",
        "noise_std",
        "noise_exclude",
        "clipnorm",
        "global_clipnorm",
        "epochs",
        "steps",
        "batch_size",
        "seed",
    )
)
OWN_FLAGS = sorted(set(FLAGS) - _ABSL_FLAGS)


def _check_cheap_flags() -> distribute.ProcessGroup | None:
    """Checks what needs no TensorFlow, so these mistakes fail fast, before its slow and chatty import.

    Returns:
        The multi-process setting of a JAX data_parallel run (flags or KERAS_DISTRIBUTION_*), or None.
    """
    if not FLAGS.model:
        raise ValueError(f"--model is required. Known models: {', '.join(registry.names())}.")
    if FLAGS.model not in registry.names():
        raise ValueError(f"Unknown model {FLAGS.model!r}. Known models: {', '.join(registry.names())}.")
    if not FLAGS.workdir:
        raise ValueError("--workdir is required (the run's output directory).")
    cli.check_output_dir(FLAGS.workdir, "--workdir")
    if FLAGS.data_dir is not None and not os.path.isdir(FLAGS.data_dir):
        raise ValueError(f"--data_dir {FLAGS.data_dir!r} does not exist or is not a directory.")
    if FLAGS.strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy {FLAGS.strategy!r}. Known strategies: {', '.join(STRATEGIES)}.")
    if FLAGS.strategy == "multi_worker":
        parse_tf_config()
    cli.check_config_flags(FLAGS, _OVERRIDES)
    for name in ("cpu_devices", "checkpoint_every_steps"):
        if FLAGS[name].value is not None and FLAGS[name].value < 1:
            raise ValueError(f"--{name} must be >= 1; got {FLAGS[name].value}.")
    return distribute.resolve_process_group(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        _fail(f"unexpected arguments {argv[1:]}; all options are --flags (see --helpshort).")
    if not FLAGS["verbosity"].present:
        # tf.distribute logs every all-reduce setup at INFO through absl; keep the progress bars readable.
        logging.set_verbosity(logging.WARNING)
    try:
        group = _check_cheap_flags()
        changes = cli.config_changes(FLAGS, _OVERRIDES)
        # JAX reads its CPU device count and joins other processes before its first array: do it now.
        distribute.prepare_backend(FLAGS.strategy, FLAGS.cpu_devices, group)
        from zoo import training  # imports TensorFlow: only after the cheap checks

        entry = registry.get(FLAGS.model)
        config = entry.check_options(entry.config(FLAGS.config).replace(**changes))
        results = training.train_and_evaluate(
            config,
            FLAGS.workdir,
            data_dir=FLAGS.data_dir,
            strategy=FLAGS.strategy,
            resume=FLAGS.resume,
            verbose=FLAGS.verbose,
            checkpoint_every_steps=FLAGS.checkpoint_every_steps,
            cpu_devices=FLAGS.cpu_devices,
        )
    except ValueError as error:  # also DataError, CheckpointError and StrategyError
        if os.environ.get("TRAIN_TRACEBACK"):
            raise
        _fail(f"{error} (TRAIN_TRACEBACK=1 shows the traceback)")
    except (
        KeyboardInterrupt
    ):  # Ctrl-C: no traceback; the checkpoints are written atomically, so all are valid
        command = shlex.join(["python", "train.py", *sys.argv[1:]] + ([] if FLAGS.resume else ["--resume"]))
        print(f"train.py: interrupted; continue the run with: {command}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)  # skip the interpreter's teardown, which takes seconds with TensorFlow loaded
    metrics = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in results["metrics"].items()
    )
    if distribute.chief_process(FLAGS.strategy, group):
        where = f"Results in {FLAGS.workdir}/results.json"
    else:
        where = f"This process writes no files; the chief writes {FLAGS.workdir}/results.json"
    print(f"Done in {results['wall_seconds']:.1f}s: {metrics}. {where}")
    if group is not None:
        from zoo import jax_distribution

        jax_distribution.shutdown_processes()  # waits for every process, so none exits mid-collective


def _fail(message: str, status: int = 2) -> None:
    cli.fail("train.py", message, status)


def run() -> None:
    """The command line: absl's app.run with flag errors as one line and exit status 2."""
    app.run(main, flags_parser=cli.flags_parser("train.py", OWN_FLAGS))


if __name__ == "__main__":
    run()
