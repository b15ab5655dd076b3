"""TrainConfig.noise_gate_metric: the zoo's gated noise (GatedNoise + NoiseGateCallback) against hand arithmetic."""

from __future__ import annotations

import math

import pytest

import keras_gradnoise
from tests import helpers
from zoo.training import build_optimizer

pytestmark = pytest.mark.usefixtures("tiny_registered")


def test_logged_std_is_the_annealed_std_times_sqrt_of_the_epochs_loss(tmp_path):
    from zoo.training import train_and_evaluate

    config = helpers._smoke().replace(epochs=2, noise_eta=0.3, noise_gamma=0.55, noise_gate_metric="loss")
    results = train_and_evaluate(config, str(tmp_path / "run"), verbose=0)
    history = results["history"]
    steps = 6  # the tiny data set: 96 rows in batches of 16
    for epoch in range(2):
        t = steps * (epoch + 1)  # the next update's step when the epoch ends
        expected = math.sqrt(0.3 / (1 + t) ** 0.55) * math.sqrt(history["loss"][epoch])
        assert history["noise_stddev"][epoch] == pytest.approx(expected, rel=1e-5)


def test_build_optimizer_gates_the_configured_schedule():
    config = helpers._smoke().replace(noise_eta=0.3, noise_gate_metric="sequence_error")
    schedule = build_optimizer(config).noise_schedule
    assert isinstance(schedule, keras_gradnoise.GatedNoise)
    assert float(schedule.base(8)) == pytest.approx(math.sqrt(0.3 / 9**0.55))
    constant = build_optimizer(config.replace(noise_eta=0.0, noise_std=0.02)).noise_schedule
    assert float(constant.base(100)) == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"noise_gate_metric": ""}, "noise_gate_metric must be a metric name or None"),
        (
            {"noise_gate_metric": "loss", "noise_gate_every_steps": 0},
            "noise_gate_every_steps must be a positive",
        ),
        ({"noise_gate_every_steps": 5}, "noise_gate_every_steps needs noise_gate_metric"),
    ],
)
def test_bad_gate_settings_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        helpers._smoke().replace(**changes).validate()
