"""GatedNoise and NoiseGateCallback (TensorFlow; jax_features_test.py runs the same inside JAX's train step).

Statistical checks use n = 50,000 noise entries and 6-standard-error bounds, as optimizers_test.py does. Most
checks use gates of 0, whose noise is exactly zero, so that "the gate was (not) applied" is an exact comparison.
"""

import math
import os

import keras
import numpy as np
import pytest

from keras_gradnoise import (
    AnnealedNoise,
    ConstantNoise,
    GatedNoise,
    NoiseGateCallback,
    NoiseStddevLogger,
    NoisySGD,
)
from keras_gradnoise.optimizers_test import N, assert_std
from keras_gradnoise.testing import assert_weights_equal

ETA = 0.3


def _gated_sgd(initial_gate=1.0, exponent=0.5, seed=1):
    schedule = GatedNoise(AnnealedNoise(ETA, gamma=0.0), initial_gate=initial_gate, exponent=exponent)
    return NoisySGD(learning_rate=1.0, noise_schedule=schedule, seed=seed)


def _noise_with_gate(optimizer, gate, n=N):
    """The update of one zero-gradient, lr=1 SGD step (= minus the noise) after writing the gate."""
    variable = keras.Variable(np.zeros(n, "float32"))
    optimizer.build([variable])
    if gate is not None:
        optimizer.noise_schedule.set_gate(gate)
    optimizer.apply([np.zeros(n, "float32")], [variable])
    return -variable.numpy()


@pytest.mark.parametrize("gate,exponent", [(None, 0.5), (0.25, 0.5), (4.0, 0.5), (0.25, 1.0)])
def test_std_is_the_base_std_times_the_gate_to_the_exponent(gate, exponent):
    noise = _noise_with_gate(_gated_sgd(initial_gate=1.0, exponent=exponent), gate)
    assert_std(noise, math.sqrt(ETA) * (1.0 if gate is None else gate) ** exponent)


def test_a_zero_gate_is_the_noiseless_update_and_the_gate_keeps_the_sample():
    gradient = np.random.default_rng(0).standard_normal(1000).astype("float32")
    updates = []
    for optimizer, gate in ((_gated_sgd(), 0.0), (NoisySGD(learning_rate=1.0, eta=0.0), None)):
        variable = keras.Variable(np.zeros(1000, "float32"))
        optimizer.build([variable])
        if gate is not None:
            optimizer.noise_schedule.set_gate(gate)
        optimizer.apply([gradient], [variable])
        updates.append(variable.numpy())
    assert_weights_equal(updates[1], updates[0])
    # A gate scales the same sample the base schedule draws (seed, step): gate 4 with exponent 0.5 doubles it.
    plain = _noise_with_gate(NoisySGD(learning_rate=1.0, eta=ETA, gamma=0.0, seed=1), None, n=1000)
    doubled = _noise_with_gate(_gated_sgd(), 4.0, n=1000)
    assert_weights_equal([2 * plain], [doubled], rtol=1e-6)


class SetLog(keras.callbacks.Callback):
    """Puts values[i] into logs["m"] at the i-th batch end (per_batch) or i-th epoch end; records the gate."""

    def __init__(self, values, per_batch):
        super().__init__()
        self.values, self.per_batch, self.count = values, per_batch, 0

    def _set(self, logs):
        logs["m"] = self.values[self.count]
        self.count += 1

    def on_train_batch_end(self, batch, logs=None):
        if self.per_batch:
            self._set(logs)

    def on_epoch_end(self, epoch, logs=None):
        if not self.per_batch:
            self._set(logs)


class Record(keras.callbacks.Callback):
    """After each batch: the kernel and the gate (runs after NoiseGateCallback)."""

    def __init__(self):
        super().__init__()
        self.kernels, self.gates = [np.zeros(N, "float32")], []

    def on_train_batch_end(self, batch, logs=None):
        self.kernels.append(self.model.layers[0].kernel.numpy().ravel().copy())
        self.gates.append(self.model.optimizer.noise_schedule.gate_value())


