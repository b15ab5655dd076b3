"""Time to draw one update's noise: TensorFlow's Philox `stateless_normal` against keras_gradnoise's generator.

Each variant runs `--reps` draws (different steps) inside one tf.function, in graph mode and with XLA
(jit_compile=True), so the per-call overhead is shared; the best of `--trials` timings is reported per draw.

    python benchmarks/rng_speed.py                 # 88,010 samples (the 20x50 MLP has 88,210 parameters)
    python benchmarks/rng_speed.py --size=1000000
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from keras_gradnoise import backend, rng  # noqa: E402


def philox(size: int, seed: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    return tf.random.stateless_normal((size,), seed=key, alg="philox")


def fill(size: int, seed: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
    """No random numbers: the cost of producing and summing a vector, for reference."""
    return tf.fill((size,), tf.cast(seed + step, tf.float32))


def time_per_draw(generator, size: int, jit_compile: bool, reps: int, trials: int, calls: int) -> float:
    seed = tf.Variable(1, dtype=tf.int32)

    def draws() -> tf.Tensor:
        total = tf.zeros((size,))
        for step in range(reps):
            total += generator(size, seed.read_value(), tf.constant(step))
        return total

    function = tf.function(draws, jit_compile=jit_compile, autograph=False)
    function().numpy()
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(calls):
            result = function()
        result.numpy()
        best = min(best, (time.perf_counter() - start) / calls / reps)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=88_010)
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    print(f"tensorflow={tf.__version__} cpus={os.cpu_count()} size={args.size}")
    variants = {
        "fill (no RNG)": fill,
        "philox stateless_normal": philox,
        "rng.standard_normal, unfused": rng.standard_normal,
        # What the optimizers call: the generator as its own XLA cluster (inlined under jit_compile=True).
        "backend.standard_normal": backend.standard_normal,
    }
    for jit_compile in (False, True):
        for name, generator in variants.items():
            seconds = time_per_draw(generator, args.size, jit_compile, args.reps, args.trials, args.calls)
            print(f"{name:30s} jit_compile={jit_compile!s:5s} {seconds * 1e6:8.1f} us per draw", flush=True)


if __name__ == "__main__":
    main()
