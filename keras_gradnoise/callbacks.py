"""Callbacks: record the current gradient-noise standard deviation in the logs; drive a `GatedNoise` gate from a
metric."""

from __future__ import annotations

import math
from typing import Any

import keras

from keras_gradnoise.optimizers import GradientNoiseMixin
from keras_gradnoise.schedules import GatedNoise


def find_noisy_optimizer(optimizer: Any) -> GradientNoiseMixin | None:
    """The noisy optimizer inside `optimizer` (unwrapping LossScaleOptimizer), or None if there is none."""
    while optimizer is not None and not isinstance(optimizer, GradientNoiseMixin):
        optimizer = getattr(optimizer, "inner_optimizer", None)
    return optimizer


class NoiseStddevLogger(keras.callbacks.Callback):
    """Puts `noise_stddev`, the sigma_t of the next update, into the epoch logs (History, TensorBoard, CSVLogger).

    With an optimizer made with `track_gradient_rms=True`, each epoch's logs also get `gradient_rms`, the RMS of
    the clipped gradient's entries over the epoch's updates, and `noise_to_gradient`, the sigma_t of the epoch's
    middle update divided by gradient_rms (absent when the gradient was exactly 0): above ~1 the noise dominates
    each update (with Adam, which normalises per coordinate, it then sets the update's direction).

    Place it before TensorBoard / CSVLogger in the callbacks list: Keras calls callbacks in order, and the later
    ones see the value this one adds.

    Args:
        every_batch: also add it to each batch's logs (shown by the progress bar); reads a variable each batch.

    Example:
        >>> model.fit(x, y, callbacks=[NoiseStddevLogger(), keras.callbacks.TensorBoard("logs")])
    """

    def __init__(self, every_batch: bool = False):
        super().__init__()
        self.every_batch = every_batch
        self._totals_at_epoch_start: tuple[float, float] | None = None
        self._epoch: int | None = None  # the epoch whose start the totals above are

    def _add(self, logs: dict | None) -> GradientNoiseMixin:
        optimizer = find_noisy_optimizer(self.model.optimizer)
        if optimizer is None:
            raise ValueError(
                "NoiseStddevLogger needs a model compiled with a keras_gradnoise optimizer; got "
                f"{type(self.model.optimizer).__name__}."
            )
        if logs is not None:
            logs["noise_stddev"] = optimizer.current_noise_stddev()
        return optimizer

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.every_batch:
            self._add(logs)

    def get_state(self) -> dict:
        """The epoch-start readings, for a checkpoint taken mid-epoch (a resumed run then logs the whole epoch)."""
        return {"epoch": self._epoch, "totals": self._totals_at_epoch_start}

    def set_state(self, state: dict) -> None:
        totals = state.get("totals")  # older checkpoints also hold "step", now derived from the totals
        self._epoch = state.get("epoch")
        self._totals_at_epoch_start = tuple(totals) if totals is not None else None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == self._epoch:  # resumed in the middle of this epoch: keep the readings of its start
            return
        optimizer = find_noisy_optimizer(self.model.optimizer)
        self._totals_at_epoch_start = optimizer.gradient_square_totals() if optimizer is not None else None
        self._epoch = epoch

    def on_train_end(self, logs: dict | None = None) -> None:
        # A later fit of the same model may start again from this epoch number: it must take fresh readings.
        self._epoch = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self._add(logs)
        totals = optimizer.gradient_square_totals()
        if logs is None or totals is None:
            return
        start = self._totals_at_epoch_start or (0.0, 0.0)
        square_sum, updates = totals[0] - start[0], totals[1] - start[1]
        if updates > 0:
            rms = math.sqrt(max(square_sum, 0.0) / updates)
            logs["gradient_rms"] = rms
            if rms > 0:
                # The epoch's middle update (steps end - updates .. end - 1): sigma_t anneals within the epoch,
                # the RMS averages over it.
                middle = max((2 * _step(optimizer) - int(updates) - 1) // 2, 0)
                logs["noise_to_gradient"] = float(optimizer.noise_schedule(middle)) / rms


def _step(optimizer: GradientNoiseMixin | None) -> int:
    """The optimizer's noise step t (0 before it is built)."""
    if optimizer is None or not optimizer.built:
        return 0
    return int(keras.ops.convert_to_numpy(optimizer.noise_step))


class NoiseGateCallback(keras.callbacks.Callback):
    """Writes a training metric into the gate of the optimizer's `GatedNoise` schedule: sigma = base(t) * sqrt(m).

    At each epoch's end (default) the gate becomes `logs[metric]` of that epoch (validation metrics such as
    "val_sequence_error" included); with `every_n_steps`, after every N-th training step instead, where the logs
    hold the metric's running mean over the epoch so far. N counts `optimizer.iterations` (read at each epoch's
    start), so a run resumed from a checkpoint writes after the same steps as an uninterrupted one; the gate
    itself is an optimizer variable, saved and restored with the optimizer.

    Place it before `NoiseStddevLogger` in the callbacks list, so the logged std is the one of the next update.

    Args:
        metric: the key of the logs to read, e.g. "sequence_error" or "loss" (its values must be finite, >= 0).
        every_n_steps: None: at each epoch's end; N >= 1: after every N-th step.

    Raises:
        ValueError (during fit): no keras_gradnoise optimizer with a `GatedNoise` schedule, the metric missing
            from the logs (the message lists the keys there are), or a value that is not finite and >= 0.

    Example:
        >>> optimizer = NoisyAdam(1e-3, noise_schedule=GatedNoise(AnnealedNoise(eta=0.01)))
        >>> model.fit(..., callbacks=[NoiseGateCallback("sequence_error", every_n_steps=200)])

    Reference: Kaiser & Sutskever 2016, "Neural GPUs Learn Algorithms", reference code (noise scaled by
    sqrt(previous sequence error)).
    """

    def __init__(self, metric: str, every_n_steps: int | None = None):
        super().__init__()
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"`metric` must be the non-empty name of a logged metric; got {metric!r}.")
        if every_n_steps is not None and (
            isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1
        ):
            raise ValueError(f"`every_n_steps` must be None or an int >= 1; got {every_n_steps!r}.")
        self.metric = metric
        self.every_n_steps = every_n_steps
        self._epoch_start, self._last_batch = 0, -1

    def _schedule(self) -> GatedNoise:
        optimizer = find_noisy_optimizer(self.model.optimizer)
        schedule = getattr(optimizer, "noise_schedule", None)
        if not isinstance(schedule, GatedNoise):
            raise ValueError(
                "NoiseGateCallback needs a keras_gradnoise optimizer whose noise_schedule is a GatedNoise; got "
                f"{type(self.model.optimizer).__name__} with {type(schedule).__name__}."
            )
        return schedule

    def _write(self, logs: dict | None) -> None:
        if not logs or self.metric not in logs:
            raise ValueError(
                f"NoiseGateCallback: {self.metric!r} is not in the training logs; they hold "
                f"{sorted(logs or {})}."
            )
        # On JAX, `self.model` (Callback.model) first writes the state fit keeps mid-epoch back into the
        # variables, and the next step starts again from them, so it sees the new gate.
        schedule = self._schedule()
        schedule.set_gate(logs[self.metric], name=f"the gate metric {self.metric!r}")

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._schedule()  # fail before the first step, not after the first epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._last_batch = -1
        if self.every_n_steps is not None:
            self._epoch_start = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.every_n_steps is None:
            return
        # `batch` is the epoch's last step index done (several with steps_per_execution): write when the steps
        # done cross a multiple of N.
        before = self._epoch_start + self._last_batch + 1
        after = self._epoch_start + batch + 1
        self._last_batch = batch
        if after // self.every_n_steps > before // self.every_n_steps:
            self._write(logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.every_n_steps is None:
            self._write(logs)
