"""A callback that records the current gradient-noise standard deviation in the training logs."""

from __future__ import annotations

from typing import Any

import keras

from keras_gradnoise.optimizers import GradientNoiseMixin


def find_noisy_optimizer(optimizer: Any) -> GradientNoiseMixin | None:
    """The noisy optimizer inside `optimizer` (unwrapping LossScaleOptimizer), or None if there is none."""
    while optimizer is not None and not isinstance(optimizer, GradientNoiseMixin):
        optimizer = getattr(optimizer, "inner_optimizer", None)
    return optimizer


class NoiseStddevLogger(keras.callbacks.Callback):
    """Puts `noise_stddev`, the sigma_t of the next update, into the epoch logs (History, TensorBoard, CSVLogger).

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

    def _add(self, logs: dict | None) -> None:
        optimizer = find_noisy_optimizer(self.model.optimizer)
        if optimizer is None:
            raise ValueError(
                "NoiseStddevLogger needs a model compiled with a keras_gradnoise optimizer; got "
                f"{type(self.model.optimizer).__name__}."
            )
        if logs is not None:
            logs["noise_stddev"] = optimizer.current_noise_stddev()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.every_batch:
            self._add(logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._add(logs)
