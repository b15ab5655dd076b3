"""The Neural Random-Access Machine (Kurach, Andrychowicz & Sutskever 2015, arXiv 1511.06392) in Keras 3.

The machine has R registers and a memory tape of M cells; every register and cell holds a probability
distribution over the integers {0..M-1}, so the whole machine is differentiable. At every timestep the
controller (an LSTM or a feed-forward net) sees only P(register i = 0) for each register and emits:
  * for every module argument, a softmax over the registers and the outputs of the modules before it;
  * for every register, a softmax over the registers and all module outputs: the register's next value;
  * a stop probability f_t.
The 14 modules (zoo.nram.modules) run in order; WRITE updates the tape. The stop distribution is
p_t = f_t * prod_{s<t} (1 - f_s) for t < T and p_T = 1 - sum_{t<T} p_t, with T the example's step budget, and
the loss is -sum_t p_t sum_{scored cells i} log(max(M_t[i, y_i], eps)) (`NRAMLoss`).

The model's output is a "trace" of shape (batch, max_timesteps, M, M + 1): trace[..., :M] is the memory tape
after each step and trace[:, t, :, M] is p_t (repeated over cells). `NRAMLoss`, `CellAccuracy`,
`ExampleAccuracy` and `predict_memory` read it. Steps after an example's budget get p_t = 0.

Gradient clipping: the paper clips twice. Here the first clip is per coordinate of the gradient of every
weight (`gradient_clip_value`, done inside the model with a custom gradient so it is the same on every
backend) and the second is the optimizer's `global_clipnorm` (TrainConfig.global_clipnorm). The gradient noise
of keras_gradnoise is then added after both clips by the noisy optimizer.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.nram import modules

_PACKAGE = "keras_gradnoise_zoo"
_CONTROLLERS = ("lstm", "feedforward")


def _clip_gradient(value: float):
    """An identity whose gradient is clipped coordinate-wise to [-value, value]."""

    @ops.custom_gradient
    def identity(x):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.clip(upstream, -value, value)

        return x, grad

    return identity


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NRAMCore(keras.layers.Layer):
    """The NRAM's registers, memory tape, modules and controller, run for `max_timesteps` steps.

    Kurach, Andrychowicz & Sutskever 2015, "Neural Random-Access Machines", arXiv 1511.06392, section 3.

    Args:
        memory_size: M, the number of memory cells and of integer values (pointers are values).
        num_registers: R, the number of registers; they start as the point distribution on 0.
        max_timesteps: steps the graph runs; an example stops at its own budget (input `timesteps`), clipped
        here. controller: "lstm" or "feedforward".
        hidden_units: width of the controller's LSTM state or hidden layer.
        gradient_clip_value: if set, every coordinate of every weight's gradient is clipped to this range (the
            paper's first clip; the second is the optimizer's global_clipnorm).
        entropy_weight: initial weight of the entropy bonus: the loss gets -entropy_weight * mean entropy of
            the controller's selection distributions. A non-trainable weight, so a callback can anneal it.
        **kwargs: keras.layers.Layer arguments.
    """

    def __init__(
        self,
        memory_size: int,
        num_registers: int = 4,
        max_timesteps: int = 10,
        controller: str = "lstm",
        hidden_units: int = 64,
        gradient_clip_value: float | None = None,
        entropy_weight: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_int("memory_size", memory_size, 3)
        _check_int("num_registers", num_registers, 1)
        _check_int("max_timesteps", max_timesteps, 1)
        _check_int("hidden_units", hidden_units, 1)
        if controller not in _CONTROLLERS:
            raise ValueError(f"controller must be one of {_CONTROLLERS}; got {controller!r}.")
        if gradient_clip_value is not None and not gradient_clip_value > 0:
            raise ValueError(f"gradient_clip_value must be > 0 or None; got {gradient_clip_value!r}.")
        if not entropy_weight >= 0:
            raise ValueError(f"entropy_weight must be >= 0; got {entropy_weight!r}.")
        self.memory_size = memory_size
        self.num_registers = num_registers
        self.max_timesteps = max_timesteps
        self.controller = controller
        self.hidden_units = hidden_units
        self.gradient_clip_value = gradient_clip_value
        self.entropy_weight_init = float(entropy_weight)
        # Logit layout of the controller's output: per module argument a softmax over the R registers and the
        # outputs of the modules before it, then per register a softmax over R + Q candidates, then f_t.
        self._argument_slices: list[list[tuple[int, int]]] = []
        offset = 0
        for index, name in enumerate(modules.MODULE_NAMES):
            width = num_registers + index
            self._argument_slices.append([(offset + k * width, width) for k in range(modules.ARITY[name])])
            offset += modules.ARITY[name] * width
        self._register_offset = offset
        self._num_candidates = num_registers + len(modules.MODULE_NAMES)
        self._stop_offset = offset + num_registers * self._num_candidates
        self._num_logits = self._stop_offset + 1
        self._tables = {
            name: modules.operation_table(name, memory_size)
            for name in modules.MODULE_NAMES
            if name in modules.INTEGER_OPS and modules.ARITY[name] == 2
        }
        self._unary_tables = {
            name: modules.operation_table(name, memory_size)[:, 0, :]
            for name in modules.MODULE_NAMES
            if name in modules.INTEGER_OPS and modules.ARITY[name] == 1
        }

    def build(self, memory_values_shape, timesteps_shape=None) -> None:
        r, h = self.num_registers, self.hidden_units
        if self.controller == "lstm":
            self.kernel = self.add_weight(shape=(r, 4 * h), initializer="glorot_uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(
                shape=(h, 4 * h), initializer="orthogonal", name="recurrent_kernel"
            )
            # Forget-gate bias 1 so the LSTM starts by remembering (Jozefowicz et al. 2015).
            bias = np.zeros(4 * h, dtype="float32")
            bias[h : 2 * h] = 1.0
            self.bias = self.add_weight(
                shape=(4 * h,), initializer=keras.initializers.Constant(bias), name="bias"
            )
        else:
            self.kernel = self.add_weight(shape=(r, h), initializer="glorot_uniform", name="kernel")
            self.bias = self.add_weight(shape=(h,), initializer="zeros", name="bias")
        self.output_kernel = self.add_weight(
            shape=(h, self._num_logits), initializer="glorot_uniform", name="output_kernel"
        )
        self.output_bias = self.add_weight(shape=(self._num_logits,), initializer="zeros", name="output_bias")
        self.entropy_weight = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.entropy_weight_init),
            trainable=False,
            name="entropy_weight",
        )
        self.built = True

    def _weights_for_step(self) -> dict[str, Any]:
        names = ["kernel", "bias", "output_kernel", "output_bias"]
        if self.controller == "lstm":
            names.append("recurrent_kernel")
        tensors = {name: ops.convert_to_tensor(getattr(self, name)) for name in names}
        if self.gradient_clip_value is not None:
            # Reading each weight once through the clipping identity makes the clip act on the weight's total
            # gradient (summed over all timesteps), i.e. exactly on the coordinates the optimizer sees.
            clip = _clip_gradient(float(self.gradient_clip_value))
            tensors = {name: clip(tensor) for name, tensor in tensors.items()}
        return tensors

    def call(self, memory_values, timesteps):
        m, r = self.memory_size, self.num_registers
        dtype = self.compute_dtype
        w = self._weights_for_step()
        batch = ops.shape(memory_values)[0]
        memory = ops.one_hot(ops.cast(memory_values, "int32"), m, dtype=dtype)
        # Every register starts as the point distribution on 0.
        registers = ops.cast(ops.broadcast_to(modules.constant(0, 1, m)[:, None, :], (batch, r, m)), dtype)
        budget = ops.minimum(ops.cast(timesteps, "int32"), self.max_timesteps)
        constants = {
            "ZERO": ops.cast(modules.constant(0, batch, m), dtype),
            "ONE": ops.cast(modules.constant(1, batch, m), dtype),
            "TWO": ops.cast(modules.constant(2, batch, m), dtype),
        }
        tables = {name: ops.cast(table, dtype) for name, table in self._tables.items()}
        unary_tables = {name: ops.cast(table, dtype) for name, table in self._unary_tables.items()}

        def step_fn(carry, step):
            memory, registers, h, c, running, _, _ = carry
            zero_probs = registers[:, :, 0]
            if self.controller == "lstm":
                gates = ops.matmul(zero_probs, w["kernel"]) + ops.matmul(h, w["recurrent_kernel"]) + w["bias"]
                i, f, g, o = ops.split(gates, 4, axis=-1)
                c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
                h = ops.sigmoid(o) * ops.tanh(c)
            else:
                h = ops.tanh(ops.matmul(zero_probs, w["kernel"]) + w["bias"])
            logits = ops.matmul(h, w["output_kernel"]) + w["output_bias"]
            candidates = registers
            step_entropy = ops.zeros((batch,), dtype=dtype)
            for index, name in enumerate(modules.MODULE_NAMES):
                arguments = []
                for start, width in self._argument_slices[index]:
                    if width == 1:  # a single candidate (READ with one register): nothing to choose
                        arguments.append(candidates[:, 0])
                        continue
                    weights = ops.softmax(logits[:, start : start + width], axis=-1)
                    step_entropy = step_entropy + _entropy(weights)
                    arguments.append(ops.einsum("bk,bkm->bm", weights, candidates))
                if name == "READ":
                    output = modules.read(memory, arguments[0])
                elif name == "WRITE":
                    memory = modules.write(memory, arguments[0], arguments[1])
                    output = constants["ZERO"]
                elif name in constants:
                    output = constants[name]
                elif name in unary_tables:
                    output = ops.matmul(arguments[0], unary_tables[name])
                else:
                    output = modules.apply_table(tables[name], arguments[0], arguments[1])
                candidates = ops.concatenate([candidates, ops.expand_dims(output, 1)], axis=1)
            register_logits = ops.reshape(
                logits[:, self._register_offset : self._stop_offset], (-1, r, self._num_candidates)
            )
            register_weights = ops.softmax(register_logits, axis=-1)
            step_entropy = step_entropy + ops.sum(_entropy(register_weights), axis=-1)
            registers = ops.einsum("brk,bkm->brm", register_weights, candidates)
            stop = ops.sigmoid(logits[:, self._stop_offset])
            is_last = ops.cast(ops.equal(budget, step), dtype)
            is_before = ops.cast(ops.less(step, budget), dtype)
            stop_prob = is_last * running + is_before * stop * running
            running = running * (1.0 - stop * is_before)
            step_entropy = step_entropy * ops.cast(ops.less_equal(step, budget), dtype)
            carry = (memory, registers, h, c, running, stop_prob, step_entropy)
            # The TensorFlow backend's scan needs the per-step outputs to mirror the carry.
            return carry, carry

        # One traced step body (scan) instead of an unrolled loop keeps graph construction time independent of
        # max_timesteps.
        initial = (
            memory,
            registers,
            ops.zeros((batch, self.hidden_units), dtype=dtype),
            ops.zeros((batch, self.hidden_units), dtype=dtype),
            ops.ones((batch,), dtype=dtype),  # prod_{s<t} (1 - f_s): the mass not yet stopped
            ops.zeros((batch,), dtype=dtype),  # p_t of the step
            ops.zeros((batch,), dtype=dtype),  # entropy of the step's selections
        )
        steps = ops.arange(1, self.max_timesteps + 1, dtype="int32")
        _, (memories, _, _, _, _, stops, entropies) = ops.scan(step_fn, initial, steps)
        trace_memory = ops.transpose(memories, (1, 0, 2, 3))  # (batch, T, M, M)
        stop_probs = ops.transpose(stops, (1, 0))  # (batch, T)
        stop_channel = ops.broadcast_to(stop_probs[:, :, None, None], (batch, self.max_timesteps, m, 1))
        mean_entropy = ops.mean(ops.sum(entropies, axis=0) / ops.cast(budget, dtype))
        self.add_loss(-ops.cast(self.entropy_weight, dtype) * mean_entropy)
        return ops.concatenate([trace_memory, stop_channel], axis=-1)

    def compute_output_shape(self, memory_values_shape, timesteps_shape=None):
        return (memory_values_shape[0], self.max_timesteps, self.memory_size, self.memory_size + 1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            memory_size=self.memory_size,
            num_registers=self.num_registers,
            max_timesteps=self.max_timesteps,
            controller=self.controller,
            hidden_units=self.hidden_units,
            gradient_clip_value=self.gradient_clip_value,
            entropy_weight=self.entropy_weight_init,
        )
        return config


def _entropy(probabilities):
    return -ops.sum(probabilities * ops.log(ops.maximum(probabilities, 1e-12)), axis=-1)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")


def build_nram(
    memory_size: int = 12,
    num_registers: int = 4,
    max_timesteps: int = 10,
    controller: str = "lstm",
    hidden_units: int = 64,
    gradient_clip_value: float | None = None,
    entropy_weight: float = 0.0,
) -> keras.Model:
    """A functional NRAM: inputs {"memory": int (batch, M), "timesteps": int (batch,)} -> trace.

    Kurach, Andrychowicz & Sutskever 2015, arXiv 1511.06392. Arguments are those of `NRAMCore`.

    Returns:
        An uncompiled keras.Model whose output is the (batch, max_timesteps, M, M + 1) trace described in the
        module docstring.
    """
    memory = keras.Input((memory_size,), dtype="int32", name="memory")
    timesteps = keras.Input((), dtype="int32", name="timesteps")
    core = NRAMCore(
        memory_size=memory_size,
        num_registers=num_registers,
        max_timesteps=max_timesteps,
        controller=controller,
        hidden_units=hidden_units,
        gradient_clip_value=gradient_clip_value,
        entropy_weight=entropy_weight,
        name="nram_core",
    )
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

    def __init__(self, log_eps: float = 1e-6, name: str = "nram_loss", **kwargs: Any) -> None:
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


class _TraceAccuracy(keras.metrics.Metric):
    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def _counts(self, scored, right):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        scored = ops.greater_equal(y_true, 0)
        right = ops.logical_or(ops.equal(predict_memory(y_pred), y_true), ops.logical_not(scored))
        correct, total = self._counts(scored, right)
        self.correct.assign_add(ops.cast(correct, self.dtype))
        self.total.assign_add(ops.cast(total, self.dtype))

    def result(self):
        return ops.divide_no_nan(self.correct, self.total)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)


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
