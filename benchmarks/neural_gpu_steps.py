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

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo.neural_gpu import tasks  # noqa: E402
from zoo.neural_gpu.data import evaluate_lengths  # noqa: E402
from zoo.training import build_optimizer  # noqa: E402


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
    """The config's model and noisy optimizer, compiled as the training harness does."""
    entry = zoo.get("neural_gpu")
    keras.utils.set_random_seed(config.seed)
    model = entry.build_model(**config.model_kwargs)
    model.compile(optimizer=build_optimizer(config, config.steps_per_epoch), **entry.compile_kwargs(config))
    return model


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
    """Trains with the config's curriculum for about `seconds`, then measures errors at `eval_lengths`."""
    entry = zoo.get("neural_gpu")
    model = compiled_model(config)
    data = entry.make_data(config, None)
    limit = _TimeLimit(seconds)
    started = time.perf_counter()
    history = model.fit(data.train, epochs=10_000, callbacks=[*data.callbacks, limit], verbose=2)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    task = config.data_kwargs.get("task", "badd")
    errors = evaluate_lengths(model, task, eval_lengths, eval_examples, seed=123457, batch_size=eval_examples)
    return {
        "train_seconds": train_seconds,
        "train_steps": limit.steps,
        "train_steps_per_second_with_curriculum": limit.steps / train_seconds,
        "curriculum_length_reached": history.history["curriculum_length"][-1],
        "eval_examples": eval_examples,
        "eval_seconds": time.perf_counter() - started,
        **errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", default="default", help="Named neural_gpu config (default, table7, paper)."
    )
    parser.add_argument("--lengths", default="10,20", help="Comma-separated sequence lengths to time.")
    parser.add_argument("--steps", type=int, default=30, help="Timed steps per length.")
    parser.add_argument("--warmup", type=int, default=3, help="Untimed steps first (compilation).")
    parser.add_argument("--batch_size", type=int, default=None, help="Override the config's batch size.")
    parser.add_argument("--train_seconds", type=float, default=0.0, help="Also train this long (0: skip).")
    parser.add_argument("--eval_lengths", default="20,200", help="Lengths evaluated after training.")
    parser.add_argument("--eval_examples", type=int, default=32, help="Examples per length after training.")
    parser.add_argument("--out", default=None, help="Write the results as JSON here.")
    args = parser.parse_args()
    steps = int(os.environ.get("NGPU_BENCH_STEPS", args.steps))
    if steps < 1 or args.warmup < 0:
        parser.error(f"--steps must be >= 1 and --warmup >= 0; got {steps}, {args.warmup}.")
    lengths = [tasks.check_length(int(v), "--lengths entry") for v in args.lengths.split(",") if v.strip()]
    eval_lengths = [tasks.check_length(int(v), "--eval_lengths entry") for v in args.eval_lengths.split(",")]
    config = zoo.get("neural_gpu").config(args.config)
    if args.batch_size:
        config = config.replace(batch_size=args.batch_size)
    results: dict = {"machine": machine_info(), "config": args.config, "timings": []}
    print("machine:", json.dumps(results["machine"]))

    def save() -> None:
        # Written after every phase, so a run cut short by a time limit still leaves what it measured.
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                json.dump(results, f, indent=2)

    for length in lengths:
        timing = time_steps(config, length, steps, args.warmup)
        results["timings"].append(timing)
        print(
            f"{args.config} length {length} batch {config.batch_size}: {timing['steps_per_second']:.2f} steps/s "
            f"({timing['examples_per_second']:.0f} examples/s; warmup {timing['warmup_seconds']:.1f} s)"
        )
        save()
    if args.train_seconds > 0:
        if "NGPU_BENCH_STEPS" in os.environ:
            config = config.replace(steps_per_epoch=min(config.steps_per_epoch or steps, steps))
        results["training"] = timed_training(config, args.train_seconds, eval_lengths, args.eval_examples)
        print("training:", json.dumps(results["training"]))
        save()
    if args.out:
        print("wrote", args.out)


if __name__ == "__main__":
    main()
