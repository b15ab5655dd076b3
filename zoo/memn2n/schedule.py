"""The reference code's two-stage training schedule: linear start, the switch to softmax, a restarted lr schedule.

Read in the authors' MemN2N-babi-matlab (train_linear_start.m, train.m, config_babi.m, config_babi_joint.m):

- train_linear_start.m removes the softmax from every memory layer, runs train.m for `ls_nepochs` epochs with
  `ls_init_lrate` and `ls_lrate_decay_step`, puts the softmax back and runs train.m AGAIN from its start, i.e. the
  learning-rate schedule restarts at `config.init_lrate` for `nepochs` epochs.
- config_babi.m (per task) sets init_lrate = 0.01, but with linear start both `ls_init_lrate` and
  `config.init_lrate` to 0.01/2, so both stages start at 0.005; ls_nepochs = 20, ls_lrate_decay_step = 21,
  nepochs = 100, lrate_decay_step = 25. config_babi_joint.m: the same rates, ls_nepochs = 30,
  ls_lrate_decay_step = 31, nepochs = 60, lrate_decay_step = 15.
- train.m halves the rate at the START of 1-based epoch `ep` whenever mod(ep, lrate_decay_step) == 0, so epoch k
  (0-based) of a stage runs at init * 0.5 ** ((k + 1) // step): 24 epochs at the initial rate, then 25 per
  halving (per task). The linear-start stage's decay step (21, 31) exceeds its length (20, 30): it never halves.

The reference code switches after a fixed `ls_nepochs`; the MemN2N paper (Sukhbaatar et al. 2015, section 4.2)
re-inserts the softmax "when the validation loss stopped decreasing". `StageSchedule` does either: switch
"epochs" at `linear_start_epochs`, or switch "plateau" after `patience` epochs without a new lowest validation
loss, at the latest at `linear_start_epochs` (the reference's length, a cap). After the switch it trains
`stage_epochs` more epochs and stops the run, so `TrainConfig.epochs` is an upper bound (cap + stage_epochs).

This module imports Keras only for the callback's base class; `learning_rate_at` is plain arithmetic.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import keras

from zoo.memn2n.model import LAYER_NAME

SWITCHES = ("epochs", "plateau")


@dataclasses.dataclass(frozen=True)
class ScheduleOptions:
    """The `schedule` data option (a dict in `data_kwargs`): how the two stages are run.

    Args:
        switch: "epochs" (the reference code: softmax back at `linear_start_epochs`) or "plateau" (the paper:
            when the validation loss stops falling, at the latest at `linear_start_epochs`).
        stage_epochs: epochs trained with the softmax after the switch (reference: 100 per task, 60 joint).
        decay_every: the softmax stage's lr is halved every this many epochs, train.m's way (25 per task, 15 joint).
        patience: with "plateau", epochs without a new lowest validation loss before the switch (1: the first
            epoch whose validation loss is not below the best so far).

    Raises:
        ValueError: naming the key and the values it accepts.
    """

    switch: str = "epochs"
    stage_epochs: int = 100
    decay_every: int = 25
    patience: int = 1

    def __post_init__(self) -> None:
        if self.switch not in SWITCHES:
            raise ValueError(f"data_kwargs schedule switch must be one of {SWITCHES}; got {self.switch!r}.")
        for name in ("stage_epochs", "decay_every", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"data_kwargs schedule {name} must be an integer >= 1; got {value!r}.")

    @classmethod
    def from_option(cls, option: Mapping[str, Any]) -> ScheduleOptions:
        """From the `schedule` data option; unknown keys are refused (naming the accepted ones)."""
        if not isinstance(option, Mapping):
            raise ValueError(f"data_kwargs schedule must be a dict or None; got {option!r}.")
        accepted = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(option) - set(accepted))
        if unknown:
            raise ValueError(f"Unknown data_kwargs schedule keys {unknown}. Accepted: {', '.join(accepted)}.")
        return cls(**option)


def learning_rate_at(
    epoch: int, switch_epoch: int | None, learning_rate: float, decay_every: int, decay_factor: float
) -> float:
    """The learning rate of 0-based `epoch` of the run.

    Before `switch_epoch` (or while it is not known yet) the linear-start stage runs at `learning_rate`. From it
    on the schedule restarts: stage epoch k = epoch - switch_epoch runs at
    learning_rate * decay_factor ** ((k + 1) // decay_every), train.m's halving at mod(k + 1, step) == 0.
    """
    if switch_epoch is None or epoch < switch_epoch:
        return learning_rate
    return learning_rate * decay_factor ** ((epoch - switch_epoch + 1) // decay_every)


class StageSchedule(keras.callbacks.Callback):
    """Owns the softmax switch, the learning rate and the run's length of the reference's two-stage training.

    At every epoch's start it sets the model's `use_softmax` and the optimizer's learning rate from the epoch and
    the switch epoch; at every epoch's end it decides the switch ("plateau": from `val_loss`) and stops training
    `stage_epochs` after the switch. Its state (switch epoch, best validation loss, epochs without improvement) is
    saved in the run's checkpoints (get_state / set_state), so a resumed run continues the same schedule.

    Args:
        options: the `schedule` data option.
        linear_start_epochs: the linear-start length (the switch's latest epoch with "plateau"); 0: one stage.
        learning_rate: the rate each stage starts at (TrainConfig.learning_rate).
        decay_factor: the factor of each decay step (TrainConfig.lr_decay_factor).
    """

    def __init__(
        self, options: ScheduleOptions, linear_start_epochs: int, learning_rate: float, decay_factor: float
    ) -> None:
        super().__init__()
        self.options = options
        self.linear_start_epochs = linear_start_epochs
        self.learning_rate = learning_rate
        self.decay_factor = decay_factor
        fixed = options.switch == "epochs" or linear_start_epochs == 0
        self.switch_epoch: int | None = linear_start_epochs if fixed else None
        self.best: float | None = None
        self.waited = 0

    def stop_epoch(self) -> int | None:
        """The first epoch not trained (switch + stage_epochs), or None while the switch is not known."""
        return None if self.switch_epoch is None else self.switch_epoch + self.options.stage_epochs

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        stop = self.stop_epoch()
        rate = learning_rate_at(
            epoch, self.switch_epoch, self.learning_rate, self.options.decay_every, self.decay_factor
        )
        if stop is not None and epoch >= stop:
            # Only a run resumed from a checkpoint written after its last epoch gets here; fit cannot skip the
            # epoch, so it ends after one batch at rate 0 (no change to the weights under plain SGD).
            rate = 0.0
            self.model.stop_training = True
        self.model.optimizer.learning_rate = rate
        softmax = self.switch_epoch is not None and epoch >= self.switch_epoch
        self.model.get_layer(LAYER_NAME).use_softmax.assign(1.0 if softmax else 0.0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.switch_epoch is None:
            loss = (logs or {}).get("val_loss")
            if loss is None or not math.isfinite(float(loss)):
                raise ValueError(
                    "The schedule's plateau switch needs a finite val_loss each epoch (validation data); got "
                    f"{loss!r}."
                )
            if self.best is None or float(loss) < self.best:
                self.best, self.waited = float(loss), 0
            else:
                self.waited += 1
            if self.waited >= self.options.patience or epoch + 1 >= self.linear_start_epochs:
                self.switch_epoch = epoch + 1
        stop = self.stop_epoch()
        if stop is not None and epoch + 1 >= stop:
            self.model.stop_training = True

    def get_state(self) -> dict[str, Any]:
        return {"switch_epoch": self.switch_epoch, "best": self.best, "waited": self.waited}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.switch_epoch, self.best, self.waited = state["switch_epoch"], state["best"], state["waited"]
