"""Assertions the tests share when they compare weights (numpy only: usable in any backend's subprocess).

numpy's `assert_array_equal` and `assert_allclose` count NaN as equal to NaN, so two runs that both diverged to
NaN would compare "equal". Every comparison of weights here first asserts that all of them are finite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np


def assert_finite(arrays: Sequence[Any], what: str = "weights") -> None:
    """Asserts that every entry of every array is finite (no NaN, no inf)."""
    for index, array in enumerate(arrays):
        array = np.asarray(array)
        bad = ~np.isfinite(array)
        if bad.any():
            raise AssertionError(
                f"{what}[{index}] (shape {array.shape}) has {int(bad.sum())} non-finite entries, e.g. "
                f"{array[bad].ravel()[:4].tolist()}"
            )


def assert_weights_equal(
    expected: Sequence[Any], actual: Sequence[Any], *, rtol: float = 0.0, atol: float = 0.0
) -> None:
    """Asserts both lists of arrays are finite and equal: bit for bit by default, else within rtol / atol."""
    expected, actual = [np.asarray(a) for a in expected], [np.asarray(a) for a in actual]
    assert len(expected) == len(actual), f"{len(expected)} expected arrays, {len(actual)} actual"
    assert_finite(expected, "expected")
    assert_finite(actual, "actual")
    for index, (a, b) in enumerate(zip(expected, actual)):
        message = f"array {index}"
        if rtol == 0 and atol == 0:
            np.testing.assert_array_equal(b, a, err_msg=message, strict=True)
        else:
            assert a.shape == b.shape, f"{message}: shape {b.shape} != {a.shape}"
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=message)


def weights_mismatch(
    expected: Sequence[Any], actual: Sequence[Any], *, rtol: float = 0.0, atol: float = 0.0
) -> str:
    """`assert_weights_equal` as a value for subprocess reports: "" when it passes, else its message."""
    try:
        assert_weights_equal(expected, actual, rtol=rtol, atol=atol)
    except AssertionError as error:
        return str(error) or "weights differ"
    return ""


def run_backend_script(script: str, backend: str, timeout: float = 600) -> dict[str, Any]:
    """Runs `script` in a fresh Python process with KERAS_BACKEND=`backend` (JAX on its CPU) and returns the JSON
    it printed on its last line that starts with "RESULT "; a failed process fails with its stderr's tail."""
    env = dict(os.environ, KERAS_BACKEND=backend)
    if backend == "jax":
        env["JAX_PLATFORMS"] = "cpu"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=timeout
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])
