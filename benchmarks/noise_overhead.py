"""Step-time cost of the gradient noise: median step time of a noisy optimizer / the same plain optimizer.

Both models train side by side in one process, in interleaved blocks of steps, so machine load hits both alike.

    python benchmarks/noise_overhead.py                  # 20x50 ReLU MLP (batch 128) and a small conv net
    python benchmarks/noise_overhead.py --blocks=30 --steps_per_block=50 --models=mlp
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

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


def measure(builder, jit_compile: bool, blocks: int, steps_per_block: int, batch: int) -> dict[str, float]:
    """Median seconds per step of plain SGD and NoisySGD(eta=0.01), interleaved block by block."""
    models = {}
    for name, optimizer in (
        ("plain", keras.optimizers.SGD(0.01)),
        ("noisy", keras_gradnoise.NoisySGD(0.01, eta=0.01, seed=0)),
    ):
        keras.utils.set_random_seed(0)
        model = builder()
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
        x, y = _data(model, batch)
        model.train_on_batch(x, y)  # trace and compile outside the timing
        models[name] = (model, x, y)
    times = {name: [] for name in models}
    for block in range(blocks):
        order = list(models) if block % 2 == 0 else list(reversed(list(models)))
        for name in order:
            model, x, y = models[name]
            start = time.perf_counter()
            for _ in range(steps_per_block):
                model.train_on_batch(x, y)
            times[name].append((time.perf_counter() - start) / steps_per_block)
    plain, noisy = statistics.median(times["plain"]), statistics.median(times["noisy"])
    return {"plain_ms": plain * 1e3, "noisy_ms": noisy * 1e3, "ratio": noisy / plain}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="mlp,conv", help="comma-separated: mlp, conv")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--steps_per_block", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument(
        "--jit",
        default="both",
        choices=["both", "on", "off"],
        help="jit_compile settings (JAX: always jitted)",
    )
    args = parser.parse_args()
    print(
        f"backend={keras.backend.backend()} keras={keras.__version__} machine={platform.machine()} "
        f"cpus={os.cpu_count()} processor={platform.processor() or 'unknown'}"
    )
    builders = {"mlp": mlp, "conv": convnet}
    for name in args.models.split(","):
        jits = {"both": (False, True), "on": (True,), "off": (False,)}[args.jit]
        if keras.backend.backend() == "jax":
            jits = (True,)
        for jit in jits:
            result = measure(builders[name], jit, args.blocks, args.steps_per_block, args.batch)
            print(
                f"{name:5s} jit_compile={jit!s:5s} plain {result['plain_ms']:.3f} ms/step  "
                f"noisy {result['noisy_ms']:.3f} ms/step  ratio {result['ratio']:.3f}"
            )


if __name__ == "__main__":
    main()
