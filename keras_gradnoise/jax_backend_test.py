"""The same guarantees on the JAX backend (the lent GPU machines have JAX, not TensorFlow), in a subprocess."""

import numpy as np
import pytest

from keras_gradnoise.testing import assert_noise_variance, backend_script, run_backend_script

# Beside the checks every backend shares (keras_gradnoise.testing.backend_script): eta = 0 and gradient
# accumulation.
SCRIPT = backend_script(
    "jax",
    """
    # eta = 0 equals the base optimizer bit for bit (clipping moved, but the same arithmetic).
    a = small(keras.optimizers.Adam(0.05, global_clipnorm=0.1)); a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    b = small(NoisyAdam(0.05, eta=0.0, global_clipnorm=0.1)); b.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    out["eta0_mismatch"] = weights_mismatch(a.get_weights(), b.get_weights())  # "": finite and bit for bit

    # Gradient accumulation: noise once per real update (same as a plain run with the averaged gradient).
    results = []
    for optimizer, calls in ((NoisySGD(1.0, eta=1.0, seed=7, gradient_accumulation_steps=2), 4),
                             (NoisySGD(1.0, eta=1.0, seed=7), 2)):
        model = keras.Sequential([keras.Input((50,)), keras.layers.Dense(1, kernel_initializer="zeros")])
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(np.zeros((calls, 50), "float32"), np.ones((calls, 1), "float32"), batch_size=1, shuffle=False, verbose=0)
        results.append(ops.convert_to_numpy(model.layers[0].kernel))
        out.setdefault("accumulation_noise_steps", []).append(int(ops.convert_to_numpy(optimizer.noise_step)))
    out["accumulation_mismatch"] = weights_mismatch([results[1]], [results[0]])
    """,
)


@pytest.fixture(scope="module")
def jax_results():
    return run_backend_script(SCRIPT, "jax")


def test_jax_noise_variance(jax_results):
    assert_noise_variance(jax_results)


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
