"""Assertions the tests share when they compare weights (numpy only: usable in any backend's subprocess).

numpy's `assert_array_equal` and `assert_allclose` count NaN as equal to NaN, so two runs that both diverged to
NaN would compare "equal". Every comparison of weights here first asserts that all of them are finite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
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


# What every backend's subprocess test checks (see `backend_script`).
_SHARED_BACKEND_CHECKS = """
import json, os, tempfile
import numpy as np
import keras
from keras import ops
from keras_gradnoise import NoisyAdam, NoisySGD
from keras_gradnoise.testing import weights_mismatch

out = {}
n = 20000

# Variance at several steps, inside the backend's own train step (model.fit).
variances = {}
for steps in (1, 4):
    model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=NoisySGD(learning_rate=1.0, eta=0.3, seed=2), loss="mse")
    model.fit(np.zeros((steps, n), "float32"), np.ones((steps, 1), "float32"), batch_size=1, verbose=0)
    variances[steps] = float(np.var(ops.convert_to_numpy(model.layers[0].kernel)))
    out[f"noise_step_{steps}"] = int(ops.convert_to_numpy(model.optimizer.noise_step))
out["variances"] = variances

data_rng = np.random.default_rng(0)
x, y = data_rng.standard_normal((64, 6)).astype("float32"), data_rng.integers(0, 3, 64)

def small(optimizer):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model

# Save, load, resume: bit-identical to an uninterrupted run.
straight = small(NoisyAdam(0.01, eta=0.3, seed=4)); straight.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
first = small(NoisyAdam(0.01, eta=0.3, seed=4)); first.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
path = os.path.join(tempfile.mkdtemp(), "m.keras")
first.save(path)
resumed = keras.saving.load_model(path)
resumed.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
out["resume_mismatch"] = weights_mismatch(straight.get_weights(), resumed.get_weights())
out["noise_differs_per_step"] = not np.array_equal(straight.get_weights()[0], first.get_weights()[0])

# The noise of one update, for comparison with TensorFlow's (the same generator on every backend).
optimizer = NoisySGD(1.0, eta=1.0, gamma=0.0, seed=13)
variable = keras.Variable(np.zeros(1000, "float32"))
optimizer.build([variable])
optimizer.noise_step.assign(2)
optimizer.apply([np.zeros(1000, "float32")], [variable])
out["noise_seed13_step2"] = (-ops.convert_to_numpy(variable)).tolist()
"""


def assert_noise_variance(results: dict[str, Any]) -> None:
    """Asserts the noise `backend_script`'s shared checks measured: after t steps of eta 0.3, gamma 0.55 the
    kernel's variance is sum over s < t of 0.3 / (1 + s)^0.55, and the optimizer counted t noise steps."""
    # 6 standard errors of a variance estimated from 20,000 samples: a false alarm is practically impossible.
    tolerance = 6 * (2 / 20000) ** 0.5
    for steps, variance in results["variances"].items():
        expected = sum(0.3 / (1 + t) ** 0.55 for t in range(int(steps)))
        assert abs(variance - expected) <= tolerance * expected, (steps, variance, expected)
    assert results["noise_step_1"] == 1 and results["noise_step_4"] == 4, results


def backend_script(backend: str, checks: str) -> str:
    """The script of a backend's subprocess test (`run_backend_script`): the checks every backend shares, then
    `checks`, then the line "RESULT " + the JSON of `out`.

    The shared checks fill `out` with "variances" and "noise_step_1" / "noise_step_4" (the noise after 1 and 4
    steps of `fit`), "resume_mismatch" and "noise_differs_per_step" (save, load, resume an Adam run) and
    "noise_seed13_step2" (one update's noise). `checks` (dedented here) adds its own keys to `out` and may use
    `small(optimizer)`, a seeded small classifier compiled with `optimizer`, and its data `x, y`.
    """
    # The backend is checked first: a KERAS_BACKEND that did not take would make every number meaningless.
    check_backend = f"import keras\nassert keras.backend.backend() == {backend!r}, keras.backend.backend()\n"
    finish = 'print("RESULT " + json.dumps(out))\n'
    return check_backend + _SHARED_BACKEND_CHECKS + textwrap.dedent(checks) + finish
