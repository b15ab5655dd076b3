"""With the noise off (eta=0), every noisy optimizer trains exactly as its base class, on TensorFlow and on JAX.

The base classes are every optimizer class `keras.optimizers` exports (found by introspection, so an optimizer a
newer Keras adds is covered when the pin moves), plus `HalvingSGD`, a user subclass that does per-step work in
`_backend_update_step` before calling the base one, as Nadam does. The stock class is the independent code path:
for each pair the same tiny model trains STEPS steps through its train function (`train_on_batch`, the step `fit`
runs), eagerly under each clipping mode (and compiled, tf.function / jax.jit, for the classes with their own
`_backend_update_step`), and the weights must be finite, bit-for-bit equal, and moved. TensorFlow runs in this
process; JAX runs every case in one subprocess (the backend is fixed per process).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile
import traceback

import keras
import numpy as np
import pytest
from keras import ops

from keras_gradnoise import with_gradient_noise
from keras_gradnoise.testing import assert_weights_equal

STEPS, BATCH, LEARNING_RATE = 3, 8, 0.05
CLIPS = {
    "noclip": {},
    "clipnorm": {"clipnorm": 0.1},
    "global_clipnorm": {"global_clipnorm": 0.1},
    "clipvalue": {"clipvalue": 0.01},
}
# Optimizer subclasses that keras.optimizers exports but that are not update rules a noisy class can extend.
SKIPPED = {
    "Optimizer": "the abstract base class: it has no update rule of its own",
    "LossScaleOptimizer": "a wrapper that unscales and calls an inner optimizer; with_gradient_noise refuses it "
    "(wrap the noisy optimizer instead: LossScaleOptimizer(NoisyX(...)), covered in optimizers_test.py)",
    "MultiOptimizer": "a router that hands each variable to an inner optimizer, so its own update step never runs; "
    "with_gradient_noise refuses it (make the inner optimizers noisy instead)",
}


class HalvingSGD(keras.optimizers.SGD):
    """A user optimizer with per-step work in `_backend_update_step` (Nadam's pattern): it halves `half_power`
    once per update, then runs the base step, whose `update_step` divides the gradient by (1 - half_power). If the
    per-step work never runs the update is infinite (as NoisyNadam's was on TensorFlow); run twice, it differs."""

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._half_power = self.add_variable(shape=(), initializer="ones", name="half_power")

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        self.assign(self._half_power, self._half_power * 0.5)
        super()._backend_update_step(grads, trainable_variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        scale = 1.0 - ops.cast(self._half_power, gradient.dtype)
        super().update_step(gradient / scale, variable, learning_rate)


def optimizer_classes() -> dict[str, type]:
    """Every `keras.optimizers.Optimizer` subclass that `keras.optimizers` exports, and the user subclass."""
    found = {
        name: value
        for name, value in sorted(vars(keras.optimizers).items())
        if inspect.isclass(value) and issubclass(value, keras.optimizers.Optimizer)
    }
    found["HalvingSGD"] = HalvingSGD
    return found


def _has_own_update_step(optimizer_class: type) -> bool:
    return optimizer_class._backend_update_step is not keras.optimizers.Optimizer._backend_update_step


def _cases(backend: str) -> list[tuple[str, str, str]]:
    """(class name, clip, mode): every class eagerly under every clipping mode; compiled (without clipping) the
    classes with their own `_backend_update_step`, the hook whose per-step work runs under tracing there. The
    rest of a compiled step is the same Python as an eager one, and tracing one per optimizer would double the
    file's CPU time (optimizers_test.py compiles Adam and SGD under every clipping mode)."""
    cases = []
    for name, optimizer_class in optimizer_classes().items():
        cases += [(name, clip, "eager") for clip in CLIPS]
        if _has_own_update_step(optimizer_class):
            cases.append((name, "noclip", "compiled"))
    return cases


def _case_id(case: tuple[str, str, str]) -> str:
    return "-".join(case)


def _train(optimizer: keras.optimizers.Optimizer, compiled: bool) -> tuple[list, list]:
    """(initial weights, weights after STEPS train steps) of a one-layer softmax regression (a kernel and a bias,
    so global_clipnorm spans two variables); the same data every call."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS * BATCH, 4)).astype("float32")
    y = rng.integers(0, 3, STEPS * BATCH)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=not compiled,
    )
    initial = [np.array(w) for w in model.get_weights()]
    for step in range(STEPS):
        batch = slice(step * BATCH, (step + 1) * BATCH)
        model.train_on_batch(x[batch], y[batch])
    return initial, [np.array(w) for w in model.get_weights()]


def run_case(name: str, clip: str, mode: str) -> dict[str, list]:
    """Trains the stock class and its noisy class (eta=0) on the active backend; returns their weights."""
    base = optimizer_classes()[name]
    noisy = with_gradient_noise(base)
    compiled = mode == "compiled"
    initial, base_weights = _train(base(learning_rate=LEARNING_RATE, **CLIPS[clip]), compiled)
    _, noisy_weights = _train(noisy(learning_rate=LEARNING_RATE, eta=0.0, **CLIPS[clip]), compiled)
    return {"initial": initial, "base": base_weights, "noisy": noisy_weights}


def run_cases_to(directory: str, case_ids: list[str]) -> None:
    """Runs the cases on this process's backend: each one's weights to <directory>/<id>.npz, or its traceback to
    <directory>/<id>.error (one failing case does not hide the others)."""
    cases = {_case_id(case): case for case in _cases(keras.backend.backend())}
    for case_id in case_ids:
        try:
            weights = run_case(*cases[case_id])
        except Exception:
            with open(os.path.join(directory, case_id + ".error"), "w") as f:
                f.write(traceback.format_exc())
            continue
        arrays = {f"{key}_{index}": w for key, ws in weights.items() for index, w in enumerate(ws)}
        np.savez(os.path.join(directory, case_id + ".npz"), **arrays)


def _load_case(directory: str, case_id: str) -> dict[str, list]:
    error = os.path.join(directory, case_id + ".error")
    if os.path.exists(error):
        with open(error) as f:
            pytest.fail(f"the JAX run of {case_id} raised:\n{f.read()}")
    with np.load(os.path.join(directory, case_id + ".npz")) as arrays:
        weights: dict[str, list] = {}
        for key in sorted(arrays.files, key=lambda k: (k.rsplit("_", 1)[0], int(k.rsplit("_", 1)[1]))):
            weights.setdefault(key.rsplit("_", 1)[0], []).append(arrays[key])
    return weights


def _params() -> list:
    params = [
        pytest.param(backend, case, id=f"{_case_id(case)}-{backend}")
        for backend in ("tensorflow", "jax")
        for case in _cases(backend)
        if case[0] not in SKIPPED
    ]
    return params


def test_the_classes_left_out_have_no_update_rule_to_compare():
    """The exported classes without a comparison (SKIPPED) are exactly these three, and for each the reason holds:
    the abstract base has no update step, and with_gradient_noise refuses the two wrappers."""
    import keras

    from keras_gradnoise import with_gradient_noise

    assert set(SKIPPED) <= set(optimizer_classes())
    with pytest.raises(NotImplementedError):
        keras.optimizers.Optimizer(learning_rate=0.1).update_step(None, None, None)
    for name in ("LossScaleOptimizer", "MultiOptimizer"):
        with pytest.raises(ValueError, match="cannot wrap"):
            with_gradient_noise(getattr(keras.optimizers, name))


@pytest.fixture(scope="module")
def jax_directory():
    """Runs every (not skipped) case on JAX in one subprocess; yields the directory of results."""
    case_ids = [_case_id(case) for case in _cases("jax") if case[0] not in SKIPPED]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    with tempfile.TemporaryDirectory() as directory:
        script = (
            "import json, sys, keras\n"
            "assert keras.backend.backend() == 'jax'\n"
            "from keras_gradnoise.equivalence_test import run_cases_to\n"
            "run_cases_to(sys.argv[1], json.loads(sys.argv[2]))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, directory, json.dumps(case_ids)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        yield directory


@pytest.mark.parametrize("backend,case", _params())
def test_eta_zero_equals_the_base_class_bit_for_bit(backend, case, request):
    if backend == "tensorflow":
        assert keras.backend.backend() == "tensorflow"
        weights = run_case(*case)
    else:
        weights = _load_case(request.getfixturevalue("jax_directory"), _case_id(case))
    assert_weights_equal(weights["base"], weights["noisy"])  # finite, and bit for bit
    moved = [not np.array_equal(a, b) for a, b in zip(weights["initial"], weights["base"])]
    assert any(moved), "the base optimizer changed no weight"


def test_introspection_finds_the_keras_optimizers():
    classes = optimizer_classes()
    # The classes keras_gradnoise exports a noisy version of are among them.
    import keras_gradnoise

    exported = {name[len("Noisy") :] for name in keras_gradnoise.__all__ if name.startswith("Noisy")}
    assert exported <= set(classes), exported - set(classes)
    assert {"Nadam", "Adam", "SGD", "Optimizer", "LossScaleOptimizer"} <= set(classes)
