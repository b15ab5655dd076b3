"""Time to draw one update's noise: TensorFlow's Philox `stateless_normal` against keras_gradnoise's generator.

Each variant runs `--reps` draws (different steps) inside one tf.function, in graph mode and with XLA
(jit_compile=True), so the per-call overhead is shared; the best of `--trials` timings is reported per draw.

    python benchmarks/rng_speed.py                 # 88,010 samples (the 20x50 MLP has 88,210 parameters)
    python benchmarks/rng_speed.py --size=1000000
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

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


FLAGS = flags.FLAGS


def define_flags() -> None:
    """The benchmark's flags (absl, as the scripts')."""
    flags.DEFINE_integer("size", 88_010, "Values per draw.")
    flags.DEFINE_integer("reps", 8, "Draws per call.")
    flags.DEFINE_integer("trials", 7, "Timed trials (the best counts).")
    flags.DEFINE_integer("calls", 20, "Calls per trial.")


def main(argv: list[str]) -> None:
    """Prints the time per draw of each generator, with and without jit_compile."""
    del argv
    print(f"tensorflow={tf.__version__} cpus={os.cpu_count()} size={FLAGS.size}")
    variants = {
        "fill (no RNG)": fill,
        "philox stateless_normal": philox,
        "rng.standard_normal, unfused": rng.standard_normal,
        # What the optimizers call: the generator as its own XLA cluster (inlined under jit_compile=True).
        "backend.standard_normal": backend.standard_normal,
    }
    for jit_compile in (False, True):
        for name, generator in variants.items():
            seconds = time_per_draw(generator, FLAGS.size, jit_compile, FLAGS.reps, FLAGS.trials, FLAGS.calls)
            print(f"{name:30s} jit_compile={jit_compile!s:5s} {seconds * 1e6:8.1f} us per draw", flush=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
