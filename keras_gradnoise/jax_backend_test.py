"""The same guarantees on the JAX backend (the lent GPU machines have JAX, not TensorFlow), in a subprocess."""

import textwrap

import numpy as np
import pytest

from keras_gradnoise.testing import run_backend_script

SCRIPT = textwrap.dedent(
    """
    import json, math, os, tempfile
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax"
    from keras_gradnoise import NoisyAdam, NoisySGD
    from keras_gradnoise.testing import weights_mismatch

    out = {}
    n = 20000

    # Variance at several steps, inside JAX's jitted, stateless train step (model.fit).
    variances = {}
    for steps in (1, 4):
        model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(1, kernel_initializer="zeros")])
        model.compile(optimizer=NoisySGD(learning_rate=1.0, eta=0.3, seed=2), loss="mse")
        model.fit(np.zeros((steps, n), "float32"), np.ones((steps, 1), "float32"), batch_size=1, verbose=0)
        variances[steps] = float(np.var(np.asarray(model.layers[0].kernel.value)))
        out[f"noise_step_{steps}"] = int(np.asarray(model.optimizer.noise_step.value))
    out["variances"] = variances

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 6)).astype("float32"), rng.integers(0, 3, 64)

    def small(optimizer):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        return model

    # eta = 0 equals the base optimizer bit for bit (clipping moved, but the same arithmetic).
    a = small(keras.optimizers.Adam(0.05, global_clipnorm=0.1)); a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    b = small(NoisyAdam(0.05, eta=0.0, global_clipnorm=0.1)); b.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    out["eta0_mismatch"] = weights_mismatch(a.get_weights(), b.get_weights())  # "": finite and bit for bit

    # Save, load, resume: bit-identical to an uninterrupted run.
    straight = small(NoisyAdam(0.01, eta=0.3, seed=4)); straight.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
    first = small(NoisyAdam(0.01, eta=0.3, seed=4)); first.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    path = os.path.join(tempfile.mkdtemp(), "m.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    resumed.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    out["resume_mismatch"] = weights_mismatch(straight.get_weights(), resumed.get_weights())
    out["noise_differs_per_step"] = not np.array_equal(straight.get_weights()[0], first.get_weights()[0])

    # Gradient accumulation: noise once per real update (same as a plain run with the averaged gradient).
    results = []
    for optimizer, calls in ((NoisySGD(1.0, eta=1.0, seed=7, gradient_accumulation_steps=2), 4),
                             (NoisySGD(1.0, eta=1.0, seed=7), 2)):
        model = keras.Sequential([keras.Input((50,)), keras.layers.Dense(1, kernel_initializer="zeros")])
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(np.zeros((calls, 50), "float32"), np.ones((calls, 1), "float32"), batch_size=1, shuffle=False, verbose=0)
        results.append(np.asarray(model.layers[0].kernel.value))
        out.setdefault("accumulation_noise_steps", []).append(int(np.asarray(optimizer.noise_step.value)))
    out["accumulation_mismatch"] = weights_mismatch([results[1]], [results[0]])

    # The noise of one update, for comparison with TensorFlow's (the same generator on both backends).
    optimizer = NoisySGD(1.0, eta=1.0, gamma=0.0, seed=13)
    variable = keras.Variable(np.zeros(1000, "float32"))
    optimizer.build([variable])
    optimizer.noise_step.assign(2)
    optimizer.apply([np.zeros(1000, "float32")], [variable])
    out["noise_seed13_step2"] = (-np.asarray(variable.value)).tolist()
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def jax_results():
    return run_backend_script(SCRIPT, "jax")


def test_jax_noise_variance(jax_results):
    tolerance = 6 * (2 / 20000) ** 0.5
    for steps, variance in jax_results["variances"].items():
        expected = sum(0.3 / (1 + t) ** 0.55 for t in range(int(steps)))
        assert variance == pytest.approx(expected, rel=tolerance)
    assert jax_results["noise_step_1"] == 1 and jax_results["noise_step_4"] == 4


def test_jax_eta_zero_and_resume_are_exact(jax_results):
    assert jax_results["eta0_mismatch"] == ""
    assert jax_results["resume_mismatch"] == "" and jax_results["noise_differs_per_step"]


def test_jax_gradient_accumulation(jax_results):
    assert jax_results["accumulation_mismatch"] == ""
    assert jax_results["accumulation_noise_steps"] == [2, 2]


def test_jax_draws_the_same_noise_as_tensorflow(jax_results):
    from keras_gradnoise import NoisySGD
    from keras_gradnoise.optimizers_test import noise_only_update
    from keras_gradnoise.testing import assert_weights_equal

    tensorflow_noise = noise_only_update(NoisySGD(1.0, eta=1.0, gamma=0.0, seed=13), n=1000, step=2)
    jax_noise = np.float32(jax_results["noise_seed13_step2"])
    assert_weights_equal([tensorflow_noise], [jax_noise], rtol=1e-6, atol=1e-7)
