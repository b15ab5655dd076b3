"""The Neural GPU (Kaiser & Sutskever 2015, arXiv 1511.08228) written with keras.ops only.

A Neural GPU keeps a state "tape" of shape [batch, length, height, nmaps]. The input symbols are embedded into the
first row of that tape, then the same stack of convolutional gated recurrent units (CGRUs) is applied to it once
per input position, so a sequence of length n takes n steps. All steps share one set of weights, which is what lets
a model trained on 20-symbol inputs run unchanged on 200-symbol inputs. The output symbol at each position is read
from the first row of the final tape.

The step loop is `keras.ops.fori_loop`: on TensorFlow it becomes a `tf.while_loop` whose trip count may be a
dynamic tensor (one traced graph serves every length); on JAX the length is a Python int of the compiled shape, so
the loop lowers to `lax.scan`, which reverse-mode differentiation supports.

Differences from the public reference (tensorflow/models research/neural_gpu, TF1): no "parameter sharing
relaxation", no decoder/beam search (that is the later Extended Neural GPU), and the symbol embedding goes straight
into the first row of the tape instead of through an extra 1x1 convolution.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from zoo.config import TrainConfig
from zoo.neural_gpu import tasks
from zoo.ratio_metric import RunningRatio

PACKAGE = "keras_gradnoise_zoo"
_DROPOUT_SEED_KEY = "dropout_seed_state"


def sigmoid_cutoff(x: Any, cutoff: float) -> Any:
    """The reference's saturating gate: clip(cutoff * sigmoid(x) - (cutoff - 1) / 2, 0, 1).

    With cutoff > 1 the gate reaches exactly 0 and 1 for finite inputs, so a trained CGRU can copy its state
    unchanged over hundreds of steps, which the long-length generalization depends on.

    Args:
        x: pre-activation tensor.
        cutoff: 1.0 gives the plain sigmoid; the reference uses 1.2.

    Returns:
        Tensor of the same shape with values in [0, 1].
    """
    y = ops.sigmoid(x)
    if cutoff <= 1.0:
        return y
    return ops.clip(cutoff * y - (cutoff - 1.0) / 2.0, 0.0, 1.0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class CGRU(keras.layers.Layer):
    """One convolutional gated recurrent unit over a [batch, length, height, nmaps] tape.

    u = sigmoid_cutoff(conv(s, U) + b_u), r = sigmoid_cutoff(conv(s, R) + b_r),
    CGRU(s) = u * s + (1 - u) * tanh(conv(r * s, W) + b).

    Args:
        nmaps: number of channels of the tape.
        kernel_width: kernel extent along the length axis (3 in the paper).
        kernel_height: kernel extent along the height axis (3 in the paper).
        cutoff: the gates' sigmoid cutoff (1.2 in the paper).
        init_scale: gain of the orthogonal kernel initializer.
    """

    def __init__(
        self,
        nmaps: int,
        kernel_width: int = 3,
        kernel_height: int = 3,
        cutoff: float = 1.2,
        init_scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.nmaps = nmaps
        self.kernel_width = kernel_width
        self.kernel_height = kernel_height
        self.cutoff = cutoff
        self.init_scale = init_scale

    def build(self, input_shape: Any) -> None:
        shape = (self.kernel_width, self.kernel_height, self.nmaps)
        init = keras.initializers.Orthogonal(gain=self.init_scale)
        self.gate_kernel = self.add_weight(
            name="gate_kernel", shape=(*shape, 2 * self.nmaps), initializer=init
        )
        # Gate biases start at 1 as in the reference: the update gate starts mostly open (copying the state).
        self.gate_bias = self.add_weight(name="gate_bias", shape=(2 * self.nmaps,), initializer="ones")
        self.candidate_kernel = self.add_weight(
            name="candidate_kernel", shape=(*shape, self.nmaps), initializer=init
        )
        self.candidate_bias = self.add_weight(name="candidate_bias", shape=(self.nmaps,), initializer="zeros")

    def call(self, state: Any) -> Any:
        gates = ops.conv(state, self.gate_kernel, padding="same") + self.gate_bias
        update = sigmoid_cutoff(gates[..., : self.nmaps], self.cutoff)
        reset = sigmoid_cutoff(gates[..., self.nmaps :], self.cutoff)
        candidate = ops.tanh(
            ops.conv(reset * state, self.candidate_kernel, padding="same") + self.candidate_bias
        )
        return update * state + (1.0 - update) * candidate

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "nmaps": self.nmaps,
            "kernel_width": self.kernel_width,
            "kernel_height": self.kernel_height,
            "cutoff": self.cutoff,
            "init_scale": self.init_scale,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class NeuralGPU(keras.Model):
    """The Neural GPU of Kaiser & Sutskever 2015 (arXiv 1511.08228), used in section 4.5 of Neelakantan et al. 2015.

    Input: int symbols [batch, length] (0 = padding). Output: logits [batch, length, vocab_size]. The model runs
    `length` steps, each applying `num_layers` CGRUs with tied weights across steps.

    The model also holds `curriculum_length`, a non-trainable int variable with the current curriculum length, so
    that a checkpoint or a `.keras` file restores the curriculum together with the weights (the curriculum callback
    reads and writes it; the forward pass does not use it).

    Args:
        vocab_size: number of symbols, padding (0) included.
        nmaps: channels of the state tape (24 in the paper).
        height: rows of the state tape (4 in the paper).
        num_layers: CGRUs applied per step (2 in the paper).
        kernel_width: CGRU kernel extent along the length axis (3).
        kernel_height: CGRU kernel extent along the height axis (3).
        cutoff: the gates' sigmoid cutoff (1.2).
        dropout: dropout scale; at length n the tape is dropped at rate min(0.5, dropout * 3 / sqrt(n)) before
            each step while training (the reference's length scaling: longer runs apply dropout more often).
        init_scale: gain of the orthogonal initializer of the CGRU kernels.
        initial_curriculum_length: starting value of `curriculum_length`.
        mask_padding: as the 2015 reference code: zero the state at padding positions after every CGRU, and read
            each example's output after as many steps as it has symbols (not after the padded length). The result
            of an example is then the same however much padding follows it. Off by default (and in models saved
            before it existed): the tape then runs over the padding for the full padded length.
    """

    def __init__(
        self,
        vocab_size: int = 5,
        nmaps: int = 24,
        height: int = 4,
        num_layers: int = 2,
        kernel_width: int = 3,
        kernel_height: int = 3,
        cutoff: float = 1.2,
        dropout: float = 0.0,
        init_scale: float = 1.0,
        initial_curriculum_length: int = 1,
        mask_padding: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(mask_padding, bool):
            raise ValueError(f"mask_padding must be True or False; got {mask_padding!r}.")
        _check_int("vocab_size", vocab_size, 2)
        _check_int("nmaps", nmaps, 1)
        _check_int("height", height, 1)
        _check_int("num_layers", num_layers, 1)
        _check_int("kernel_width", kernel_width, 1)
        _check_int("kernel_height", kernel_height, 1)
        _check_int("initial_curriculum_length", initial_curriculum_length, 1)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")
        if cutoff < 1.0:
            raise ValueError(f"cutoff must be >= 1.0 (1.0 = plain sigmoid); got {cutoff!r}.")
        self.vocab_size = vocab_size
        self.nmaps = nmaps
        self.height = height
        self.num_layers = num_layers
        self.kernel_width = kernel_width
        self.kernel_height = kernel_height
        self.cutoff = cutoff
        self.dropout = dropout
        self.init_scale = init_scale
        self.initial_curriculum_length = initial_curriculum_length
        self.mask_padding = mask_padding
        self.embedding = keras.layers.Embedding(
            vocab_size,
            nmaps,
            embeddings_initializer=keras.initializers.RandomUniform(-1.7, 1.7),
            name="embedding",
        )
        self.cgrus = [
            CGRU(nmaps, kernel_width, kernel_height, cutoff, init_scale, name=f"cgru_{i}")
            for i in range(num_layers)
        ]
        self.output_projection = keras.layers.Dense(vocab_size, name="output_projection")
        # Seeded from the global seed (keras.utils.set_random_seed), so the dropout stream follows config.seed.
        self.dropout_seed = keras.random.SeedGenerator(name="dropout_seed")
        self.curriculum_length = self.add_weight(
            name="curriculum_length",
            shape=(),
            dtype="int32",
            initializer=keras.initializers.Constant(initial_curriculum_length),
            trainable=False,
        )

    def build(self, input_shape: Any) -> None:
        self.embedding.build(input_shape)
        tape_shape = (input_shape[0], input_shape[1], self.height, self.nmaps)
        for cgru in self.cgrus:
            cgru.build(tape_shape)
        self.output_projection.build((input_shape[0], input_shape[1], self.nmaps))

    def call(self, symbols: Any, training: bool | None = None) -> Any:
        symbols = ops.cast(symbols, "int32")
        # Padding embeds to zero (the reference pins row 0 of its embedding to zeros).
        not_padding = ops.cast(ops.expand_dims(symbols > 0, -1), self.compute_dtype)
        embedded = self.embedding(symbols) * not_padding
        first_row = ops.expand_dims(embedded, 2)
        rest = ops.zeros_like(ops.repeat(first_row, self.height - 1, axis=2))
        tape = ops.concatenate([first_row, rest], axis=2)

        length = ops.shape(symbols)[1]
        rate = 0.0
        keep_masks = None
        if training and self.dropout > 0.0:
            # Masks for all steps are drawn before the loop: a seed generator's state cannot advance inside a
            # JAX scan body.
            length_float = ops.cast(length, "float32")
            rate = ops.minimum(0.5, self.dropout * 3.0 / ops.sqrt(length_float))
            uniform = keras.random.uniform((length, *ops.shape(tape)), seed=self.dropout_seed)
            keep_masks = ops.cast(uniform >= rate, tape.dtype) / (1.0 - rate)

        batch = ops.shape(symbols)[0]
        if not self.mask_padding:

            def step(index: Any, current: Any) -> Any:
                if keep_masks is not None:
                    current = current * ops.take(keep_masks, index, axis=0)
                for cgru in self.cgrus:
                    current = cgru(current)
                return current

            tape = ops.fori_loop(0, length, step, tape)
            first_row = tape[:, :, 0, :]
        else:
            # The inputs are contiguous symbols followed by padding, and every task's result is no longer than
            # its input, so the input's non-padding positions are the positions the reference keeps.
            tape_mask = ops.expand_dims(not_padding, 2)  # [batch, length, 1, 1]
            last_index = ops.cast(ops.sum(ops.cast(symbols > 0, "int32"), axis=1), "int32") - 1

            def masked_step(index: Any, carry: Any) -> Any:
                current, output = carry
                if keep_masks is not None:
                    current = current * ops.take(keep_masks, index, axis=0)
                for cgru in self.cgrus:
                    current = cgru(current) * tape_mask
                # Keep the first row of the step at which each example's own length is reached.
                done = ops.cast(ops.equal(last_index, index), current.dtype)
                output = output + current[:, :, 0, :] * ops.reshape(done, (-1, 1, 1))
                return current, output

            _, first_row = ops.fori_loop(
                0, length, masked_step, (tape * tape_mask, ops.zeros_like(tape[:, :, 0, :]))
            )
        # Projected as a 2-D matrix: on TensorFlow the gradient of a dense layer applied to a 3-D tensor of
        # dynamic length has shape (None, vocab_size), and optimizers need every gradient's static shape.
        first_row = ops.reshape(first_row, (-1, self.nmaps))
        return ops.reshape(self.output_projection(first_row), (batch, length, self.vocab_size))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], input_shape[1], self.vocab_size)

    def save_own_variables(self, store: Any) -> None:
        super().save_own_variables(store)
        # Keras does not save seed-generator states in .keras files; without this a reloaded model would redraw
        # the dropout masks it already used, and a continued training run would diverge from the original.
        store[_DROPOUT_SEED_KEY] = self.dropout_seed.state

    def load_own_variables(self, store: Any) -> None:
        own = self._trainable_variables + self._non_trainable_variables
        keys = set(store.keys())
        expected = {str(i) for i in range(len(own))}
        if not expected <= keys or len(keys - expected - {_DROPOUT_SEED_KEY}) > 0:
            raise ValueError(
                f"The saved NeuralGPU holds variables {sorted(keys)}, but this model has {len(own)} own variables "
                f"(plus {_DROPOUT_SEED_KEY!r}); was it saved from a different configuration?"
            )
        for i, variable in enumerate(own):
            variable.assign(store[str(i)])
        if _DROPOUT_SEED_KEY in keys:
            self.dropout_seed.state.assign(store[_DROPOUT_SEED_KEY])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "nmaps": self.nmaps,
            "height": self.height,
            "num_layers": self.num_layers,
            "kernel_width": self.kernel_width,
            "kernel_height": self.kernel_height,
            "cutoff": self.cutoff,
            "dropout": self.dropout,
            "init_scale": self.init_scale,
            "initial_curriculum_length": self.initial_curriculum_length,
            "mask_padding": self.mask_padding,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedSequenceCrossentropy(keras.losses.Loss):
    """Softmax cross-entropy averaged over each example's non-padding target positions (target symbol > 0).

    Positions whose target is padding are not scored, as in the reference: the model is free to emit anything
    after the result's last digit.
    """

    def __init__(self, name: str = "masked_sequence_crossentropy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        targets = ops.cast(y_true, "int32")
        mask = ops.cast(targets > 0, y_pred.dtype)
        per_position = ops.sparse_categorical_crossentropy(targets, y_pred, from_logits=True)
        return ops.sum(per_position * mask, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


class _MaskedErrorBase(RunningRatio):
    """The bit and sequence error metrics: errors over a total, each subclass counting them in one batch's wrong
    non-padding positions (`_counts`)."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, count_name="errors", **kwargs)

    def _counts(self, wrong: Any, mask: Any) -> tuple[Any, Any]:
        """The errors and the total of one batch, from its masked wrong positions and its mask."""
        raise NotImplementedError

    def batch_counts(self, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        targets = ops.cast(y_true, "int32")
        mask = ops.cast(targets > 0, "float32")
        wrong = ops.cast(ops.not_equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), targets), "float32")
        return self._counts(wrong * mask, mask)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BitError(_MaskedErrorBase):
    """Fraction of non-padding target positions whose argmax symbol is wrong (the reference's "errors")."""

    def __init__(self, name: str = "bit_error", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def _counts(self, wrong: Any, mask: Any) -> tuple[Any, Any]:
        return ops.sum(wrong), ops.sum(mask)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SequenceError(_MaskedErrorBase):
    """Fraction of examples with at least one wrong non-padding target position."""

    def __init__(self, name: str = "sequence_error", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def _counts(self, wrong: Any, mask: Any) -> tuple[Any, Any]:
        return ops.sum(ops.cast(ops.max(wrong, axis=-1) > 0, "float32")), ops.cast(
            ops.shape(wrong)[0], "float32"
        )


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")


def dropout_rate(dropout: float, length: int) -> float:
    """The per-step dropout rate the model uses at `length` (for docs and tests)."""
    return min(0.5, dropout * 3.0 / math.sqrt(length))


def build_model(**model_kwargs: Any) -> NeuralGPU:
    """An unbuilt NeuralGPU over the binary-arithmetic vocabulary; see `NeuralGPU` for the arguments."""
    return NeuralGPU(**{"vocab_size": tasks.VOCAB_SIZE, **model_kwargs})


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """Masked cross-entropy loss with per-bit and per-sequence error metrics."""
    return {"loss": MaskedSequenceCrossentropy(), "metrics": [BitError(), SequenceError()]}
