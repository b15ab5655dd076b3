"""The Neural Programmer (Neelakantan, Le, Sutskever 2015, arXiv 1511.04834), in Keras with keras.ops only.

A question RNN encodes the question. For T steps, a selector picks an operation and a column with softmaxes
conditioned on the question and a history RNN (fed the previous step's weighted operation and column
embeddings); every operation is applied to every column and the results are mixed by the two distributions. A
row selector (a soft set of rows) is carried from step to step; comparisons, "and", "or", "reset" and text
match produce row selectors, "sum", "count" and "difference" produce scalars, and "print" (the paper's
"assign") produces the lookup answer. The answer is the last step's scalar and lookup output.

Training uses soft selection throughout; at test time (training=False) every softmax becomes a one-hot argmax,
so the model runs a discrete program. Comparisons: the paper's are hard thresholds, which give the pivot
attention no gradient. Here, during training, "greater" is sigmoid((x - pivot) / comparison_temperature) (and
likewise "lesser"), so the attention that picks the pivot number learns too; comparison_temperature=0 gives
the paper's hard comparison in training as well. At test time comparisons are always exact.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import keras
from keras import ops

if TYPE_CHECKING:
    from zoo.config import TrainConfig

PACKAGE = "keras_gradnoise_zoo"
OPERATIONS = ("sum", "count", "difference", "greater", "lesser", "and", "or", "print", "reset")
TEXT_OPERATIONS = OPERATIONS + ("text_match",)
_MASKED_LOGIT = -1e9


@keras.saving.register_keras_serializable(package=PACKAGE)
class NeuralProgrammer(keras.Model):
    """The Neural Programmer on tables of numbers (and optionally text) with T discrete-operation steps.

    Args:
        vocabulary_size: number of word ids (question words and column names share the embedding); id 0 pads.
        embedding_dim: width of word, operation and column embeddings and of both RNNs (the paper uses 256).
        num_steps: T, the number of operation steps (the paper uses 4).
        text_match: adds the text-match operation (selects rows whose entry in the column is a question word).
        dropout: dropout rate on the question's word embeddings and on the selectors' input (training only).
        comparison_temperature: softness of "greater"/"lesser" in training (module docstring); 0 is hard.
        huber_delta: delta of the Huber loss on scalar answers (read by the zoo's compile_kwargs).
        lookup_loss_weight: lambda, the weight of the log loss on lookup answers (read by compile_kwargs).
        seed: seed of the weight initialization and the dropout masks.

    Inputs (a dict, see `zoo.neural_programmer.tables.encode`): question [B, Q] int, question_numbers [B, K],
    number_positions [B, K] int, number_mask [B, K], table [B, M, C], text_match [B, M, C],
    column_names [B, C] int, column_mask [B, C].

    Outputs: {"scalar": [B, 1], "lookup": [B, M, C]}; with `return_program=True` also "operations" [B, T, O]
    and "columns" [B, T, C] (the selection probabilities, one-hot at test time) and "pivots" [B, 2] (greater,
    lesser).
    """

    def __init__(
        self,
        vocabulary_size: int,
        embedding_dim: int = 64,
        num_steps: int = 4,
        text_match: bool = False,
        dropout: float = 0.0,
        comparison_temperature: float = 5.0,
        huber_delta: float = 10.0,
        lookup_loss_weight: float = 50.0,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        for name, value, low in (("vocabulary_size", vocabulary_size, 2), ("embedding_dim", embedding_dim, 1),
                                 ("num_steps", num_steps, 1)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")
        for name, value in (("comparison_temperature", comparison_temperature), ("huber_delta", huber_delta),
                            ("lookup_loss_weight", lookup_loss_weight)):  # fmt: skip
            if not isinstance(value, (int, float)) or value < 0 or (name == "huber_delta" and value == 0):
                relation = "> 0" if name == "huber_delta" else ">= 0"
                raise ValueError(f"{name} must be a number {relation}; got {value!r}.")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.num_steps = num_steps
        self.text_match = bool(text_match)
        self.dropout = float(dropout)
        self.comparison_temperature = float(comparison_temperature)
        self.huber_delta = float(huber_delta)
        self.lookup_loss_weight = float(lookup_loss_weight)
        self.seed = seed
        self.operations = TEXT_OPERATIONS if self.text_match else OPERATIONS
        self._op = {name: index for index, name in enumerate(self.operations)}

        init_seeds = iter(range(10**6))

        def init() -> keras.initializers.Initializer:
            # The paper initializes every weight uniformly in a small range; each weight gets its own seed.
            return keras.initializers.RandomUniform(
                -0.1, 0.1, seed=None if seed is None else seed + next(init_seeds)
            )

        self.word_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, embeddings_initializer=init(), name="word_embedding"
        )
        self.question_rnn = keras.layers.SimpleRNN(
            embedding_dim,
            return_sequences=True,
            return_state=True,
            kernel_initializer=init(),
            recurrent_initializer=init(),
            name="question_rnn",
        )
        self.operation_selector = keras.layers.Dense(
            embedding_dim, activation="tanh", kernel_initializer=init(), name="operation_selector"
        )
        self.column_selector = keras.layers.Dense(
            embedding_dim, activation="tanh", kernel_initializer=init(), name="column_selector"
        )
        self.history_rnn = keras.layers.Dense(
            embedding_dim, activation="tanh", kernel_initializer=init(), name="history_rnn"
        )
        self.embedding_dropout = keras.layers.Dropout(self.dropout, seed=seed)
        self.selector_dropout = keras.layers.Dropout(self.dropout, seed=None if seed is None else seed + 1)
        self.operation_embeddings = self.add_weight(
            shape=(len(self.operations), embedding_dim), initializer=init(), name="operation_embeddings"
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            embedding_dim=self.embedding_dim,
            num_steps=self.num_steps,
            text_match=self.text_match,
            dropout=self.dropout,
            comparison_temperature=self.comparison_temperature,
            huber_delta=self.huber_delta,
            lookup_loss_weight=self.lookup_loss_weight,
            seed=self.seed,
        )
        return config

    def build(self, input_shape: dict[str, Any]) -> None:
        dim = self.embedding_dim
        self.word_embedding.build((None, None))
        self.question_rnn.build((None, None, dim))
        self.operation_selector.build((None, 2 * dim))
        self.column_selector.build((None, 2 * dim))
        self.history_rnn.build((None, 3 * dim))
        self.built = True

    def _select(self, logits: Any, hard: bool) -> Any:
        if hard:
            return ops.one_hot(ops.argmax(logits, axis=-1), ops.shape(logits)[-1], dtype=logits.dtype)
        # Written out because keras.ops.softmax warns on a size-1 axis (a single-column table).
        exponentials = ops.exp(logits - ops.max(logits, axis=-1, keepdims=True))
        return exponentials / ops.sum(exponentials, axis=-1, keepdims=True)

    def call(
        self, inputs: dict[str, Any], training: bool = False, return_program: bool = False
    ) -> dict[str, Any]:
        hard = not training
        op = self._op
        question = ops.cast(inputs["question"], "int32")
        table = ops.cast(inputs["table"], self.compute_dtype)
        column_mask = ops.cast(inputs["column_mask"], self.compute_dtype)
        numbers = ops.cast(inputs["question_numbers"], self.compute_dtype)
        number_mask = ops.cast(inputs["number_mask"], self.compute_dtype)
        batch, num_rows = ops.shape(table)[0], ops.shape(table)[1]

        # Question module: an RNN over the words (the tokenizer took the numbers out); q is its last state.
        words = self.embedding_dropout(self.word_embedding(question), training=training)
        states, q = self.question_rnn(words, mask=ops.not_equal(question, 0), training=training)

        # Pivots: attention over the question numbers, scored by the RNN state at the word left of each
        # number against the comparison's embedding, so "greater 17 A and lesser 5 B" gives 17 to "greater".
        positions = ops.cast(inputs["number_positions"], "int32")
        left_states = ops.take_along_axis(states, ops.expand_dims(positions, -1), axis=1)  # [B, K, d]
        comparison_embeddings = ops.take(self.operation_embeddings, [op["greater"], op["lesser"]], axis=0)
        scores = ops.einsum("bkd,od->bok", left_states, comparison_embeddings)
        scores = scores + (1.0 - ops.expand_dims(number_mask, 1)) * _MASKED_LOGIT
        pivot_weights = self._select(scores, hard)
        pivots = ops.einsum("bok,bk->bo", pivot_weights, numbers)  # [B, 2]: greater, lesser
        greater_pivot = ops.reshape(pivots[:, 0], (-1, 1, 1))
        lesser_pivot = ops.reshape(pivots[:, 1], (-1, 1, 1))
        if hard or self.comparison_temperature == 0.0:
            greater = ops.cast(ops.greater(table, greater_pivot), self.compute_dtype)
            lesser = ops.cast(ops.less(table, lesser_pivot), self.compute_dtype)
        else:
            greater = ops.sigmoid((table - greater_pivot) / self.comparison_temperature)
            lesser = ops.sigmoid((lesser_pivot - table) / self.comparison_temperature)
        text_match = ops.cast(inputs["text_match"], self.compute_dtype)

        column_embeddings = self.word_embedding(ops.cast(inputs["column_names"], "int32"))  # [B, C, d]
        column_logit_mask = (1.0 - column_mask) * _MASKED_LOGIT
        ones = ops.ones((batch, num_rows), self.compute_dtype)
        zeros = ops.zeros((batch,), self.compute_dtype)
        history = ops.zeros((batch, self.embedding_dim), self.compute_dtype)
        previous_choice = ops.zeros((batch, 2 * self.embedding_dim), self.compute_dtype)
        # Row selectors of steps t-1 and t-2 start as all rows; scalar outputs of t-1, t-2, t-3 start at 0.
        rows_1, rows_2 = ones, ones
        scalar_1, scalar_2, scalar_3 = zeros, zeros, zeros
        operation_probs, column_probs = [], []
        lookup = None
        for _ in range(self.num_steps):
            history = self.history_rnn(ops.concatenate([previous_choice, history], axis=-1))
            selector_input = self.selector_dropout(ops.concatenate([q, history], axis=-1), training=training)
            operation_logits = ops.matmul(
                self.operation_selector(selector_input), ops.transpose(self.operation_embeddings)
            )
            column_hidden = self.column_selector(selector_input)
            column_logits = ops.einsum("bd,bcd->bc", column_hidden, column_embeddings) + column_logit_mask
            alpha_op = self._select(operation_logits, hard)  # [B, O]
            alpha_col = self._select(column_logits, hard)  # [B, C]

            def weight(name: str, alpha_op: Any = alpha_op) -> Any:
                return alpha_op[:, op[name]]

            # Scalar operations act on the previous step's row selector.
            column_sums = ops.einsum("bm,bmc->bc", rows_1, table)
            count = ops.sum(rows_1, axis=-1)
            scalar = (
                weight("sum") * ops.sum(alpha_col * column_sums, axis=-1)
                + weight("count") * count
                + weight("difference") * (scalar_3 - scalar_1)
            )
            # Row-selecting operations: comparisons and text match per column, logic on the last two rows.
            per_column = ops.expand_dims(ops.expand_dims(weight("greater"), -1), -1) * greater
            per_column = per_column + ops.expand_dims(ops.expand_dims(weight("lesser"), -1), -1) * lesser
            if self.text_match:
                per_column = (
                    per_column + ops.expand_dims(ops.expand_dims(weight("text_match"), -1), -1) * text_match
                )
            rows = (
                ops.einsum("bmc,bc->bm", per_column, alpha_col)
                + ops.expand_dims(weight("and"), -1) * ops.minimum(rows_1, rows_2)
                + ops.expand_dims(weight("or"), -1) * ops.maximum(rows_1, rows_2)
                + ops.expand_dims(weight("reset"), -1) * ones
            )
            lookup = ops.expand_dims(ops.expand_dims(weight("print"), -1), -1) * (
                ops.expand_dims(rows_1, -1) * ops.expand_dims(alpha_col, 1)
            )
            previous_choice = ops.concatenate(
                [
                    ops.matmul(alpha_op, self.operation_embeddings),
                    ops.einsum("bc,bcd->bd", alpha_col, column_embeddings),
                ],
                axis=-1,
            )
            rows_1, rows_2 = rows, rows_1
            scalar_1, scalar_2, scalar_3 = scalar, scalar_1, scalar_2
            operation_probs.append(alpha_op)
            column_probs.append(alpha_col)

        outputs = {"scalar": ops.expand_dims(scalar_1, -1), "lookup": lookup}
        if return_program:
            outputs.update(
                operations=ops.stack(operation_probs, axis=1),
                columns=ops.stack(column_probs, axis=1),
                pivots=pivots,
            )
        return outputs


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScalarAnswerLoss(keras.losses.Loss):
    """The paper's Huber loss on scalar answers, zero for lookup questions.

    y_true is [B, 2]: (answer, 1) for a scalar question, (anything, 0) for a lookup question; y_pred is [B,
    1].

    Args:
        delta: the Huber loss's delta: quadratic below it, linear above.
    """

    def __init__(self, delta: float = 10.0, name: str = "scalar_answer_loss", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.delta = float(delta)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        error = ops.abs(y_pred[:, 0] - y_true[:, 0])
        quadratic = ops.minimum(error, self.delta)
        huber = 0.5 * quadratic**2 + self.delta * (error - quadratic)
        return y_true[:, 1] * huber

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LookupAnswerLoss(keras.losses.Loss):
    """The paper's log loss on lookup answers, averaged over the M x C cells, zero for scalar questions.

    y_true is [B, M, C] with the 0/1 selected cells, or -1 everywhere for a scalar question; y_pred is [B, M,
    C].

    Args:
        epsilon: predictions are clipped to [epsilon, 1 - epsilon] (hard test-time outputs are exactly 0 or
        1).
    """

    def __init__(self, epsilon: float = 1e-6, name: str = "lookup_answer_loss", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.epsilon = float(epsilon)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        valid = ops.cast(ops.greater_equal(y_true, 0.0), y_pred.dtype)
        target = ops.maximum(y_true, 0.0)
        prediction = ops.clip(y_pred, self.epsilon, 1.0 - self.epsilon)
        log_loss = -(target * ops.log(prediction) + (1.0 - target) * ops.log(1.0 - prediction))
        return ops.mean(valid * log_loss, axis=(1, 2))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


def build_model(**model_kwargs: Any) -> NeuralProgrammer:
    """The Neural Programmer from config.model_kwargs (see NeuralProgrammer for the arguments)."""
    return NeuralProgrammer(**model_kwargs)


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The paper's objective: the Huber loss on scalar answers plus lambda times the log loss on lookups."""
    # The loss settings are NeuralProgrammer arguments (kept in its config), so their defaults are its own.
    parameters = inspect.signature(NeuralProgrammer).parameters
    settings = {
        key: config.model_kwargs.get(key, parameters[key].default)
        for key in ("huber_delta", "lookup_loss_weight")
    }
    return {
        "loss": {"scalar": ScalarAnswerLoss(settings["huber_delta"]), "lookup": LookupAnswerLoss()},
        "loss_weights": {"scalar": 1.0, "lookup": settings["lookup_loss_weight"]},
    }
