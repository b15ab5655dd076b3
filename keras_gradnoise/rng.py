"""The noise generator: a counter-based hash RNG written with keras.ops, the same bits on every backend.

Sample i of update t is a pure function of (seed, t, i):

    k1 = mix32(seed ^ 0x9E3779B9)            # the run's key
    k2 = mix32(k1 ^ mix32(t))                # the update's key
    bits_i = mix32(mix32(i ^ k1) + k2)       # 32 random bits (arithmetic mod 2**32)
    u_i = (2 * (bits_i >> 9) + 1) / 2**23 - 1        # uniform on a symmetric 2**23-point grid in (-1, 1)
    z_i = sqrt(2) * erfinv(u_i)              # N(0, 1) by the inverse CDF

On torch, where Keras stores "uint32" as int64, the same function runs in int64 with explicit reductions mod 2**32
(`random_bits(..., wide=True)`); the tests check both forms against a plain-Python implementation.

`mix32` is a 32-bit integer finalizer (xor-shift / multiply, the "lowbias32" constants of C. Wellons' hash
prospector); for fixed keys every stage is a bijection of uint32, so the 2**32 counters of one update give 2**32
distinct bit patterns.

Why not the backends' own generators: per sample this is about a dozen integer operations and one erfinv, all
elementwise, which XLA fuses into one vectorized loop. `python benchmarks/rng_speed.py` on the 2-core CPU box,
88,010 samples, about the 20x50 MLP (output in docs/results/perf/cpu_tf.txt): TF's Philox `stateless_normal` 0.61 ms in graph mode and
1.36 ms under XLA (XLA's CPU Philox and Box-Muller do not vectorize); this generator 0.19 ms as the optimizers run
it in graph mode, 0.11-0.15 ms under XLA.

Range and resolution: u has 23 bits, so |z| <= 5.29 (a standard normal exceeds that with probability 1.2e-7) and
samples lie on the inverse-CDF image of a 2**23-point grid. (With 24 bits, (1 + u) / 2 at the grid's top would
round to 1 in float32, and TensorFlow's unfused erfinv, which goes through that quantity, returns inf there.) For gradient noise this is indistinguishable from an
exact normal; the tests check moments, tail shares, and correlations across samples, updates and seeds.
"""

from __future__ import annotations

import math
from typing import Any

from keras import ops

MAX_SAMPLES = 2**32
_M1, _M2 = 0x7FEB352D, 0x846CA68B
_RUN_SALT = 0x9E3779B9
_GRID = 2.0**23
_MASK = 0xFFFFFFFF


def _u32(value: int) -> Any:
    return ops.convert_to_tensor(value, "uint32")


def mix32(x: Any) -> Any:
    """The 32-bit integer finalizer: x ^= x >> 16; x *= M1; x ^= x >> 15; x *= M2; x ^= x >> 16 (mod 2**32).

    Args:
        x: uint32 tensor.

    Returns:
        uint32 tensor of the same shape; a bijection of uint32, applied elementwise.
    """
    x = ops.bitwise_xor(x, ops.right_shift(x, _u32(16)))
    x = ops.multiply(x, _u32(_M1))
    x = ops.bitwise_xor(x, ops.right_shift(x, _u32(15)))
    x = ops.multiply(x, _u32(_M2))
    return ops.bitwise_xor(x, ops.right_shift(x, _u32(16)))


def _i64(value: int) -> Any:
    return ops.convert_to_tensor(value, "int64")


def _multiply_mod32(x: Any, constant: int) -> Any:
    # x * constant mod 2**32 for int64 x in [0, 2**32) without leaving int64's range: split the constant in
    # 16-bit halves, so that every product stays below 2**48.
    low = ops.multiply(x, _i64(constant & 0xFFFF))
    high = ops.left_shift(ops.bitwise_and(ops.multiply(x, _i64(constant >> 16)), _i64(0xFFFF)), _i64(16))
    return ops.bitwise_and(ops.add(low, high), _i64(_MASK))


