import math

import numpy as np
import pytest
from keras import ops

from keras_gradnoise.schedules import AnnealedNoise, ConstantNoise, noise_stddev


@pytest.mark.parametrize("eta,gamma,step", [(0.01, 0.55, 0), (0.3, 0.55, 9), (1.0, 0.55, 999), (1.0, 0.0, 5)])
def test_noise_stddev_is_sqrt_of_paper_variance(eta, gamma, step):
    variance = eta / (1 + step) ** gamma  # the paper's sigma_t^2, eq. 1
    assert noise_stddev(step, eta, gamma) == pytest.approx(math.sqrt(variance), rel=1e-12)


def test_noise_stddev_on_tensors_matches_python_numbers():
    steps = np.array([0, 1, 10, 100, 10_000], dtype="int32")
    from_tensor = ops.convert_to_numpy(noise_stddev(ops.convert_to_tensor(steps), 0.3, 0.55))
    expected = [math.sqrt(0.3 / (1 + s) ** 0.55) for s in steps]
    np.testing.assert_allclose(from_tensor, expected, rtol=1e-6)


def test_eta_is_a_variance_not_a_stddev():
    assert noise_stddev(0, eta=0.01) == pytest.approx(0.1)


def test_annealed_and_constant_schedules():
    assert AnnealedNoise(eta=1.0, gamma=0.55)(99) == pytest.approx(100**-0.275)
    assert ConstantNoise(0.001)(12345) == 0.001
    assert float(ops.convert_to_numpy(ConstantNoise(0.001)(ops.convert_to_tensor(7)))) == pytest.approx(0.001)
    assert AnnealedNoise(0.0).is_zero and ConstantNoise(0.0).is_zero and not AnnealedNoise(0.01).is_zero


def test_schedule_config_round_trip():
    for schedule in (AnnealedNoise(0.3, 0.6), ConstantNoise(0.002)):
        clone = type(schedule).from_config(schedule.get_config())
        assert clone.get_config() == schedule.get_config()


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.3", None, True])
def test_bad_eta_names_the_argument_and_range(bad):
    with pytest.raises(ValueError, match=r"`eta` must be a finite number >= 0"):
        AnnealedNoise(eta=bad)


def test_bad_gamma_and_std():
    with pytest.raises(ValueError, match="`gamma`"):
        AnnealedNoise(eta=0.1, gamma=-1)
    with pytest.raises(ValueError, match="`noise_std`"):
        ConstantNoise(float("-inf"))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"step": 0, "eta": float("nan")}, r"`eta` must be a finite number >= 0; got nan"),
        ({"step": 0, "eta": -1.0}, r"`eta` must be a finite number >= 0; got -1.0"),
        ({"step": 0, "eta": 0.1, "gamma": -1.0}, r"`gamma` must be a finite number >= 0; got -1.0"),
        ({"step": -1, "eta": 0.1}, r"`step` must be a finite number >= 0; got -1.0"),
        ({"step": float("inf"), "eta": 0.1}, r"`step` must be a finite number >= 0; got inf"),
        ({"step": 0, "eta": "0.1"}, r"`eta` must be a finite number >= 0; got '0.1' of type str"),
    ],
)
def test_noise_stddev_validates_like_annealed_noise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        noise_stddev(**kwargs)
    if kwargs["step"] == 0:  # the schedule object says the same
        with pytest.raises(ValueError, match=match):
            AnnealedNoise(kwargs["eta"], kwargs.get("gamma", 0.55))


def test_noise_stddev_accepts_numpy_scalars():
    assert noise_stddev(np.int32(99), eta=np.float32(1.0)) == pytest.approx(100**-0.275)
