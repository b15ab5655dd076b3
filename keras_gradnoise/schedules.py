"""Noise schedules: the standard deviation of the gradient noise as a function of the update step.

The paper (Neelakantan et al. 2015, "Adding Gradient Noise Improves Learning for Very Deep Networks",
arXiv 1511.06807, eq. 1) adds g_t <- g_t + N(0, sigma_t^2) with

    sigma_t^2 = eta / (1 + t)^gamma

where eta is a VARIANCE (the paper picks it from {0.01, 0.3, 1.0}) and gamma = 0.55. A schedule here returns the
standard deviation sigma_t = sqrt(eta / (1 + t)^gamma), since that is what multiplies a standard normal sample.
t is the number of updates applied before the current one (0 for the first update).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from keras import ops
from keras.saving import register_keras_serializable

PACKAGE = "keras_gradnoise"


def noise_stddev(step: Any, eta: float, gamma: float = 0.55) -> Any:
    """The paper's annealed noise standard deviation, sqrt(eta / (1 + step)^gamma).

    Args:
        step: number of updates applied before this one (0-based); a Python number or a tensor.
        eta: the noise variance at step 0 (the paper's eta; >= 0).
        gamma: the annealing exponent (>= 0; the paper uses 0.55).

    Returns:
        The standard deviation: a Python float for a Python `step`, else a float32 tensor.

    Raises:
        ValueError: `eta` or `gamma` is not a finite number >= 0, or a Python `step` is not (a tensor `step` is
            not checked: its value is unknown inside a compiled step).

    Example:
        >>> noise_stddev(0, eta=0.01)
        0.1
        >>> round(noise_stddev(99, eta=1.0, gamma=0.55), 6)  # sqrt(100 ** -0.55)
        0.281838

    Reference: Neelakantan et al. 2015, arXiv 1511.06807, eq. 1.
    """
    eta, gamma = check_non_negative("eta", eta), check_non_negative("gamma", gamma)
    if isinstance(step, numbers.Real):
        step = check_non_negative("step", step)
        return math.sqrt(eta / (1.0 + step) ** gamma)
    step = ops.cast(step, "float32")
    return ops.sqrt(eta / ops.power(1.0 + step, gamma))


def check_non_negative(name: str, value: Any) -> float:
    """`value` as a float if it is a finite real number >= 0; otherwise a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"`{name}` must be a finite number >= 0; got {value!r} of type {type(value).__name__}."
        )
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0; got {value!r}.")
    return value


@register_keras_serializable(package=PACKAGE)
class NoiseSchedule:
    """Base class: maps the update step t to the noise standard deviation sigma_t.

    Subclass it and implement `__call__` (with keras.ops, so it runs inside the compiled train step) and
    `get_config` to use your own schedule: `NoisyAdam(noise_schedule=MySchedule(...))`. Register the subclass with
    `keras.saving.register_keras_serializable` so that saved models load again.
    """

    def __call__(self, step: Any) -> Any:
        raise NotImplementedError

    @property
    def is_zero(self) -> bool:
        """True when the schedule is zero at every step, so the optimizer can skip the noise entirely."""
        return False

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> NoiseSchedule:
        return cls(**config)


@register_keras_serializable(package=PACKAGE)
class AnnealedNoise(NoiseSchedule):
    """sigma_t = sqrt(eta / (1 + t)^gamma), the paper's schedule.

    Args:
        eta: the noise variance at step 0 (>= 0; 0 disables the noise).
        gamma: the annealing exponent (>= 0; default 0.55 as in the paper).

    Example:
        >>> AnnealedNoise(eta=0.3)(0)
        0.5477225575051661
    """

    def __init__(self, eta: float, gamma: float = 0.55):
        self.eta = check_non_negative("eta", eta)
        self.gamma = check_non_negative("gamma", gamma)

    def __call__(self, step: Any) -> Any:
        return noise_stddev(step, self.eta, self.gamma)

    @property
    def is_zero(self) -> bool:
        return self.eta == 0.0

    def get_config(self) -> dict[str, Any]:
        return {"eta": self.eta, "gamma": self.gamma}


@register_keras_serializable(package=PACKAGE)
class ConstantNoise(NoiseSchedule):
    """sigma_t = stddev at every step (the paper's MemN2N runs also used a fixed std of 0.001).

    Args:
        stddev: the noise standard deviation (>= 0; 0 disables the noise).
    """

    def __init__(self, stddev: float):
        self.stddev = check_non_negative("noise_std", stddev)

    def __call__(self, step: Any) -> Any:
        if isinstance(step, numbers.Real):
            return self.stddev
        return ops.convert_to_tensor(self.stddev, dtype="float32")

    @property
    def is_zero(self) -> bool:
        return self.stddev == 0.0

    def get_config(self) -> dict[str, Any]:
        return {"stddev": self.stddev}
