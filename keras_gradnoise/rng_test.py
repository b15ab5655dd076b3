"""Tests of the counter-based noise generator against a plain-Python implementation and normal-distribution facts.

Statistical checks use n = 1,000,000 samples and 6-standard-error bounds (false alarm < 1e-8 per check).
"""

import math
import statistics

import numpy as np
import pytest
from keras import ops

from keras_gradnoise import backend, rng

N = 1_000_000
MASK = 0xFFFFFFFF


def py_mix32(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK
    return x ^ (x >> 16)


def py_bits(seed: int, step: int, counter: int) -> int:
    run_key = py_mix32(seed ^ 0x9E3779B9)
    step_key = py_mix32(run_key ^ py_mix32(step))
    return py_mix32((py_mix32(counter ^ run_key) + step_key) & MASK)


def normal_sample(size=N, seed=3, step=5):
    return ops.convert_to_numpy(backend.standard_normal(size, seed, step)).astype("float64")


@pytest.mark.parametrize(
    "seed, step, offset", [(0, 0, 0), (1, 2, 0), (2**31 - 1, 2**31 - 1, 17), (7, 123456, 2**32 - 64)]
)
def test_bits_equal_a_plain_python_implementation(seed, step, offset):
    got = ops.convert_to_numpy(rng.random_bits(64, seed, step, offset)).tolist()
    assert got == [py_bits(seed, step, offset + i) for i in range(64)]


def test_uniform_is_the_exact_symmetric_grid():
    bits = np.array([0, 255, 256, 2**31, MASK - 255, MASK, 123456789], dtype="uint32")
    got = ops.convert_to_numpy(rng.symmetric_uniform(ops.convert_to_tensor(bits))).astype("float64")
    expected = (2.0 * (bits.astype("float64") // 512) + 1.0) / 2.0**23 - 1.0
    np.testing.assert_array_equal(got, expected)
    assert got.min() == -got.max() == -(1 - 2.0**-23)


def test_normal_is_the_inverse_normal_cdf_of_the_uniform():
    bits = np.concatenate(
        [np.array([0, MASK, 2**31, 2**31 - 512], dtype="uint32"), np.arange(0, 2**32, 2**22, dtype="uint32")]
    )
    uniform = ops.convert_to_numpy(rng.symmetric_uniform(ops.convert_to_tensor(bits))).astype("float64")
    reference = np.array([statistics.NormalDist().inv_cdf((u + 1.0) / 2.0) for u in uniform])
    for transform in (ops.erfinv, backend.compiled(ops.erfinv)):  # the unfused kernel and the XLA one
        got = ops.convert_to_numpy(
            math.sqrt(2.0) * transform(rng.symmetric_uniform(ops.convert_to_tensor(bits)))
        ).astype("float64")
        np.testing.assert_allclose(got, reference, rtol=2e-5, atol=2e-6)
        assert abs(got).max() == pytest.approx(5.294, abs=0.001)


def test_compiled_sample_matches_the_uncompiled_one_and_offsets_select_slices():
    compiled = normal_sample(1000, seed=11, step=4)
    eager = ops.convert_to_numpy(rng.standard_normal(1000, 11, 4))
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6)
    sliced = ops.convert_to_numpy(rng.standard_normal(300, 11, 4, offset=700))
    np.testing.assert_array_equal(sliced, ops.convert_to_numpy(rng.standard_normal(1000, 11, 4))[700:])


def test_moments_and_tails_of_a_standard_normal():
    z = normal_sample()
    assert abs(z.mean()) < 6 / math.sqrt(N)
    assert abs(z.var() - 1.0) < 6 * math.sqrt(2 / N)
    assert abs(np.mean(z**3)) < 6 * math.sqrt(15 / N)  # Var(z^3) = 15
    assert abs(np.mean(z**4) - 3.0) < 6 * math.sqrt(96 / N)  # Var(z^4) = 105 - 9
    for bound in (1.0, 2.0, 3.0, 4.0):
        share = 2 * (1 - statistics.NormalDist().cdf(bound))
        assert abs(np.mean(np.abs(z) > bound) - share) < 6 * math.sqrt(share * (1 - share) / N) + 1e-6


def test_samples_are_uncorrelated_within_and_across_updates_and_seeds():
    base = normal_sample(seed=3, step=5)
    others = {
        "next step": normal_sample(seed=3, step=6),
        "next seed": normal_sample(seed=4, step=5),
        "seed and step swapped": normal_sample(seed=5, step=3),
    }
    bound = 6 / math.sqrt(N)
    for lag in (1, 2, 64):
        assert abs(np.corrcoef(base[:-lag], base[lag:])[0, 1]) < bound, lag
    for name, other in others.items():
        assert abs(np.corrcoef(base, other)[0, 1]) < bound, name
        # Dependence beyond correlation: squares would correlate if magnitudes were shared.
        assert abs(np.corrcoef(base**2, other**2)[0, 1]) < bound, name


@pytest.mark.parametrize("shift", [0, 8, 24])
def test_bytes_of_the_bits_are_uniform(shift):
    bits = ops.convert_to_numpy(rng.random_bits(N, 9, 1))
    counts = np.bincount((bits >> shift) & 0xFF, minlength=256)
    expected = N / 256
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    # Chi-square with 255 degrees of freedom: mean 255, standard deviation sqrt(510).
    assert chi_square < 255 + 6 * math.sqrt(510)


def test_counters_beyond_two_to_the_32_are_refused():
    with pytest.raises(ValueError, match="2\\*\\*32"):
        rng.random_bits(10, 0, 0, offset=2**32 - 5)


@pytest.mark.parametrize(
    "seed, step, offset", [(0, 0, 0), (1, 2, 0), (2**31 - 1, 2**31 - 1, 17), (7, 123456, 2**32 - 64)]
)
def test_the_int64_form_gives_the_same_bits(seed, step, offset):
    # The form torch runs (Keras has no uint32 arithmetic there), checked here on TensorFlow's int64.
    wide = ops.convert_to_numpy(rng.random_bits(64, seed, step, offset, wide=True))
    assert wide.dtype == np.int64
    assert wide.tolist() == [py_bits(seed, step, offset + i) for i in range(64)]
    narrow = ops.convert_to_numpy(rng.random_bits(64, seed, step, offset))
    np.testing.assert_array_equal(wide, narrow.astype("int64"))


def test_the_int64_form_gives_the_same_normals():
    wide = ops.convert_to_numpy(rng.standard_normal(100_000, 5, 9, wide=True))
    np.testing.assert_array_equal(wide, ops.convert_to_numpy(rng.standard_normal(100_000, 5, 9)))
