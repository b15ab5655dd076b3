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


def _apply_twice(**kwargs):
    v, w = keras.Variable(np.zeros(2, "float32"), name="v"), keras.Variable(np.zeros(3, "float32"), name="w")
    optimizer = NoisySGD(0.1, global_clipnorm=1.0, noise_std=0.5, seed=1, track_gradient_rms=True)
    if kwargs.get("exclude"):
        optimizer.exclude_from_gradient_noise(var_list=[w])
    optimizer.apply([np.array([3.0, 4.0], "float32"), np.zeros(3, "float32")], [v, w])  # global norm 5
    optimizer.apply([np.zeros(2, "float32"), np.array([0.5, 0.0, 0.0], "float32")], [v, w])  # norm 0.5
    return optimizer


def test_gradient_rms_is_the_rms_of_the_clipped_entries_over_the_updates():
    # Update 1 is clipped to [0.6, 0.8 | 0, 0, 0]: mean square 1/5; update 2 is not: 0.25/5.
    assert _apply_twice().gradient_square_totals() == pytest.approx((0.2 + 0.05, 2.0), rel=1e-6)
    # Excluding w from the noise leaves v's two entries: mean squares 1/2 and 0.
    assert _apply_twice(exclude=True).gradient_square_totals() == pytest.approx((0.5, 2.0), rel=1e-6)


def test_gradient_rms_tracking_is_off_by_default_and_serialized():
    assert NoisySGD(0.1).gradient_square_totals() is None
    config = NoisySGD(0.1, track_gradient_rms=True).get_config()
    assert NoisySGD.from_config(config).track_gradient_rms is True
    with pytest.raises(ValueError, match="track_gradient_rms"):
        NoisySGD(0.1, track_gradient_rms="yes")


def test_logger_records_the_noise_to_gradient_ratio_each_epoch():
    optimizer = NoisySGD(0.01, eta=0.3, seed=0, track_gradient_rms=True)
    history = _fit(optimizer, [NoiseStddevLogger()])
    rms = np.array(history.history["gradient_rms"])
    assert np.all(rms > 0)
    # Each epoch's value covers that epoch's two updates only: the epochs' mean squares add up to the totals.
    square_sum, updates = optimizer.gradient_square_totals()
    assert updates == 6 and np.sum(2 * rms**2) == pytest.approx(square_sum, rel=1e-5)
    # Two updates an epoch (t = 2e, 2e + 1): the ratio takes sigma of the epoch's middle (rounded down) update.
    middle_sigma = np.array([noise_stddev(2 * epoch, 0.3, 0.55) for epoch in range(3)])
    np.testing.assert_allclose(history.history["noise_to_gradient"], middle_sigma / rms, rtol=1e-6)


def test_a_second_fit_from_the_same_epoch_takes_fresh_readings():
    optimizer = NoisySGD(0.01, eta=0.3, seed=0, track_gradient_rms=True)
    logger = NoiseStddevLogger()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[logger])  # updates t = 0, 1
    before = optimizer.gradient_square_totals()
    history = model.fit(
        x, y, batch_size=4, epochs=1, verbose=0, callbacks=[logger]
    )  # epoch 0 again: t = 2, 3
    square_sum, updates = np.subtract(optimizer.gradient_square_totals(), before)
    rms = np.sqrt(square_sum / updates)
    assert updates == 2 and history.history["gradient_rms"][0] == pytest.approx(rms, rel=1e-5)
    assert history.history["noise_to_gradient"][0] == pytest.approx(
        noise_stddev(2, 0.3, 0.55) / rms, rel=1e-5
    )


def test_logger_state_round_trips_and_reads_older_checkpoints():
    logger = NoiseStddevLogger()
    logger.set_state({"epoch": 3, "totals": [1.5, 20.0], "step": 20})  # written before the step was derived
    assert logger.get_state() == {"epoch": 3, "totals": (1.5, 20.0)}
    fresh = NoiseStddevLogger()
    fresh.set_state(logger.get_state())
    assert fresh.get_state() == logger.get_state()
