"""The torch backend, in a subprocess: the generator's int64 form gives the bits of the plain-Python reference
(and so TensorFlow's and JAX's numbers), and the noisy optimizers keep their guarantees inside Keras' torch fit.

Needs torch (the CPU build, torch==2.13.0, is in the test extras): a missing torch fails, it does not skip.
The int64 form itself is also checked on TensorFlow by rng_test.py, which always runs.
"""

import importlib.util

import numpy as np
import pytest

from keras_gradnoise.rng_test import py_bits
from keras_gradnoise.testing import assert_noise_variance, backend_script, run_backend_script

# Beside the checks every backend shares (keras_gradnoise.testing.backend_script): the generator's bits, eta = 0
# against Keras' fused torch optimizers, exclusion and the noise gate.
SCRIPT = backend_script(
    "torch",
    """
    from keras_gradnoise import backend, rng
    out["bits"] = ops.convert_to_numpy(rng.random_bits(64, 7, 123456, 2**32 - 64, wide=True)).tolist()
    out["bits_through_backend"] = ops.convert_to_numpy(backend.standard_normal(8, 2**31 - 1, 2**31 - 1)).tolist()

    # eta = 0 is the stock optimizer bit for bit: on torch that is Keras' fused (torch._foreach) implementation.
    mismatches = {}
    for stock, noisy in ((keras.optimizers.Adam, NoisyAdam), (keras.optimizers.SGD, NoisySGD)):
        kwargs = {"momentum": 0.9} if stock is keras.optimizers.SGD else {}
        a = small(stock(0.05, global_clipnorm=0.1, **kwargs)); a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        b = small(noisy(0.05, eta=0.0, global_clipnorm=0.1, **kwargs)); b.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        mismatches[stock.__name__] = weights_mismatch(a.get_weights(), b.get_weights())
        mismatches[stock.__name__ + "_fused_base"] = type(a.optimizer) in type(b.optimizer).__mro__
    out["eta0"] = mismatches

    # Every variable excluded from the noise: the eta = 0 optimizer's run, bit for bit.
    excluded = NoisySGD(0.05, momentum=0.9, eta=0.3, seed=1)
    excluded.exclude_from_gradient_noise(var_names=["/"])
    c = small(excluded); c.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    d = small(NoisySGD(0.05, momentum=0.9, eta=0.0)); d.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    out["exclude_all_mismatch"] = weights_mismatch(d.get_weights(), c.get_weights())

    # A GatedNoise gate of 0, written at the end of epoch 0, stops the noise in epoch 1 exactly.
    from keras_gradnoise import AnnealedNoise, GatedNoise, NoiseGateCallback

    class ZeroMetric(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["m"] = 0.0
            self.kernels = getattr(self, "kernels", []) + [ops.convert_to_numpy(self.model.layers[0].kernel).copy()]

    model = keras.Sequential([keras.Input((50,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=NoisySGD(1.0, noise_schedule=GatedNoise(AnnealedNoise(0.3)), seed=2), loss="mse")
    record = ZeroMetric()
    model.fit(np.zeros((1, 50), "float32"), np.ones((1, 1), "float32"), epochs=2, verbose=0,
              callbacks=[record, NoiseGateCallback("m")])
    out["gated"] = [bool(np.any(record.kernels[0] != 0)), weights_mismatch([record.kernels[0]], [record.kernels[1]])]
    """,
)


@pytest.fixture(scope="module")
def torch_results():
    assert importlib.util.find_spec("torch") is not None, "torch is missing: pip install -e .[test]"
    return run_backend_script(SCRIPT, "torch")


def test_torch_bits_equal_the_plain_python_generator(torch_results):
    assert torch_results["bits"] == [py_bits(7, 123456, 2**32 - 64 + i) for i in range(64)]


def test_torch_draws_the_same_noise_as_tensorflow(torch_results):
    from keras import ops

    from keras_gradnoise import NoisySGD, backend
    from keras_gradnoise.optimizers_test import noise_only_update
    from keras_gradnoise.testing import assert_weights_equal

    # The bits are equal; torch's float32 erfinv differs from XLA's by up to 5.8e-6 relative (2.2e-5 absolute,
    # at |z| = 3.8) over a million samples, measured when this test was written.
    tensorflow_noise = noise_only_update(NoisySGD(1.0, eta=1.0, gamma=0.0, seed=13), n=1000, step=2)
    torch_noise = np.float32(torch_results["noise_seed13_step2"])
    assert_weights_equal([tensorflow_noise], [torch_noise], rtol=2e-5, atol=1e-6)
    tensorflow_sample = ops.convert_to_numpy(backend.standard_normal(8, 2**31 - 1, 2**31 - 1))
    assert_weights_equal([tensorflow_sample], [np.float32(torch_results["bits_through_backend"])], rtol=2e-5)


def test_torch_noise_variance(torch_results):
    assert_noise_variance(torch_results)


def test_torch_eta_zero_and_resume_are_exact(torch_results):
    assert torch_results["eta0"] == {"Adam": "", "Adam_fused_base": True, "SGD": "", "SGD_fused_base": True}
    assert torch_results["resume_mismatch"] == "" and torch_results["noise_differs_per_step"]


def test_torch_exclusion_and_gate(torch_results):
    assert torch_results["exclude_all_mismatch"] == ""
    assert torch_results["gated"] == [True, ""]  # noise in epoch 0, none after the gate became 0
