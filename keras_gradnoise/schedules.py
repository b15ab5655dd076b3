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

import keras
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

    def build(self, optimizer: Any) -> None:
        """Creates the optimizer variables the schedule reads (none here; `GatedNoise` adds its gate).

        Called once by the noisy optimizer's `build`, after its own variables. Variables made with
        `optimizer.add_variable` are threaded through JAX's stateless train step and saved with the model.
        """

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


@register_keras_serializable(package=PACKAGE)
class GatedNoise(NoiseSchedule):
    """sigma_t = base(t) * gate^exponent: a schedule scaled by a metric of the run (adaptive noise).

    `gate` is a float32 optimizer variable, `noise_gate`, that `keras_gradnoise.NoiseGateCallback` writes from
    the training logs (at each epoch's end or every N steps). Being an optimizer variable, it is read inside the
    compiled train step on TensorFlow and JAX, and saved and restored with the optimizer, so a resumed run
    continues with the gate it had. Until the callback first writes it, the gate is `initial_gate`.

    The Neural GPU's reference code scales the noise this way by the square root of the previous sequence error:
    noisy while the task is unsolved, quiet once it is solved.

    Args:
        base: the schedule being scaled (a `NoiseSchedule`, or its serialized dict).
        initial_gate: the gate before the first write (finite, >= 0; default 1: the base schedule).
        exponent: the power of the gate (finite, >= 0; default 0.5: sqrt(metric)).

    Example:
        >>> schedule = GatedNoise(AnnealedNoise(eta=0.01))
        >>> model.compile(optimizer=NoisyAdam(noise_schedule=schedule), loss=..., metrics=[SequenceError()])
        >>> model.fit(..., callbacks=[NoiseGateCallback("sequence_error"), NoiseStddevLogger()])

    Reference: Kaiser & Sutskever 2016, "Neural GPUs Learn Algorithms" (arXiv 1511.08228), reference code
    (tensorflow/models neural_gpu_trainer.py: noise scale sqrt((step + 1)^-0.55 * previous sequence error));
    the annealed base schedule is Neelakantan et al. 2015, arXiv 1511.06807, eq. 1.
    """

    VARIABLE_NAME = "noise_gate"

    def __init__(self, base: NoiseSchedule | dict, initial_gate: float = 1.0, exponent: float = 0.5):
        if isinstance(base, dict):
            base = keras.saving.deserialize_keras_object(base)
        if not isinstance(base, NoiseSchedule):
            raise ValueError(f"`base` must be a keras_gradnoise.NoiseSchedule; got {base!r}.")
        self.base = base
        self.initial_gate = check_non_negative("initial_gate", initial_gate)
        self.exponent = check_non_negative("exponent", exponent)
        self._gate: Any = None
        self._optimizer: Any = None

    def build(self, optimizer: Any) -> None:
        if self._optimizer is not None and self._optimizer is not optimizer:
            raise ValueError("A GatedNoise schedule belongs to one optimizer; make one for each optimizer.")
        if self._gate is not None:
            return
        self.base.build(optimizer)
        self._optimizer = optimizer
        self._gate = optimizer.add_variable(
            shape=(),
            dtype="float32",
            initializer=keras.initializers.Constant(self.initial_gate),
            aggregation="only_first_replica",
            name=self.VARIABLE_NAME,
        )

    @property
    def gate(self) -> Any:
        """The optimizer variable holding the gate (None until the optimizer is built)."""
        return self._gate

    def gate_value(self) -> float:
        """The current gate as a Python float (`initial_gate` before the optimizer is built)."""
        if self._gate is None:
            return self.initial_gate
        return float(ops.convert_to_numpy(self._gate))

    def set_gate(self, value: float, name: str = "gate") -> None:
        """Writes the gate (outside the train step, e.g. from a callback); `name` is used in the error message.

        Raises:
            ValueError: the optimizer is not built yet, or `value` is not a finite number >= 0.
        """
        value = check_non_negative(name, float(value) if isinstance(value, numbers.Real) else value)
        if self._gate is None:
            raise ValueError("The gate exists once the optimizer is built (by fit, or optimizer.build).")
        self._gate.assign(value)

    def __call__(self, step: Any) -> Any:
        base = self.base(step)
        if isinstance(step, numbers.Real):
            return float(base) * self.gate_value() ** self.exponent
        gate = (
            ops.convert_to_tensor(self.initial_gate, "float32")
            if self._gate is None
            else ops.convert_to_tensor(self._gate)
        )
        return base * ops.power(gate, self.exponent)

    @property
    def is_zero(self) -> bool:
        return self.base.is_zero

    def get_config(self) -> dict[str, Any]:
        return {
            "base": keras.saving.serialize_keras_object(self.base),
            "initial_gate": self.initial_gate,
            "exponent": self.exponent,
        }
