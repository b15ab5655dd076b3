"""TensorBoard scalar logs that need only TensorFlow, not the `tensorboard` package.

TensorFlow 2.21's wheels no longer pull in `tensorboard`, without which `keras.callbacks.TensorBoard` fails at the
first epoch end ("TensorBoard is not installed"). The event files TensorBoard reads need only core TensorFlow:
`tf.summary.write` with the "scalars" plugin metadata writes exactly what `tf.summary.scalar` would. Install
`tensorboard` to view them; writing them works either way.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from typing import Any

import keras


def available() -> bool:
    """Whether TensorFlow (needed to write event files) is importable."""
    return importlib.util.find_spec("tensorflow") is not None


class ScalarSummaries(keras.callbacks.Callback):
    """Writes each epoch's logs as TensorBoard scalars: `log_dir/train` and `log_dir/validation` (val_ keys).

    Place it after callbacks that add to the logs (NoiseStddevLogger), so their values are written too.

    Args:
        log_dir: the TensorBoard log directory (point `tensorboard --logdir` at it).
    """

    def __init__(self, log_dir: str):
        super().__init__()
        self.log_dir = log_dir
        self._writers: dict[str, Any] = {}

    def _writer(self, run: str) -> Any:
        import tensorflow as tf

        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        )
        for key, value in (logs or {}).items():
            run, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self._writer(run).as_default():
                tf.summary.write(
                    f"epoch_{tag}", tf.constant(float(value), tf.float32), step=epoch, metadata=metadata
                )
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def callbacks(log_dir: str) -> list[keras.callbacks.Callback]:
    """[ScalarSummaries(log_dir)], or [] with a warning when TensorFlow is absent (e.g. a JAX-only install)."""
    if not available():
        warnings.warn(
            "TensorFlow is not installed, so no TensorBoard logs are written; results.json still holds the "
            "per-epoch history.",
            stacklevel=2,
        )
        return []
    return [ScalarSummaries(log_dir)]
