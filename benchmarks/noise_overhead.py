"""Step-time cost of the gradient noise: median step time of a noisy optimizer / the same plain optimizer.

Both models train side by side in one process, in interleaved blocks of steps, so machine load hits both alike;
the reported ratio is the median over rounds of (noisy block time / plain block time of the same round).

    python benchmarks/noise_overhead.py                  # 20x50 ReLU MLP (batch 128) and a small conv net
    python benchmarks/noise_overhead.py --models=mlp --jit=off --rounds=200 --control
"""

from __future__ import annotations

import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import keras_gradnoise  # noqa: E402


def mlp() -> keras.Model:
    layers = [keras.Input((784,))] + [keras.layers.Dense(50, activation="relu") for _ in range(20)]
    return keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])


def convnet() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def _data(model: keras.Model, batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + tuple(model.input_shape[1:])).astype("float32")
    return x, rng.integers(0, 10, size=(batch,))


def measure(
    builder, jit_compile: bool, rounds: int, steps_per_block: int, batch: int, control: bool = False
) -> dict[str, float]:
    """Step times of plain SGD and NoisySGD(eta=0.01), run in alternating blocks of `steps_per_block` steps.

    Each round times one block of every model (the order alternates between rounds), and the ratio of a round is
    noisy / plain within that round, so load that changes between rounds cancels. Returns the median and the
    quartiles of the per-round ratios and the median step times. With `control`, a second plain SGD model runs
    in the same rounds and its ratio to the first (ideally 1.0) shows the measurement's own noise.
    """
    candidates = [
        ("plain", keras.optimizers.SGD(0.01)),
        ("noisy", keras_gradnoise.NoisySGD(0.01, eta=0.01, seed=0)),
    ]
    if control:
        candidates.append(("control", keras.optimizers.SGD(0.01)))
    models = {}
    for name, optimizer in candidates:
        keras.utils.set_random_seed(0)
        model = builder()
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
        x, y = _data(model, batch)
        for _ in range(3):
            model.train_on_batch(x, y)  # trace, compile and warm up outside the timing
        models[name] = (model, x, y)
    times: dict[str, list[float]] = {name: [] for name in models}
    for round_index in range(rounds):
        order = list(models) if round_index % 2 == 0 else list(reversed(list(models)))
        for name in order:
            model, x, y = models[name]
            start = time.perf_counter()
            for _ in range(steps_per_block):
                model.train_on_batch(x, y)
            times[name].append((time.perf_counter() - start) / steps_per_block)
    result = {f"{name}_ms": statistics.median(values) * 1e3 for name, values in times.items()}
    for name in models:
        if name == "plain":
            continue
        ratios = [a / b for a, b in zip(times[name], times["plain"])]
        quartiles = statistics.quantiles(ratios, n=4)
        result[f"{name}_ratio"] = statistics.median(ratios)
        result[f"{name}_ratio_q1"], result[f"{name}_ratio_q3"] = quartiles[0], quartiles[2]
    return result


FLAGS = flags.FLAGS


def define_flags() -> None:
    """The benchmark's flags (absl, as the scripts'); defined only when it runs, so importing it defines none."""
    flags.DEFINE_list("models", ["mlp", "conv"], "Comma-separated: mlp, conv.")
    flags.DEFINE_integer("rounds", 60, "Rounds of interleaved blocks.")
    flags.DEFINE_integer("steps_per_block", 10, "Steps per timed block.")
    flags.DEFINE_bool("control", False, "Also time a second plain model: its ratio shows the noise floor.")
    flags.DEFINE_integer("batch", 128, "Batch size.")
    flags.DEFINE_enum("jit", "both", ["both", "on", "off"], "jit_compile settings (JAX: always jitted).")


def main(argv: list[str]) -> None:
    """Prints the step time of plain and noisy SGD per model and jit_compile setting."""
    del argv
    print(
        f"backend={keras.backend.backend()} keras={keras.__version__} machine={platform.machine()} "
        f"cpus={os.cpu_count()} processor={platform.processor() or 'unknown'}"
    )
    builders = {"mlp": mlp, "conv": convnet}
    for name in FLAGS.models:
        jits = {"both": (False, True), "on": (True,), "off": (False,)}[FLAGS.jit]
        if keras.backend.backend() == "jax":
            jits = (True,)
        for jit in jits:
            result = measure(
                builders[name], jit, FLAGS.rounds, FLAGS.steps_per_block, FLAGS.batch, FLAGS.control
            )
            line = (
                f"{name:5s} jit_compile={jit!s:5s} plain {result['plain_ms']:.3f} ms/step  "
                f"noisy {result['noisy_ms']:.3f} ms/step  ratio {result['noisy_ratio']:.3f} "
                f"(quartiles {result['noisy_ratio_q1']:.3f}-{result['noisy_ratio_q3']:.3f})"
            )
            if FLAGS.control:
                line += f"  control ratio {result['control_ratio']:.3f}"
            print(line, flush=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
