"""The NRAM's machine as one Keras layer, `NRAMCore`: the controller, the 14 modules' circuit, the registers
and the memory tape, unrolled over the step budget. zoo/nram/model.py describes the machine and its trace and
builds the model around this layer.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.nram import modules

_PACKAGE = "keras_gradnoise_zoo"
_CONTROLLERS = ("lstm", "feedforward")
_ACTIVATIONS = ("relu", "tanh")
_WRITE_OUTPUTS = ("value", "zero")
# The paper's controllers (section 4.1): an LSTM with one hidden layer between its input and the LSTM cells, or
# an MLP with two hidden layers.
_PAPER_CONTROLLER_LAYERS = {"lstm": 1, "feedforward": 2}
# The paper's log(max(x, eps)) guard, one eps for the loss and the entropy (section 4.1).
LOG_EPS = 1e-6


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


def renormalize(x):
    """Rescales the last axis of `x` to sum to 1; the backward pass treats this as the identity.

    The paper's "enforcing distribution constraints": after hundreds of soft operations, rounding lets a
    distribution drift from summing to 1, so it is multiplied by the inverse of its sum at the critical places,
    without backpropagating through the rescaling.
    """
    total = ops.sum(x, axis=-1, keepdims=True)
    return x + ops.stop_gradient(x / ops.maximum(total, 1e-30) - x)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NRAMCore(keras.layers.Layer):
    """The NRAM's registers, memory tape, modules and controller, run for `max_timesteps` steps.

    Kurach, Andrychowicz & Sutskever 2015, "Neural Random-Access Machines", arXiv 1511.06392, section 3.

    Args:
        memory_size: M, the number of memory cells and of integer values (pointers are values).
        num_registers: R, the number of registers; they start as the point distribution on 0.
        max_timesteps: steps the graph runs; an example stops at its own budget (input `timesteps`), clipped
            here.
        controller: "lstm" or "feedforward".
        hidden_units: width of every controller layer (the paper's layers are all equally wide).
        gradient_clip_value: if set, the gradient with respect to every activation of the machine is clipped
            coordinate-wise to this range during backpropagation (the paper's first clip, C1; the second is the
            optimizer's global_clipnorm).
        entropy_weight: initial weight of the entropy bonus: the loss gets -entropy_weight * mean entropy of
            the controller's selection distributions. A non-trainable weight, so a callback can anneal it.
        controller_layers: hidden layers of the controller: for "lstm" the layers between its input and the
            LSTM cell, for "feedforward" the MLP's hidden layers. None: the paper's (1 and 2).
        activation: nonlinearity of those layers; the paper uses ReLU everywhere.
        write_output: what WRITE returns to the circuit: "value" (the value written, appendix C) or "zero".
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
        controller_layers: int | None = None,
        activation: str = "relu",
        write_output: str = "value",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_int("memory_size", memory_size, 3)
        _check_int("num_registers", num_registers, 1)
        _check_int("max_timesteps", max_timesteps, 1)
        _check_int("hidden_units", hidden_units, 1)
        if controller not in _CONTROLLERS:
            raise ValueError(f"controller must be one of {_CONTROLLERS}; got {controller!r}.")
        if controller_layers is None:
            controller_layers = _PAPER_CONTROLLER_LAYERS[controller]
        _check_int("controller_layers", controller_layers, 0 if controller == "lstm" else 1)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}; got {activation!r}.")
        if write_output not in _WRITE_OUTPUTS:
            raise ValueError(f"write_output must be one of {_WRITE_OUTPUTS}; got {write_output!r}.")
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
        self.controller_layers = int(controller_layers)
        self.activation = activation
        self.write_output = write_output
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

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> NRAMCore:
        """Configs saved before `controller_layers` existed describe the architecture they were trained with.

        That architecture had no ReLU layer before the LSTM (an MLP controller had one tanh layer) and a WRITE
        that returned 0; filling these in keeps such saved models (the shipped presets) loadable and unchanged.
        """
        config = dict(config)
        if "controller_layers" not in config:
            config["controller_layers"] = 0 if config.get("controller", "lstm") == "lstm" else 1
            config.setdefault("activation", "tanh")
            config.setdefault("write_output", "zero")
        return super().from_config(config)

    def build(self, memory_values_shape, timesteps_shape=None) -> None:
        r, h = self.num_registers, self.hidden_units
        # Creation order fixes the saved variables' order: the hidden layers come first, so a legacy MLP (one
        # layer) and a legacy LSTM (none) keep the variable order they were saved with.
        self.hidden_kernels, self.hidden_biases = [], []
        width = r
        for i in range(self.controller_layers):
            self.hidden_kernels.append(
                self.add_weight(shape=(width, h), initializer="glorot_uniform", name=f"hidden_kernel_{i}")
            )
            self.hidden_biases.append(
                self.add_weight(shape=(h,), initializer="zeros", name=f"hidden_bias_{i}")
            )
            width = h
        if self.controller == "lstm":
            self.kernel = self.add_weight(shape=(width, 4 * h), initializer="glorot_uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(
                shape=(h, 4 * h), initializer="orthogonal", name="recurrent_kernel"
            )
            # Forget-gate bias 1 so the LSTM starts by remembering (Jozefowicz et al. 2015).
            bias = np.zeros(4 * h, dtype="float32")
            bias[h : 2 * h] = 1.0
            self.bias = self.add_weight(
                shape=(4 * h,), initializer=keras.initializers.Constant(bias), name="bias"
            )
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

    def call(self, memory_values, timesteps):
        m, r = self.memory_size, self.num_registers
        dtype = self.compute_dtype
        if self.gradient_clip_value is None:

            def clip(x):
                return x

        else:
            clip = _clip_gradient(float(self.gradient_clip_value))
        activation = ops.relu if self.activation == "relu" else ops.tanh
        hidden = [
            (ops.convert_to_tensor(kernel), ops.convert_to_tensor(bias))
            for kernel, bias in zip(self.hidden_kernels, self.hidden_biases)
        ]
        names = ["output_kernel", "output_bias"] + (
            ["kernel", "recurrent_kernel", "bias"] if self.controller == "lstm" else []
        )
        w = {name: ops.convert_to_tensor(getattr(self, name)) for name in names}
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

        def select(logits):
            return renormalize(ops.softmax(logits, axis=-1))

        def step_fn(carry, step):
            memory, registers, h, c, running, _, _ = carry
            x = registers[:, :, 0]  # P(register i = 0): the controller's only input
            for kernel, bias in hidden:
                x = clip(activation(ops.matmul(x, kernel) + bias))
            if self.controller == "lstm":
                gates = ops.matmul(x, w["kernel"]) + ops.matmul(h, w["recurrent_kernel"]) + w["bias"]
                i, f, g, o = ops.split(gates, 4, axis=-1)
                c = clip(ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g))
                h = clip(ops.sigmoid(o) * ops.tanh(c))
                x = h
            logits = clip(ops.matmul(x, w["output_kernel"]) + w["output_bias"])
            candidates = registers
            step_entropy = ops.zeros((batch,), dtype=dtype)
            for index, name in enumerate(modules.MODULE_NAMES):
                arguments = []
                for start, width in self._argument_slices[index]:
                    if width == 1:  # a single candidate (READ with one register): nothing to choose
                        arguments.append(candidates[:, 0])
                        continue
                    weights = select(logits[:, start : start + width])
                    step_entropy = step_entropy + _entropy(weights)
                    arguments.append(ops.einsum("bk,bkm->bm", weights, candidates))
                if name == "READ":
                    output = modules.read(memory, arguments[0])
                elif name == "WRITE":
                    memory = clip(renormalize(modules.write(memory, arguments[0], arguments[1])))
                    output = arguments[1] if self.write_output == "value" else constants["ZERO"]
                elif name in constants:
                    output = constants[name]
                elif name in unary_tables:
                    output = ops.matmul(arguments[0], unary_tables[name])
                else:
                    output = modules.apply_table(tables[name], arguments[0], arguments[1])
                output = clip(renormalize(output))
                candidates = ops.concatenate([candidates, ops.expand_dims(output, 1)], axis=1)
            register_logits = ops.reshape(
                logits[:, self._register_offset : self._stop_offset], (-1, r, self._num_candidates)
            )
            register_weights = select(register_logits)
            step_entropy = step_entropy + ops.sum(_entropy(register_weights), axis=-1)
            registers = clip(renormalize(ops.einsum("brk,bkm->brm", register_weights, candidates)))
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
            controller_layers=self.controller_layers,
            activation=self.activation,
            write_output=self.write_output,
        )
        return config


def _entropy(probabilities):
    return -ops.sum(probabilities * ops.log(ops.maximum(probabilities, LOG_EPS)), axis=-1)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
