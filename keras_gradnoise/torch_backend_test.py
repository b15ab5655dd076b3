"""The torch backend, in a subprocess: the generator's int64 form gives the bits of the plain-Python reference
(and so TensorFlow's and JAX's numbers), and the noisy optimizers keep their guarantees inside Keras' torch fit.

Needs torch (the CPU build, torch==2.13.0, is in the test extras): a missing torch fails, it does not skip.
The int64 form itself is also checked on TensorFlow by rng_test.py, which always runs.
"""

import importlib.util
import textwrap

import numpy as np
import pytest

from keras_gradnoise.rng_test import py_bits
from keras_gradnoise.testing import run_backend_script

SCRIPT = textwrap.dedent(
    """
    import json, os, tempfile
    import numpy as np
    import keras
    assert keras.backend.backend() == "torch"
    from keras import ops
    from keras_gradnoise import NoisyAdam, NoisySGD, backend, rng
    from keras_gradnoise.testing import weights_mismatch

    out = {"bits": ops.convert_to_numpy(rng.random_bits(64, 7, 123456, 2**32 - 64, wide=True)).tolist()}
    out["bits_through_backend"] = ops.convert_to_numpy(backend.standard_normal(8, 2**31 - 1, 2**31 - 1)).tolist()
    n = 20000
    variances = {}
    for steps in (1, 4):
        model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(1, kernel_initializer="zeros")])
        model.compile(optimizer=NoisySGD(learning_rate=1.0, eta=0.3, seed=2), loss="mse")
        model.fit(np.zeros((steps, n), "float32"), np.ones((steps, 1), "float32"), batch_size=1, verbose=0)
        variances[steps] = float(np.var(ops.convert_to_numpy(model.layers[0].kernel)))
        out[f"noise_step_{steps}"] = int(ops.convert_to_numpy(model.optimizer.noise_step))
    out["variances"] = variances

    rng_ = np.random.default_rng(0)
    x, y = rng_.standard_normal((64, 6)).astype("float32"), rng_.integers(0, 3, 64)

    def small(optimizer):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        return model

    # eta = 0 is the stock optimizer bit for bit: on torch that is Keras' fused (torch._foreach) implementation.
    mismatches = {}
    for stock, noisy in ((keras.optimizers.Adam, NoisyAdam), (keras.optimizers.SGD, NoisySGD)):
        kwargs = {"momentum": 0.9} if stock is keras.optimizers.SGD else {}
        a = small(stock(0.05, global_clipnorm=0.1, **kwargs)); a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        b = small(noisy(0.05, eta=0.0, global_clipnorm=0.1, **kwargs)); b.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        mismatches[stock.__name__] = weights_mismatch(a.get_weights(), b.get_weights())
        mismatches[stock.__name__ + "_fused_base"] = type(a.optimizer) in type(b.optimizer).__mro__
    out["eta0"] = mismatches

    straight = small(NoisyAdam(0.01, eta=0.3, seed=4)); straight.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
    first = small(NoisyAdam(0.01, eta=0.3, seed=4)); first.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    path = os.path.join(tempfile.mkdtemp(), "m.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    resumed.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    out["resume_mismatch"] = weights_mismatch(straight.get_weights(), resumed.get_weights())
    out["noise_differs_per_step"] = not np.array_equal(straight.get_weights()[0], first.get_weights()[0])

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

    optimizer = NoisySGD(1.0, eta=1.0, gamma=0.0, seed=13)
    variable = keras.Variable(np.zeros(1000, "float32"))
    optimizer.build([variable])
    optimizer.noise_step.assign(2)
    optimizer.apply([np.zeros(1000, "float32")], [variable])
    out["noise_seed13_step2"] = (-ops.convert_to_numpy(variable)).tolist()
    print("RESULT " + json.dumps(out))
    """
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
    tolerance = 6 * (2 / 20000) ** 0.5
    for steps, variance in torch_results["variances"].items():
        expected = sum(0.3 / (1 + t) ** 0.55 for t in range(int(steps)))
        assert variance == pytest.approx(expected, rel=tolerance)
    assert torch_results["noise_step_1"] == 1 and torch_results["noise_step_4"] == 4


def test_torch_eta_zero_and_resume_are_exact(torch_results):
    assert torch_results["eta0"] == {"Adam": "", "Adam_fused_base": True, "SGD": "", "SGD_fused_base": True}
    assert torch_results["resume_mismatch"] == "" and torch_results["noise_differs_per_step"]


def test_torch_exclusion_and_gate(torch_results):
    assert torch_results["exclude_all_mismatch"] == ""
    assert torch_results["gated"] == [True, ""]  # noise in epoch 0, none after the gate became 0
