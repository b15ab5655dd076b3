"""A count over a total, summed over batches: the base of the zoo's error and accuracy metrics.

The Neural GPU's bit and sequence errors and the NRAM's cell and example accuracies differ only in what one batch
counts; the running sums, the ratio and the reset are this one class.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


class RunningRatio(keras.metrics.Metric):
    """A count over a total, each summed over the batches since the last reset; 0 while the total is 0.

    A subclass says what one batch adds to each: `batch_counts(y_true, y_pred) -> (count, total)`.

    Args:
        name: the metric's name.
        count_name: the name of the count's variable, e.g. "errors" or "correct".
        **kwargs: the other arguments of keras.metrics.Metric (dtype).
    """

    def __init__(self, name: str, count_name: str, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.count = self.add_variable(shape=(), initializer="zeros", name=count_name)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def batch_counts(self, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        """What one batch adds to the count and to the total."""
        raise NotImplementedError

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        count, total = self.batch_counts(y_true, y_pred)
        self.count.assign_add(ops.cast(count, self.dtype))
        self.total.assign_add(ops.cast(total, self.dtype))

    def result(self) -> Any:
        return ops.divide_no_nan(self.count, self.total)
