"""The statistics a paper table's rows need: intervals over restarts and noise-vs-no-noise tests.

A row of a reproduction table is a distribution over restarts, so every number it reports comes with an
interval, and every noise / no-noise pair with a test:

- `bootstrap_mean_interval`: a percentile-bootstrap 95 % interval of a mean (accuracies, errors);
- `clopper_pearson`: the exact 95 % interval of a success rate (runs reaching 100 % accuracy, say);
- `fisher_exact`: the two-sided Fisher exact test of two success counts;
- `permutation_test`: a two-sided test of a difference of means, exact for small samples;
- `paired_permutation_test`: a two-sided test that paired differences (one per bAbI task, say) average zero.

Pure Python and numpy, no scipy: the runner's report process imports no framework. Each function is checked
against scipy's implementation in stats_test.py.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.95


def bootstrap_mean_interval(
    values: Sequence[float], confidence: float = CONFIDENCE, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """The percentile-bootstrap interval of the mean of `values`.

    Args:
        values: one number per restart (at least one; a single value gives a zero-width interval).
        confidence: the interval's coverage, in (0, 1).
        resamples: bootstrap resamples.
        seed: seeds the resampling, so a report is reproducible.

    Returns:
        (low, high).

    Example:
        >>> bootstrap_mean_interval([11.35, 11.35, 95.1, 96.4])  # doctest: +SKIP
        (11.35, 95.75)
    """
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"bootstrap_mean_interval needs a non-empty list of numbers; got {values!r}.")
    _check_confidence(confidence)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1.0 - alpha))


def clopper_pearson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a binomial success rate.

    Args:
        successes: runs that succeeded, 0 <= successes <= trials.
        trials: runs, >= 1.
        confidence: the interval's coverage.

    Returns:
        (low, high) as rates in [0, 1].
    """
    if not (isinstance(trials, int) and isinstance(successes, int) and 0 <= successes <= trials and trials):
        raise ValueError(
            f"clopper_pearson needs 0 <= successes <= trials, trials >= 1; got {successes}/{trials}."
        )
    _check_confidence(confidence)
    alpha = (1.0 - confidence) / 2.0
    # low: the rate at which P(X >= successes) = alpha; high: the rate at which P(X <= successes) = alpha.
    low = 0.0 if successes == 0 else _bisect(lambda p: _binomial_sf(successes, trials, p) - alpha, 0.0, 1.0)
    high = (
        1.0
        if successes == trials
        else _bisect(lambda p: alpha - _binomial_cdf(successes, trials, p), 0.0, 1.0)
    )
    return low, high


def fisher_exact(a_successes: int, a_trials: int, b_successes: int, b_trials: int) -> float:
    """The two-sided p-value of Fisher's exact test that two success rates are equal.

    The 2 x 2 table is [[a_successes, a_failures], [b_successes, b_failures]]; the p-value sums the
    hypergeometric probabilities of all tables with the same margins that are no more likely than the observed
    one (the usual two-sided definition, as in R and scipy).
    """
    for name, value in (("a_trials", a_trials), ("b_trials", b_trials)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"fisher_exact: {name} must be a positive integer; got {value!r}.")
    if not (0 <= a_successes <= a_trials and 0 <= b_successes <= b_trials):
        raise ValueError(
            f"fisher_exact: successes out of range: {a_successes}/{a_trials}, {b_successes}/{b_trials}."
        )
    total_successes = a_successes + b_successes
    total = a_trials + b_trials

    def probability(k: int) -> float:
        return (
            math.comb(a_trials, k)
            * math.comb(b_trials, total_successes - k)
            / math.comb(total, total_successes)
        )

    observed = probability(a_successes)
    lowest, highest = max(0, total_successes - b_trials), min(a_trials, total_successes)
    p_value = sum(
        p for p in (probability(k) for k in range(lowest, highest + 1)) if p <= observed * (1.0 + 1e-7)
    )
    return min(1.0, p_value)