def _fit_zero_gradient(callbacks, steps_per_epoch, epochs, optimizer=None):
    # All-zero inputs: the kernel's gradient is exactly 0, so each lr=1 step moves it by minus the step's noise.
    model = keras.Sequential([keras.Input((N,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=optimizer or _gated_sgd(), loss="mse")
    x, y = np.zeros((steps_per_epoch, N), "float32"), np.ones((steps_per_epoch, 1), "float32")
    return model.fit(x, y, batch_size=1, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)


def test_the_epoch_end_metric_sets_the_next_epochs_std():
    record = Record()
    history = _fit_zero_gradient(
        [SetLog([0.25, 0.0, 0.0], per_batch=False), NoiseGateCallback("m"), NoiseStddevLogger(), record], 1, 3
    )
    steps = np.diff(np.array(record.kernels, "float64"), axis=0)
    assert_std(steps[0], math.sqrt(ETA))  # the initial gate, 1
    assert_std(steps[1], math.sqrt(ETA) * 0.5)  # gate 0.25 from epoch 0's metric
    assert np.all(steps[2] == 0)  # gate 0 from epoch 1's metric: exactly no noise
    np.testing.assert_allclose(history.history["noise_stddev"], [math.sqrt(ETA) * 0.5, 0.0, 0.0], rtol=1e-6)


def test_every_n_steps_writes_after_every_nth_step_counted_across_epochs():
    record = Record()
    values = [1.0, 0.0, 3.0, 0.0, 5.0, 6.0]  # the metric logged after global steps 1..6
    _fit_zero_gradient(
        [SetLog(values, per_batch=True), NoiseGateCallback("m", every_n_steps=2), record], 3, 2
    )
    # Steps 2, 4 and 6 write (the third step of epoch 0 is global step 3; epoch 1 starts at iterations = 3).
    assert record.gates == [1.0, 0.0, 0.0, 0.0, 0.0, 6.0]
    steps = np.diff(np.array(record.kernels, "float64"), axis=0)
    assert np.all(steps[0] != 0) and np.all(steps[1] != 0)  # gate 1 (a write after step 1 would zero step 2)
    assert all(np.all(steps[i] == 0) for i in (2, 3, 4, 5))  # gate 0 written after step 2, then again after 4


def test_save_load_resume_keeps_the_gate_bit_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 6)).astype("float32"), rng.integers(0, 3, 64)

    def compiled():
        keras.utils.set_random_seed(5)
        model = keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
        )
        schedule = GatedNoise(AnnealedNoise(ETA))
        model.compile(
            optimizer=NoisySGD(0.05, momentum=0.9, noise_schedule=schedule, seed=3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    def fit(model, epochs, initial_epoch=0):
        gate = NoiseGateCallback("loss")
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=epochs,
            initial_epoch=initial_epoch,
            shuffle=False,
            verbose=0,
            callbacks=[gate],
        )

    straight = compiled()
    fit(straight, 4)
    first = compiled()
    fit(first, 2)
    gate = first.optimizer.noise_schedule.gate_value()
    assert gate != 1.0  # the loss was written
    path = os.path.join(tmp_path, "model.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    assert isinstance(resumed.optimizer.noise_schedule, GatedNoise)
    assert resumed.optimizer.noise_schedule.gate_value() == gate
    assert resumed.optimizer.current_noise_stddev() == pytest.approx(first.optimizer.current_noise_stddev())
    fit(resumed, 4, initial_epoch=2)
    # With the gate reset to 1 on load, epochs 2-3 would add more noise than the straight run did.
    assert_weights_equal(straight.get_weights(), resumed.get_weights())


def test_config_round_trip():
    schedule = GatedNoise(ConstantNoise(0.01), initial_gate=0.5, exponent=1.0)
    clone = GatedNoise.from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config() and isinstance(clone.base, ConstantNoise)
    optimizer = NoisySGD(0.1, noise_schedule=schedule, seed=2)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert restored.get_config() == optimizer.get_config()
    assert (restored.noise_schedule.initial_gate, restored.noise_schedule.exponent) == (0.5, 1.0)
    assert restored.current_noise_stddev() == pytest.approx(0.01 * 0.5)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="`base` must be a keras_gradnoise.NoiseSchedule"):
        GatedNoise(0.1)
    with pytest.raises(ValueError, match="`initial_gate` must be a finite number >= 0"):
        GatedNoise(ConstantNoise(0.1), initial_gate=-1)
    with pytest.raises(ValueError, match="`every_n_steps` must be None or an int >= 1"):
        NoiseGateCallback("m", every_n_steps=0)
    schedule = GatedNoise(ConstantNoise(0.1))
    with pytest.raises(ValueError, match="exists once the optimizer is built"):
        schedule.set_gate(0.5)
    _noise_with_gate(NoisySGD(1.0, noise_schedule=schedule), None, n=10)
    with pytest.raises(ValueError, match="belongs to one optimizer"):
        NoisySGD(1.0, noise_schedule=schedule).build([keras.Variable(np.zeros(3, "float32"))])
    for value in (float("nan"), -0.5):
        with pytest.raises(ValueError, match="the gate metric 'm'` must be a finite number >= 0"):
            schedule.set_gate(value, name="the gate metric 'm'")
    with pytest.raises(ValueError, match=r"'m' is not in the training logs; they hold \['loss'\]"):
        _fit_zero_gradient([NoiseGateCallback("m")], 1, 1)
    with pytest.raises(
        ValueError, match="needs a keras_gradnoise optimizer whose noise_schedule is a GatedNoise"
    ):
        _fit_zero_gradient([NoiseGateCallback("loss")], 1, 1, optimizer=NoisySGD(1.0, eta=0.1))
