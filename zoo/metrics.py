"""Test-accuracy summaries of a table row's restarts, shared by the image classifiers (deep_mlp, resnet).

Plain Python on results.json dicts: no Keras, so a paper table's spec imports it cheaply.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

BEST = "best test accuracy %"
MEAN = "mean test accuracy %"
STD = "std %"


def test_accuracy_percent(result: dict[str, Any]) -> float:
    """One run's final test accuracy in %; a run without a finite accuracy (diverged) counts as 0."""
    value = result.get("metrics", {}).get("test_accuracy")
    return 100.0 * value if isinstance(value, (int, float)) and math.isfinite(value) else 0.0


def summarize_accuracy(results: Sequence[dict[str, Any]], with_std: bool = False) -> dict[str, float]:
    """Best and mean final test accuracy (in %) over restarts, and with `with_std` their standard deviation.

    Args:
        results: the restarts' results.json dicts; each has results["metrics"]["test_accuracy"] in [0, 1]. A run
            without a finite accuracy counts as 0 (`test_accuracy_percent`).
        with_std: also return STD, the sample standard deviation (NaN with a single restart).

    Returns:
        {BEST, MEAN} (and STD); NaN for every value when `results` is empty.
    """
    values = [test_accuracy_percent(result) for result in results]
    keys = (BEST, MEAN, STD) if with_std else (BEST, MEAN)
    if not values:
        return dict.fromkeys(keys, math.nan)
    summary = {BEST: max(values), MEAN: statistics.fmean(values)}
    if with_std:
        summary[STD] = statistics.stdev(values) if len(values) > 1 else math.nan
    return summary
