"""Training steps per second of the Neural GPU's `default` config, and optionally a time-boxed training run.

    python benchmarks/neural_gpu_steps.py                          # steps/s at lengths 10 and 20, current backend
    KERAS_BACKEND=jax python benchmarks/neural_gpu_steps.py --lengths=20 --steps=50
    python benchmarks/neural_gpu_steps.py --train_seconds=120 --out=/tmp/ngpu_bench.json

The step timing trains on pre-generated batches of one length (so data generation is excluded) after `--warmup`
steps that absorb compilation. `--train_seconds` then trains a fresh model with the config's curriculum for that
long (stopping at an epoch end) and measures the per-bit error at `--eval_lengths` on fresh examples.
The env var NGPU_BENCH_STEPS overrides --steps (tiny CPU dry runs of the GPU script).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import zoo  # noqa: E402
from zoo import cli, training  # noqa: E402
from zoo.neural_gpu import tasks  # noqa: E402
from zoo.neural_gpu.data import evaluate_lengths  # noqa: E402

FLAGS = flags.FLAGS
PROGRAM = "neural_gpu_steps.py"


def machine_info() -> dict[str, str]:
    """Where the numbers come from: host, CPU count, backend and its devices."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": str(os.cpu_count()),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }
    if keras.backend.backend() == "jax":
        import jax

        info["devices"] = ", ".join(str(d) for d in jax.devices())
        info["jax"] = jax.__version__
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        info["devices"] = ", ".join(d.name for d in tf.config.list_logical_devices())
        info["tensorflow"] = tf.__version__
    return info


def compiled_model(config: zoo.TrainConfig) -> keras.Model:
    """The config's model and noisy optimizer, seeded and compiled as the training harness does."""
    keras.utils.set_random_seed(config.seed)
    return training.build_compiled_model(zoo.get("neural_gpu"), config)


def time_steps(config: zoo.TrainConfig, length: int, steps: int, warmup: int) -> dict[str, float]:
    """Steps/s of `train_on_batch` at one length, after `warmup` untimed steps."""
    model = compiled_model(config)
    task = config.data_kwargs.get("task", "badd")
    rng = np.random.default_rng(0)
    batches = [tasks.make_examples(task, length, config.batch_size, rng) for _ in range(8)]
    started = time.perf_counter()
    for i in range(warmup):
        model.train_on_batch(*batches[i % len(batches)])
    warmup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(steps):
        loss = model.train_on_batch(*batches[i % len(batches)], return_dict=True)["loss"]
    # train_on_batch returns host values, so the last step has finished when the clock stops.
    seconds = time.perf_counter() - started
    return {
        "length": length,
        "batch_size": config.batch_size,
        "steps": steps,
        "steps_per_second": steps / seconds,
        "examples_per_second": steps * config.batch_size / seconds,
        "warmup_seconds": warmup_seconds,
        "last_loss": float(loss),
    }


class _TimeLimit(keras.callbacks.Callback):
    """Stops training at the first epoch end after `seconds`; counts the steps done."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.steps = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if time.perf_counter() - self.started > self.seconds:
            self.model.stop_training = True


def timed_training(
    config: zoo.TrainConfig, seconds: float, eval_lengths: list[int], eval_examples: int
) -> dict[str, float]:
    """Trains with the config's curriculum for about `seconds` (the zoo's own loop, in a temporary workdir), then
    measures errors at `eval_lengths`."""
    limit = _TimeLimit(seconds)
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        results = training.train_and_evaluate(
            config.replace(epochs=10_000), workdir, verbose=2, callbacks=[limit]
        )
        train_seconds = time.perf_counter() - started
        model = keras.saving.load_model(os.path.join(workdir, "model.keras"))
    started = time.perf_counter()
    task = config.data_kwargs.get("task", "badd")
    errors = evaluate_lengths(model, task, eval_lengths, eval_examples, seed=123457, batch_size=eval_examples)
    return {
        # Includes the run's own final evaluation (the config's eval_lengths) and its checkpoints.
        "train_seconds": train_seconds,
        "train_steps": limit.steps,
        "train_steps_per_second_with_curriculum": limit.steps / train_seconds,
        "curriculum_length_reached": results["history"]["curriculum_length"][-1],
        "eval_examples": eval_examples,
        "eval_seconds": time.perf_counter() - started,
        **errors,
    }


def define_flags() -> None:
    """The script's flags (absl, as train.py's)."""
    flags.DEFINE_string("config", "default", "Named neural_gpu config (default, table7, paper).")
    flags.DEFINE_list("lengths", ["10", "20"], "Comma-separated sequence lengths to time.")
    flags.DEFINE_integer("steps", 30, "Timed steps per length.")
    flags.DEFINE_integer("warmup", 3, "Untimed steps first (compilation).")
    flags.DEFINE_integer("batch_size", None, "Override the config's batch size.")
    flags.DEFINE_float("train_seconds", 0.0, "Also train this long (0: skip).")
    flags.DEFINE_list("eval_lengths", ["20", "200"], "Lengths evaluated after training.")
    flags.DEFINE_integer("eval_examples", 32, "Examples per length after training.")
    flags.DEFINE_string("out", None, "Write the results as JSON here.")


def main(argv: list[str]) -> None:
    """Times the steps, optionally trains; bad input exits with status 2 and one line."""
    if len(argv) > 1:
        cli.fail(PROGRAM, f"unexpected arguments {argv[1:]}; all options are --flags (see --helpshort).")
    steps = int(os.environ.get("NGPU_BENCH_STEPS", FLAGS.steps))
    try:
        if steps < 1 or FLAGS.warmup < 0:
            raise ValueError(f"--steps must be >= 1 and --warmup >= 0; got {steps}, {FLAGS.warmup}.")
        lengths = [tasks.check_length(int(v), "--lengths entry") for v in FLAGS.lengths if v.strip()]
        eval_lengths = [tasks.check_length(int(v), "--eval_lengths entry") for v in FLAGS.eval_lengths]
        config = zoo.get("neural_gpu").config(FLAGS.config)
        if FLAGS.batch_size:
            config = config.replace(batch_size=FLAGS.batch_size)
    except ValueError as error:
        cli.fail(PROGRAM, str(error))
    config_name = FLAGS.config
    results: dict = {"machine": machine_info(), "config": config_name, "timings": []}
    print("machine:", json.dumps(results["machine"]))

    def save() -> None:
        # Written after every phase, so a run cut short by a time limit still leaves what it measured.
        if FLAGS.out:
            os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
            with open(FLAGS.out, "w") as f:
                json.dump(results, f, indent=2)

    for length in lengths:
        timing = time_steps(config, length, steps, FLAGS.warmup)
        results["timings"].append(timing)
        print(
            f"{config_name} length {length} batch {config.batch_size}: {timing['steps_per_second']:.2f} steps/s "
            f"({timing['examples_per_second']:.0f} examples/s; warmup {timing['warmup_seconds']:.1f} s)"
        )
        save()
    if FLAGS.train_seconds > 0:
        if "NGPU_BENCH_STEPS" in os.environ:
            config = config.replace(steps_per_epoch=min(config.steps_per_epoch or steps, steps))
        results["training"] = timed_training(config, FLAGS.train_seconds, eval_lengths, FLAGS.eval_examples)
        print("training:", json.dumps(results["training"]))
        save()
    if FLAGS.out:
        print("wrote", FLAGS.out)


if __name__ == "__main__":
    _absl_flags = frozenset(FLAGS)
    define_flags()
    app.run(main, flags_parser=cli.flags_parser(PROGRAM, sorted(set(FLAGS) - _absl_flags)))
