"""The 0.2 features inside JAX's jitted, stateless train step (model.fit), in a subprocess: variables excluded
from the noise, and the GatedNoise gate written by NoiseGateCallback (at epoch ends and mid-epoch, where JAX's fit
keeps the variables in its own state), saved and resumed."""

import textwrap

import pytest

from keras_gradnoise.testing import run_backend_script

SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax"
    import os, tempfile
    from keras_gradnoise import AnnealedNoise, GatedNoise, NoiseGateCallback, NoisySGD
    from keras_gradnoise.testing import weights_mismatch

    out = {}
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6)).astype("float32"), rng.integers(0, 3, 32)

    def one_step(eta, exclude=None):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, name="hidden"),
                                  keras.layers.BatchNormalization(name="bn"), keras.layers.Activation("relu"),
                                  keras.layers.Dense(3, activation="softmax", name="predictions")])
        optimizer = NoisySGD(0.1, momentum=0.9, eta=eta, gamma=0.0, seed=6)
        if exclude:
            optimizer.exclude_from_gradient_noise(var_names=exclude)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)  # one update: same gradients in all
        return {v.path.split("/", 1)[-1]: np.asarray(v.value) for v in model.trainable_variables}

    noisy, noiseless, mixed = one_step(0.3), one_step(0.0), one_step(0.3, ["bn/"])
    out["excluded"] = sorted(k for k in mixed if k.startswith("bn/"))
    out["excluded_mismatch"] = weights_mismatch([noiseless[k] for k in out["excluded"]],
                                                [mixed[k] for k in out["excluded"]])
    others = sorted(k for k in mixed if not k.startswith("bn/"))
    out["others_mismatch"] = weights_mismatch([noisy[k] for k in others], [mixed[k] for k in others])
    out["noise_was_real"] = all(bool(np.all(noisy[k] != noiseless[k])) for k in mixed)

    # GatedNoise: all-zero inputs give the kernel a zero gradient, so lr=1 steps move it by minus the noise.
    n = 20000

    class SetLog(keras.callbacks.Callback):
        def __init__(self, value, per_batch):
            super().__init__()
            self.value, self.per_batch = value, per_batch
        def on_train_batch_end(self, batch, logs=None):
            if self.per_batch:
                logs["m"] = self.value
        def on_epoch_end(self, epoch, logs=None):
            if not self.per_batch:
                logs["m"] = self.value

    class Kernels(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.kernels = []
        def on_epoch_end(self, epoch, logs=None):  # JAX's fit syncs the variables before epoch ends
            self.kernels.append(np.asarray(self.model.layers[0].kernel.value).ravel().copy())

    def gated_fit(steps, epochs, callbacks):
        model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(1, kernel_initializer="zeros")])
        optimizer = NoisySGD(1.0, noise_schedule=GatedNoise(AnnealedNoise(0.3, gamma=0.0)), seed=2)
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(np.zeros((steps, n), "float32"), np.ones((steps, 1), "float32"), batch_size=1, epochs=epochs,
                  shuffle=False, verbose=0, callbacks=callbacks)
        return model

    # Epoch end: the gate 0.25 written after epoch 0 scales epoch 1's noise std by 0.5.
    kernels = Kernels()
    gated_fit(1, 2, [SetLog(0.25, per_batch=False), NoiseGateCallback("m"), kernels])
    out["gated_epoch1_variance"] = float(np.var(kernels.kernels[1].astype("float64") - kernels.kernels[0]))
    # Mid-epoch: gate 0 written after every step, so 4 steps move the kernel exactly as much as the first alone.
    one = gated_fit(1, 1, [])
    four = gated_fit(4, 1, [SetLog(0.0, per_batch=True), NoiseGateCallback("m", every_n_steps=1)])
    # (the kernel only: the bias has a gradient)
    out["gated_mid_epoch_mismatch"] = weights_mismatch(one.get_weights()[:1], four.get_weights()[:1])
    out["gated_four_steps"] = int(np.asarray(four.optimizer.noise_step.value))

    # Save, load, resume with the gate driven by the loss: bit-identical to an uninterrupted run.
    def small_gated():
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
        optimizer = NoisySGD(0.05, momentum=0.9, noise_schedule=GatedNoise(AnnealedNoise(0.3)), seed=3)
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    def fit_gated(model, epochs, initial_epoch=0):
        model.fit(x, y, batch_size=8, epochs=epochs, initial_epoch=initial_epoch, shuffle=False, verbose=0,
                  callbacks=[NoiseGateCallback("loss", every_n_steps=3)])

    straight = small_gated(); fit_gated(straight, 4)
    first = small_gated(); fit_gated(first, 2)
    path = os.path.join(tempfile.mkdtemp(), "m.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    out["gate_saved"] = first.optimizer.noise_schedule.gate_value()
    out["gate_loaded"] = resumed.optimizer.noise_schedule.gate_value()
    fit_gated(resumed, 4, initial_epoch=2)
    out["gated_resume_mismatch"] = weights_mismatch(straight.get_weights(), resumed.get_weights())

    # track_gradient_rms inside JAX's stateless step: two batches at w ~ 0 (lr 1e-9), whose mse gradients are
    # -2/16 x_b^T y_b; the epoch's RMS is the root of their entries' mean square, averaged over the two.
    xr, yr = rng.standard_normal((32, 6)).astype("float32"), rng.standard_normal((32, 1)).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=NoisySGD(1e-9, noise_std=1e-9, seed=0, track_gradient_rms=True), loss="mse")
    from keras_gradnoise import NoiseStddevLogger
    history = model.fit(xr, yr, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[NoiseStddevLogger()])
    grads = [-2.0 / 16 * xr[b:b + 16].T @ yr[b:b + 16] for b in (0, 16)]
    out["gradient_rms"] = history.history["gradient_rms"][0]
    out["gradient_rms_expected"] = float(np.sqrt(np.mean([np.mean(g ** 2) for g in grads])))
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def jax_results():
    return run_backend_script(SCRIPT, "jax")


def test_jax_excluded_variables_get_the_noiseless_update(jax_results):
    assert jax_results["excluded"] == ["bn/beta", "bn/gamma"]
    assert jax_results["excluded_mismatch"] == "" and jax_results["others_mismatch"] == ""
    assert jax_results["noise_was_real"]


def test_jax_gate_sets_the_std_and_resumes_exactly(jax_results):
    expected = 0.3 * 0.25  # variance = eta * gate (exponent 0.5 on the std)
    assert jax_results["gated_epoch1_variance"] == pytest.approx(expected, rel=6 * (2 / 20000) ** 0.5)
    assert jax_results["gated_mid_epoch_mismatch"] == "" and jax_results["gated_four_steps"] == 4
    assert jax_results["gate_saved"] != 1.0 and jax_results["gate_loaded"] == jax_results["gate_saved"]
    assert jax_results["gated_resume_mismatch"] == ""


def test_jax_gradient_rms_is_tracked_inside_the_jitted_step(jax_results):
    assert jax_results["gradient_rms"] == pytest.approx(jax_results["gradient_rms_expected"], rel=1e-4)
