"""zoo.stats against scipy (an independent implementation) and against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from zoo import stats


@pytest.mark.parametrize(
    ("a", "n", "b", "m"), [(3, 4, 1, 4), (0, 10, 5, 10), (9, 216, 1, 216), (58, 7290, 28, 7290), (2, 2, 0, 3)]
)
def test_fisher_exact_equals_scipy(a, n, b, m):
    expected = scipy_stats.fisher_exact([[a, n - a], [b, m - b]], alternative="two-sided").pvalue
    assert stats.fisher_exact(a, n, b, m) == pytest.approx(expected, rel=1e-9)


def test_fisher_exact_tea_tasting_by_hand():
    # Fisher's lady tasting tea: 3 of 4 right; two-sided p = (1 + 16 + 16 + 1) / 70... of tables as likely or
    # less: {0, 1, 3, 4} successes -> (1 + 16 + 16 + 1) / 70 = 34 / 70.
    assert stats.fisher_exact(3, 4, 1, 4) == pytest.approx(34 / 70)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 20), (5, 10), (20, 20), (9, 216)])
def test_clopper_pearson_equals_scipy(k, n):
    expected = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    low, high = stats.clopper_pearson(k, n)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_permutation_test_exact_by_enumeration():
    first, second = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    # Of the 20 splits of six values into 3 + 3, two (the observed one and its mirror) have |diff| >= 3.
    assert stats.permutation_test(first, second) == pytest.approx(2 / 20)
    expected = scipy_stats.permutation_test(
        (first, second), lambda x, y: np.mean(x) - np.mean(y), permutation_type="independent"
    ).pvalue
    assert stats.permutation_test(first, second) == pytest.approx(expected)


def test_permutation_test_monte_carlo_is_close_to_exact():
    rng = np.random.default_rng(1)
    first, second = rng.normal(0, 1, 9), rng.normal(1, 1, 9)
    exact = stats.permutation_test(first, second, resamples=100_000)  # C(18, 9) = 48620 splits: enumerated
    sampled = stats.permutation_test(first, second, resamples=4_000, seed=3)
    assert abs(sampled - exact) < 4 * np.sqrt(exact * (1 - exact) / 4_000) + 1e-3


def test_paired_permutation_test_exact_by_enumeration():
    # Differences 1, 2, 3: of the 8 sign patterns only +++ and --- reach |mean| 2.
    assert stats.paired_permutation_test([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]) == pytest.approx(2 / 8)
    # Differences 1, -1, 2, 4 (sum 6): signed sums of magnitudes (1, 1, 2, 4) reaching 6 are 8 (all +) and 6
    # (either 1 negative): 3 of 16 patterns, and their 3 mirrors reach -6 -> 6 / 16.
    assert stats.paired_permutation_test([2.0, 0.0, 5.0, 4.0], [1.0, 1.0, 3.0, 0.0]) == pytest.approx(6 / 16)


def test_paired_permutation_test_of_identical_samples_is_one_and_sampled_p_is_never_zero():
    assert stats.paired_permutation_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    # 30 pairs all +1: every sampled sign pattern but the observed one is less extreme -> 1 / (resamples + 1).
    assert stats.paired_permutation_test([1.0] * 30, [0.0] * 30, resamples=999) == pytest.approx(1 / 1000)


@pytest.mark.parametrize("size", [5, 12])
def test_paired_permutation_test_equals_scipy(size):
    rng = np.random.default_rng(size)
    first = rng.normal(0.3, 1.0, size)
    second = rng.normal(0.0, 1.0, size)
    expected = scipy_stats.permutation_test(
        (first, second), lambda x, y: np.mean(x - y), permutation_type="samples", n_resamples=np.inf
    ).pvalue
    assert stats.paired_permutation_test(first, second, resamples=2**size) == pytest.approx(expected)


def test_paired_permutation_test_monte_carlo_is_close_to_exact():
    rng = np.random.default_rng(7)
    first, second = rng.normal(0.5, 1.0, 14), rng.normal(0.0, 1.0, 14)
    exact = stats.paired_permutation_test(first, second, resamples=2**14)
    sampled = stats.paired_permutation_test(first, second, resamples=4_000, seed=2)
    assert abs(sampled - exact) < 4 * np.sqrt(exact * (1 - exact) / 4_000) + 1e-3


def test_bootstrap_interval_covers_the_mean_at_the_stated_rate():
    """Coverage over 400 normal samples of 10: 95 % nominal; percentile bootstrap under-covers a little at
    n = 10 (about 0.91-0.93), so we accept [0.87, 0.98] (binomial s.e. of the rate ~0.011)."""
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(400):
        sample = rng.normal(5.0, 2.0, 10)
        low, high = stats.bootstrap_mean_interval(sample, resamples=2_000, seed=trial)
        covered += low <= 5.0 <= high
    assert 0.87 <= covered / 400 <= 0.98


def test_bootstrap_interval_of_a_constant_is_that_constant():
    assert stats.bootstrap_mean_interval([11.35] * 5) == (pytest.approx(11.35), pytest.approx(11.35))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: stats.bootstrap_mean_interval([]), "non-empty"),
        (lambda: stats.clopper_pearson(3, 2), "successes <= trials"),
        (lambda: stats.fisher_exact(1, 0, 1, 2), "a_trials must be a positive integer"),
        (lambda: stats.permutation_test([], [1.0]), "non-empty"),
        (lambda: stats.paired_permutation_test([1.0, 2.0], [1.0]), "same length; got 2 and 1"),
        (lambda: stats.bootstrap_mean_interval([1.0], confidence=1.5), r"confidence must be in \(0, 1\)"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_committed_table_p_values_reproduce_from_their_runs():
    # The Monte Carlo permutation p-values in committed tables depend on the exact random draws: a refactor of
    # the test must keep them (Table 5 at its calibrated scale, eta 0.01 vs no noise, 40 v 40 runs).
    import glob
    import json
    import os

    folder = os.path.join(
        os.path.dirname(__file__), "..", "docs", "results", "neural_programmer_table5_calibrated_cpu"
    )

    def accuracies(setting):
        paths = sorted(glob.glob(os.path.join(folder, "runs", setting, "*.json")))
        return [100.0 * json.load(open(path))["metrics"]["test_accuracy"] for path in paths]

    with open(os.path.join(folder, "summary.json")) as f:
        committed = {(c["treated"], c["control"]): c for c in json.load(f)["comparisons"]}
    noisy, plain = accuracies("single_noise_eta0.01"), accuracies("single_no_noise")
    assert len(noisy) == len(plain) == 40
    entry = committed[("single_noise_eta0.01", "single_no_noise")]
    assert stats.permutation_test(noisy, plain) == entry["permutation_p"]
    assert 0.01 < entry["permutation_p"] < 1  # a Monte Carlo value (C(80, 40) splits), not an exact one
