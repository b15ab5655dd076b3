import os

import keras
import numpy as np
import pytest

from keras_gradnoise import NoiseStddevLogger, NoisySGD, find_noisy_optimizer, noise_stddev


def _fit(optimizer, callbacks, epochs=3):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    return model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, callbacks=callbacks)


def test_history_records_the_std_of_the_next_update():
    history = _fit(NoisySGD(0.01, eta=0.3, seed=0), [NoiseStddevLogger()])
    # Two updates per epoch: after epoch e, 2(e + 1) updates have been applied.
    expected = [noise_stddev(2 * (epoch + 1), 0.3, 0.55) for epoch in range(3)]
    np.testing.assert_allclose(history.history["noise_stddev"], expected, rtol=1e-6)


def test_csv_logger_after_the_noise_logger_sees_the_value(tmp_path):
    path = os.path.join(tmp_path, "log.csv")
    _fit(NoisySGD(0.01, noise_std=0.002), [NoiseStddevLogger(), keras.callbacks.CSVLogger(path)], epochs=1)
    with open(path) as f:
        header, row = f.read().splitlines()
    assert float(row.split(",")[header.split(",").index("noise_stddev")]) == pytest.approx(0.002)


def test_finds_the_noisy_optimizer_inside_a_loss_scale_optimizer():
    inner = NoisySGD(0.1)
    assert find_noisy_optimizer(keras.optimizers.LossScaleOptimizer(inner)) is inner
    assert find_noisy_optimizer(keras.optimizers.SGD(0.1)) is None


def test_clear_error_without_a_noisy_optimizer():
    with pytest.raises(ValueError, match="needs a model compiled with a keras_gradnoise optimizer"):
        _fit(keras.optimizers.SGD(0.1), [NoiseStddevLogger()], epochs=1)
