"""The Neural Random-Access Machine (Kurach, Andrychowicz & Sutskever 2015, arXiv 1511.06392) in Keras 3.

The machine has R registers and a memory tape of M cells; every register and cell holds a probability
distribution over the integers {0..M-1}, so the whole machine is differentiable. At every timestep the
controller sees only P(register i = 0) for each register (section 3.1) and emits:
  * for every module argument, a softmax over the registers and the outputs of the modules before it;
  * for every register, a softmax over the registers and all module outputs: the register's next value;
  * a stop probability f_t = sigmoid(x_t).
The controller is, as in section 4.1, an LSTM with one ReLU layer between its input and the LSTM cell, or an
MLP with two ReLU hidden layers, every layer `hidden_units` wide. The 14 modules (zoo.nram.modules) run in
order; WRITE updates the tape and returns the value it wrote (appendix C). The stop distribution is
p_t = f_t * prod_{s<t} (1 - f_s) for t < T and p_T = 1 - sum_{t<T} p_t, with T the example's step budget, and
the loss is -sum_t p_t sum_{scored cells i} log(max(M_t[i, y_i], eps)) (`NRAMLoss`, section 3.3).

The model's output is a "trace" of shape (batch, max_timesteps, M, M + 1): trace[..., :M] is the memory tape
after each step and trace[:, t, :, M] is p_t (repeated over cells). `NRAMLoss`, `CellAccuracy`,
`ExampleAccuracy` and `predict_memory` read it. Steps after an example's budget get p_t = 0.

Training techniques of section 4.1 that live in the model:
  * Gradient clipping, first clip: the gradient with respect to every activation (controller layers and state,
    logits, module outputs, registers, memory) is clipped coordinate-wise to [-C1, C1] while backpropagating
    (`gradient_clip_value`), which keeps the hundreds of layers of the unrolled machine from overflowing. The
    second clip (global L2 norm <= C2) is the optimizer's `global_clipnorm`, and keras_gradnoise's noise is
    added after both by the noisy optimizer.
  * Distribution constraints: softmax outputs, module outputs, registers and memory rows are rescaled to sum
    to 1 after they are computed; the backward pass treats the rescaling as the identity, as the paper does.
  * Entropy bonus: -entropy_weight * entropy of the controller's selection distributions is added to the
    loss; the weight is annealed exponentially by `zoo.nram.curriculum.CurriculumCallback`.
  * log(max(x, eps)) wherever a logarithm is taken (loss and entropy), eps = LOG_EPS by default.

Models saved before these paper details were checked (no `controller_layers` in their config) load with the
architecture they were trained with: no ReLU layer before the LSTM (or one tanh layer for the MLP) and a WRITE
that returns 0 (see `NRAMCore.from_config`).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
from keras import ops

from zoo.nram.core import _PACKAGE, LOG_EPS, NRAMCore
from zoo.ratio_metric import RunningRatio

if TYPE_CHECKING:
    from zoo.config import TrainConfig

# The zoo entry's model defaults: a 12-cell tape and the 6 steps ListK takes at the data's default difficulty 3.
MODEL_DEFAULTS: dict[str, Any] = {"memory_size": 12, "max_timesteps": 6}


def build_nram(memory_size: int = 12, **core_kwargs: Any) -> keras.Model:
    """A functional NRAM: inputs {"memory": int (batch, M), "timesteps": int (batch,)} -> trace.

    Kurach, Andrychowicz & Sutskever 2015, arXiv 1511.06392. Arguments are those of `NRAMCore` (`core_kwargs`:
    all but `memory_size`, with NRAMCore's defaults).

    Returns:
        An uncompiled keras.Model whose output is the (batch, max_timesteps, M, M + 1) trace described in the
        module docstring.
    """
    memory = keras.Input((memory_size,), dtype="int32", name="memory")
    timesteps = keras.Input((), dtype="int32", name="timesteps")
    core = NRAMCore(memory_size=memory_size, name="nram_core", **core_kwargs)
    trace = core(memory, timesteps)
    return keras.Model({"memory": memory, "timesteps": timesteps}, trace, name="nram")


def _split_trace(trace):
    memory_size = ops.shape(trace)[-1] - 1
    return trace[..., :memory_size], trace[:, :, 0, memory_size]


def predict_memory(trace):
    """The machine's answer: argmax over values of sum_t p_t * M_t (the tape averaged over the stop time).

    Args:
        trace: the model's output, (batch, T, M, M + 1).

    Returns:
        int32 (batch, M): the predicted value of every cell.
    """
    memories, stops = _split_trace(trace)
    expected = ops.einsum("bt,btiv->biv", stops, memories)
    return ops.cast(ops.argmax(expected, axis=-1), "int32")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NRAMLoss(keras.losses.Loss):
    """The paper's cost: -sum_t p_t sum_{scored i} log(max(M_t[i, y_i], eps)) per example.

    Args:
        log_eps: the floor inside the logarithm (the paper's log(max(x, eps)) guard against log 0).
        **kwargs: keras.losses.Loss arguments.

    y_true is int (batch, M) with -1 for unscored cells; y_pred is the model's trace.
    """

    def __init__(self, log_eps: float = LOG_EPS, name: str = "nram_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not 0 < log_eps < 1:
            raise ValueError(f"log_eps must be in (0, 1); got {log_eps!r}.")
        self.log_eps = log_eps

    def call(self, y_true, y_pred):
        memories, stops = _split_trace(y_pred)
        y_true = ops.cast(y_true, "int32")
        scored = ops.cast(ops.greater_equal(y_true, 0), y_pred.dtype)
        target = ops.one_hot(ops.maximum(y_true, 0), ops.shape(memories)[-1], dtype=y_pred.dtype)
        probabilities = ops.sum(memories * target[:, None], axis=-1)  # (batch, T, M)
        log_likelihood = ops.sum(ops.log(ops.maximum(probabilities, self.log_eps)) * scored[:, None], axis=-1)
        return -ops.sum(stops * log_likelihood, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "log_eps": self.log_eps}


class _TraceAccuracy(RunningRatio):
    """The cell and example accuracies: right answers over a total, each subclass counting them in one batch's
    scored cells (`_counts`)."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, count_name="correct", **kwargs)

    def _counts(self, scored, right):
        raise NotImplementedError

    def batch_counts(self, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        y_true = ops.cast(y_true, "int32")
        scored = ops.greater_equal(y_true, 0)
        right = ops.logical_or(ops.equal(predict_memory(y_pred), y_true), ops.logical_not(scored))
        return self._counts(scored, right)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CellAccuracy(_TraceAccuracy):
    """Fraction of scored memory cells whose predicted value (`predict_memory`) is right."""

    def __init__(self, name: str = "cell_accuracy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def _counts(self, scored, right):
        scored = ops.cast(scored, "float32")
        return ops.sum(ops.cast(right, "float32") * scored), ops.sum(scored)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ExampleAccuracy(_TraceAccuracy):
    """Fraction of examples whose scored cells are all right (the paper's success criterion is 100% of it)."""

    def __init__(self, name: str = "example_accuracy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def _counts(self, scored, right):
        all_right = ops.all(right, axis=-1)
        return ops.sum(ops.cast(all_right, "float32")), ops.cast(ops.shape(right)[0], "float32")


def answer_from_trace(trace: np.ndarray) -> np.ndarray:
    """`predict_memory` in numpy: int (batch, M) predicted cell values of a (batch, T, M, M + 1) trace."""
    trace = np.asarray(trace)
    memories, stops = trace[..., :-1], trace[:, :, 0, -1]
    return np.einsum("bt,btiv->biv", stops, memories).argmax(axis=-1).astype(np.int32)


def score(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Cell and whole-example accuracy of predicted tapes against targets (-1 = unscored), in plain numpy.

    Args:
        predicted: int (batch, M) from `predict_memory`.
        target: int (batch, M), -1 for unscored cells.

    Returns:
        {"cell_accuracy": ..., "example_accuracy": ...}.
    """
    scored = target >= 0
    right = (predicted == target) | ~scored
    return {
        "cell_accuracy": float(((predicted == target) & scored).sum() / max(scored.sum(), 1)),
        "example_accuracy": float(right.all(axis=1).mean()),
    }


def build_model(**model_kwargs: Any) -> keras.Model:
    """`build_nram` with the zoo entry's defaults (`MODEL_DEFAULTS`: memory_size=12, max_timesteps=6)."""
    return build_nram(**{**MODEL_DEFAULTS, **model_kwargs})


# The options the builder takes are NRAMCore's (memory_size included), with the builder's own defaults; the
# registry checks model_kwargs (and fills options missing from old records) against this signature, which the
# builder's `**model_kwargs` alone would hide.
build_model.__signature__ = inspect.Signature(
    [
        parameter.replace(
            kind=inspect.Parameter.KEYWORD_ONLY, default=MODEL_DEFAULTS.get(name, parameter.default)
        )
        for name, parameter in inspect.signature(NRAMCore.__init__).parameters.items()
        if name not in ("self", "kwargs")
    ]
)


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The stop-weighted log-likelihood loss with per-cell and whole-example accuracy."""
    return {"loss": NRAMLoss(), "metrics": [CellAccuracy(), ExampleAccuracy()]}