def mix32_wide(x: Any) -> Any:
    """`mix32` on int64 tensors holding values in [0, 2**32): the same function, for backends without uint32
    arithmetic (on torch, Keras stores "uint32" as int64, so the uint32 form would not wrap at 2**32).

    Args:
        x: int64 tensor with entries in [0, 2**32).

    Returns:
        int64 tensor of the same shape: mix32(x), entries in [0, 2**32).
    """
    x = ops.bitwise_xor(x, ops.right_shift(x, _i64(16)))
    x = _multiply_mod32(x, _M1)
    x = ops.bitwise_xor(x, ops.right_shift(x, _i64(15)))
    x = _multiply_mod32(x, _M2)
    return ops.bitwise_xor(x, ops.right_shift(x, _i64(16)))


def _random_bits_wide(size: int, seed: Any, step: Any, offset: int) -> Any:
    run_key = mix32_wide(ops.bitwise_xor(ops.cast(seed, "int64"), _i64(_RUN_SALT)))
    step_key = mix32_wide(ops.bitwise_xor(run_key, mix32_wide(ops.cast(step, "int64"))))
    counters = ops.add(ops.arange(size, dtype="int64"), _i64(offset))
    mixed = ops.bitwise_and(ops.add(mix32_wide(ops.bitwise_xor(counters, run_key)), step_key), _i64(_MASK))
    return mix32_wide(mixed)


def random_bits(size: int, seed: Any, step: Any, offset: int = 0, wide: bool = False) -> Any:
    """32 random bits for each counter offset, ..., offset + size - 1 of update `step` of run `seed`.

    Args:
        size: number of samples (static).
        seed: non-negative int32 scalar.
        step: non-negative int32 scalar.
        offset: first counter (static); offset + size must not exceed 2**32.
        wide: compute in int64 (see `mix32_wide`), for backends without uint32 arithmetic; the same bits.

    Returns:
        uint32 tensor of shape (size,); int64 (values in [0, 2**32)) when `wide`.
    """
    if offset < 0 or offset + size > MAX_SAMPLES:
        raise ValueError(f"counters [{offset}, {offset + size}) must lie in [0, 2**32).")
    if wide:
        return _random_bits_wide(size, seed, step, offset)
    run_key = mix32(ops.bitwise_xor(ops.cast(seed, "uint32"), _u32(_RUN_SALT)))
    step_key = mix32(ops.bitwise_xor(run_key, mix32(ops.cast(step, "uint32"))))
    counters = ops.cast(ops.arange(size, dtype="int32"), "uint32")
    if offset:
        counters = ops.add(counters, _u32(offset))
    return mix32(ops.add(mix32(ops.bitwise_xor(counters, run_key)), step_key))


def symmetric_uniform(bits: Any) -> Any:
    """Maps uint32 bits to float32 u = (2 * (bits >> 9) + 1) / 2**23 - 1, uniform on a grid symmetric about 0.

    Every step of this is exact in float32 (a 23-bit integer, a power-of-two scale, and a sum whose exact value
    is a multiple of 2**-23 below 1 in magnitude), so u is bit-identical on every backend and device; so is
    (1 + u) / 2, which some erfinv implementations compute.

    Args:
        bits: uint32 tensor (or int64 with values in [0, 2**32), from `random_bits(..., wide=True)`).

    Returns:
        float32 tensor of the same shape with values in [-1 + 2**-23, 1 - 2**-23].
    """
    shift = _i64(9) if ops.dtype(bits) == "int64" else _u32(9)
    top23 = ops.cast(ops.right_shift(bits, shift), "float32")
    return top23 * (2.0 / _GRID) + (1.0 / _GRID - 1.0)


def standard_normal(size: int, seed: Any, step: Any, offset: int = 0, wide: bool = False) -> Any:
    """`size` i.i.d. N(0, 1) float32 samples, a pure function of (seed, step, counter).

    Args:
        size: number of samples (static).
        seed: non-negative int32 scalar identifying the run.
        step: non-negative int32 scalar identifying the update.
        offset: first counter (static), so disjoint slices of one update's stream can be drawn separately.
        wide: draw the bits in int64 (`random_bits`); the same numbers.

    Returns:
        float32 tensor of shape (size,).

    Example:
        >>> z = standard_normal(1000, seed=7, step=0)  # the same 1000 numbers on TensorFlow and JAX

    Reference: the noise of Neelakantan et al. 2015 (arXiv 1511.06807) is this sample times sigma_t.
    """
    return math.sqrt(2.0) * ops.erfinv(symmetric_uniform(random_bits(size, seed, step, offset, wide)))