def permutation_test(
    first: Sequence[float], second: Sequence[float], resamples: int = 20_000, seed: int = 0
) -> float:
    """The two-sided p-value that two samples have the same mean, by permuting the group labels.

    Exact (every split enumerated) when there are at most `resamples` splits, else a Monte Carlo estimate with
    the observed split counted once (so the p-value is never 0).
    """
    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or not a.size or not b.size:
        raise ValueError("permutation_test needs two non-empty lists of numbers.")
    pooled = np.concatenate([a, b])
    observed = abs(a.mean() - b.mean())
    tolerance = 1e-9 * max(1.0, float(np.abs(pooled).max()))
    total = pooled.sum()
    if math.comb(pooled.size, a.size) <= resamples:
        group_sums = np.array(
            [pooled[list(chosen)].sum() for chosen in itertools.combinations(range(pooled.size), a.size)]
        )
        differences = np.abs(group_sums / a.size - (total - group_sums) / b.size)
        return _share_as_extreme(differences, observed, tolerance, monte_carlo=False)
    rng = np.random.default_rng(seed)
    differences = np.empty(resamples)
    for i in range(resamples):
        permuted = rng.permutation(pooled)
        differences[i] = abs(permuted[: a.size].mean() - permuted[a.size :].mean())
    return _share_as_extreme(differences, observed, tolerance, monte_carlo=True)


def paired_permutation_test(
    first: Sequence[float], second: Sequence[float], resamples: int = 20_000, seed: int = 0
) -> float:
    """The two-sided p-value that paired samples have the same mean, by flipping the sign of each difference.

    Under the null hypothesis each pair's two values are exchangeable, so each difference is as likely
    positive as negative. Exact (all 2**n sign patterns) when 2**n <= `resamples`, else a Monte Carlo
    estimate with the observed pattern counted once (never 0).

    Args:
        first: one value per pair (a task's mean test error with noise, say).
        second: the other value of each pair, in the same order, as many as `first`.
        resamples: the most sign patterns enumerated, and the Monte Carlo sample size above that.
        seed: seeds the Monte Carlo sample.

    Returns:
        The p-value in (0, 1].

    Example:
        >>> paired_permutation_test([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])  # 2 of 8 patterns reach |mean| 2
        0.25
    """
    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or not a.size:
        raise ValueError(
            "paired_permutation_test needs two non-empty lists of numbers of the same length; got "
            f"{len(first)} and {len(second)}."
        )
    differences = a - b
    observed = abs(differences.mean())
    tolerance = 1e-9 * max(1.0, float(np.abs(differences).max()))
    if 2**differences.size <= resamples:
        patterns = np.array(list(itertools.product((1.0, -1.0), repeat=differences.size)))
        return _share_as_extreme(
            np.abs(patterns @ differences) / differences.size, observed, tolerance, monte_carlo=False
        )
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(resamples, differences.size))
    return _share_as_extreme(
        np.abs(signs @ differences) / differences.size, observed, tolerance, monte_carlo=True
    )


def _share_as_extreme(statistics: np.ndarray, observed: float, tolerance: float, monte_carlo: bool) -> float:
    """The share of resampled statistics at least as extreme as the observed one (within `tolerance`).

    Exact enumerations include the observed arrangement already; a Monte Carlo sample counts it once more, so its
    p-value is never 0 (Phipson & Smyth 2010).
    """
    extreme = int(np.sum(statistics >= observed - tolerance))
    if monte_carlo:
        return (extreme + 1) / (statistics.size + 1)
    return extreme / statistics.size


def _binomial_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1.0 - p) ** (n - i) for i in range(k + 1))


def _binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k)."""
    return sum(math.comb(n, i) * p**i * (1.0 - p) ** (n - i) for i in range(k, n + 1))


def _bisect(function, low: float, high: float, iterations: int = 100) -> float:
    """A root of an increasing `function` on [low, high]."""
    for _ in range(iterations):
        middle = (low + high) / 2.0
        if function(middle) < 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
