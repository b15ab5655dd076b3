"""End-To-End Memory Network (Sukhbaatar, Szlam, Weston, Fergus 2015, arXiv 1503.08895) in keras.ops.

The configuration of the paper's bAbI experiments and of the authors' reference code (MemN2N-babi-matlab):
K hops over a memory of the last M statements, sentences embedded as position-weighted bags of words
("position encoding"), a learned embedding per memory age ("temporal encoding", with random time noise
applied by the data pipeline), adjacent weight tying (A^1 = B, A^{k+1} = C^k, W^T = C^K, and likewise for
the temporal embeddings) or layer-wise tying (one A and one C for every hop, B and W of their own, the paper's
section 2.2 "LW", with the linear map H between hops the paper adds to it: u^{k+1} = H u^k + o^k), the nil
word's embedding fixed at zero, and N(0, 0.1^2) initialization.

Linear start: while the non-trainable `use_softmax` variable is 0 the attention weights are the raw scores
m_i . u (no softmax); `LinearStart` sets it to 1 at a given epoch. Being a model variable, the switch works
inside compiled training steps and is saved with the model and its checkpoints.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.config import TrainConfig

PACKAGE = "keras_gradnoise_zoo"
LAYER_NAME = "memn2n"
WEIGHT_TYINGS = ("adjacent", "layerwise")


def position_encoding(sentence_size: int, embedding_dim: int) -> np.ndarray:
    """The position-encoding weights l[j, k] of the reference code, shape (sentence_size, embedding_dim).

    l[j, k] = 1 + 4 (k - (d + 1)/2) (j - (J + 1)/2) / (d J) with 1-based word position j, 1-based dimension k,
    J = sentence_size (the padded length, as in the reference code) and d = embedding_dim. Padding words
    have the nil embedding (zero), so their weights do not matter.
    """
    j = np.arange(1, sentence_size + 1, dtype=np.float64)[:, None]
    k = np.arange(1, embedding_dim + 1, dtype=np.float64)[None, :]
    encoding = 1 + 4 * (k - (embedding_dim + 1) / 2) * (j - (sentence_size + 1) / 2) / (
        embedding_dim * sentence_size
    )
    return encoding.astype("float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class MemoryNetwork(keras.layers.Layer):
    """The MemN2N core: (story, query, time) word ids -> answer logits over the vocabulary.

    Inputs (a dict): "story" (batch, memory_size, sentence_size) int word ids, 0 = nil; "query" (batch,
    sentence_size) int; "time" (batch, memory_size) int temporal ids, 0 for an empty slot, 1 for the newest
    statement, up to memory_size.

    Args (their defaults are `build_model`'s):
        vocab_size: number of words including the nil word at index 0; also the number of answer classes.
        memory_size: M, the number of memory slots (and of temporal embeddings).
        sentence_size: J, words per sentence and question after padding.
        embedding_dim: d.
        hops: K.
        linear_start_epochs: 0 trains with the attention softmax from the start (one-stage); n > 0 starts
            without it and `LinearStart` restores it at epoch n (two-stage).
        init_stddev: standard deviation of the normal initialization.
        weight_tying: "adjacent" (the reference code's share_type 1) or "layerwise" (share_type 2).
        hop_projection: learn a d x d map H with u^{k+1} = H u^k + o^k (the reference code's add_proj; the
            paper uses it with layer-wise tying); False: u^{k+1} = u^k + o^k.
    """

    def __init__(
        self,
        vocab_size: int,
        memory_size: int,
        sentence_size: int,
        embedding_dim: int,
        hops: int,
        linear_start_epochs: int,
        init_stddev: float,
        weight_tying: str = "adjacent",
        hop_projection: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value, minimum in (
            ("vocab_size", vocab_size, 2),
            ("memory_size", memory_size, 1),
            ("sentence_size", sentence_size, 1),
            ("embedding_dim", embedding_dim, 1),
            ("hops", hops, 1),
            ("linear_start_epochs", linear_start_epochs, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
        if not init_stddev > 0:
            raise ValueError(f"init_stddev must be > 0; got {init_stddev!r}.")
        if weight_tying not in WEIGHT_TYINGS:
            raise ValueError(f"weight_tying must be one of {WEIGHT_TYINGS}; got {weight_tying!r}.")
        if not isinstance(hop_projection, bool):
            raise ValueError(f"hop_projection must be True or False; got {hop_projection!r}.")
        self.vocab_size = vocab_size
        self.memory_size = memory_size
        self.sentence_size = sentence_size
        self.embedding_dim = embedding_dim
        self.hops = hops
        self.linear_start_epochs = linear_start_epochs
        self.init_stddev = init_stddev
        self.weight_tying = weight_tying
        self.hop_projection = hop_projection
        self._encoding = position_encoding(sentence_size, embedding_dim)

    def build(self, input_shape: Any = None) -> None:
        # Adjacent tying leaves hops + 1 distinct tables: table 0 is A^1 = B, table k is C^k = A^{k+1},
        # and the last one is also the output matrix W^T. Only real words (and ages 1..M) have rows; the nil
        # row is a constant zero prepended at lookup time, so it stays exactly zero under updates and noise.
        # One initializer instance per table: a single unseeded instance would repeat the same draw each call.
        def init() -> keras.initializers.Initializer:
            return keras.initializers.RandomNormal(stddev=self.init_stddev)

        def table(rows: int, name: str) -> Any:
            return self.add_weight(shape=(rows, self.embedding_dim), initializer=init(), name=name)

        if self.weight_tying == "adjacent":
            self.word_tables = [table(self.vocab_size - 1, f"words_{k}") for k in range(self.hops + 1)]
            self.time_tables = [table(self.memory_size, f"time_{k}") for k in range(self.hops + 1)]
        else:
            # Layer-wise: query B, memory input A, memory output C, answer W; A and C (words and ages) serve
            # every hop.
            self.word_tables = [table(self.vocab_size - 1, f"words_{n}") for n in ("B", "A", "C", "W")]
            self.time_tables = [table(self.memory_size, f"time_{n}") for n in ("A", "C")]
        self.projection = (
            self.add_weight(
                shape=(self.embedding_dim, self.embedding_dim), initializer=init(), name="hop_projection"
            )
            if self.hop_projection
            else None
        )
        self.use_softmax = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(0.0 if self.linear_start_epochs else 1.0),
            trainable=False,
            name="use_softmax",
        )

    def _with_nil(self, table: Any) -> Any:
        return ops.concatenate([ops.zeros((1, self.embedding_dim), dtype=table.dtype), table], axis=0)

    def _embed_sentences(self, table: Any, ids: Any) -> Any:
        # (..., J) ids -> (..., d): position-weighted sum over the words.
        return ops.sum(ops.take(table, ids, axis=0) * self._encoding, axis=-2)

    def call(self, inputs: dict[str, Any]) -> Any:
        story = ops.cast(inputs["story"], "int32")
        query = ops.cast(inputs["query"], "int32")
        time = ops.cast(inputs["time"], "int32")
        words = [self._with_nil(t) for t in self.word_tables]
        ages = [self._with_nil(t) for t in self.time_tables]
        if self.weight_tying == "adjacent":
            query_table, answer_table = words[0], words[self.hops]
            memories = [
                self._embed_sentences(words[k], story) + ops.take(ages[k], time, axis=0)
                for k in range(self.hops + 1)
            ]
            inputs_and_outputs = [(memories[k], memories[k + 1]) for k in range(self.hops)]
        else:
            query_table, answer_table = words[0], words[3]
            memory_in = self._embed_sentences(words[1], story) + ops.take(ages[0], time, axis=0)
            memory_out = self._embed_sentences(words[2], story) + ops.take(ages[1], time, axis=0)
            inputs_and_outputs = [(memory_in, memory_out)] * self.hops
        u = self._embed_sentences(query_table, query)
        use_softmax = ops.cast(self.use_softmax, u.dtype)
        for memory_in, memory_out in inputs_and_outputs:
            scores = ops.einsum("bmd,bd->bm", memory_in, u)
            weights = use_softmax * ops.softmax(scores, axis=-1) + (1.0 - use_softmax) * scores
            if self.projection is not None:
                u = ops.matmul(u, ops.transpose(self.projection))
            u = u + ops.einsum("bm,bmd->bd", weights, memory_out)
        return ops.matmul(u, ops.transpose(answer_table))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape["query"][0], self.vocab_size)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "memory_size": self.memory_size,
            "sentence_size": self.sentence_size,
            "embedding_dim": self.embedding_dim,
            "hops": self.hops,
            "linear_start_epochs": self.linear_start_epochs,
            "init_stddev": self.init_stddev,
            "weight_tying": self.weight_tying,
            "hop_projection": self.hop_projection,
        }


def build_model(
    vocab_size: int,
    memory_size: int = 50,
    sentence_size: int = 11,
    embedding_dim: int = 20,
    hops: int = 3,
    linear_start_epochs: int = 0,
    init_stddev: float = 0.1,
    weight_tying: str = "adjacent",
    hop_projection: bool = False,
) -> keras.Model:
    """A functional MemN2N model: inputs {"story", "query", "time"} -> answer logits (see `MemoryNetwork`).

    Reference: Sukhbaatar et al. 2015, "End-To-End Memory Networks", arXiv 1503.08895, section 4.

    Args:
        vocab_size: words including nil (`len(babi.build_vocabulary(...))`).
        memory_size: memory slots M (paper: 50).
        sentence_size: padded words per sentence J (bAbI 1k English: at most 11).
        embedding_dim: d (paper: 20).
        hops: K (paper: 3).
        linear_start_epochs: 0 for one-stage training; n > 0 removes the softmax until epoch n (two-stage).
        init_stddev: initialization standard deviation (paper: 0.1).
        weight_tying: "adjacent" (paper's default) or "layerwise" (the paper's "LW" columns).
        hop_projection: a learned d x d map H between hops, u^{k+1} = H u^k + o^k (the paper's LW models).

    Returns:
        An uncompiled keras.Model.
    """
    inputs = {
        "story": keras.Input((memory_size, sentence_size), dtype="int32", name="story"),
        "query": keras.Input((sentence_size,), dtype="int32", name="query"),
        "time": keras.Input((memory_size,), dtype="int32", name="time"),
    }
    core = MemoryNetwork(
        vocab_size,
        memory_size=memory_size,
        sentence_size=sentence_size,
        embedding_dim=embedding_dim,
        hops=hops,
        linear_start_epochs=linear_start_epochs,
        init_stddev=init_stddev,
        weight_tying=weight_tying,
        hop_projection=hop_projection,
        name=LAYER_NAME,
    )
    return keras.Model(inputs, core(inputs), name="memn2n")


def model_arguments(model_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """`build_model`'s arguments for `model_kwargs`: the given ones, and build_model's defaults for the others.

    Raises:
        TypeError: an argument build_model does not take, or no vocab_size.
    """
    bound = inspect.signature(build_model).bind(**model_kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """Summed (not averaged) cross-entropy over the batch, as in the reference code, so that lr 0.01 and clip
    norm 40 have the reference's meaning; plus accuracy."""
    return {
        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum"),
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


class LinearStart(keras.callbacks.Callback):
    """Two-stage training: no attention softmax before epoch `linear_start_epochs`, softmax from then on.

    Sets the model's `use_softmax` variable at the start of every epoch from the epoch index alone, so a
    resumed run is in the right stage. With linear_start_epochs = 0 it keeps the softmax on throughout.

    Args:
        linear_start_epochs: the first epoch (0-based) trained with the softmax.
    """

    def __init__(self, linear_start_epochs: int) -> None:
        super().__init__()
        self.linear_start_epochs = linear_start_epochs

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        layer = self.model.get_layer(LAYER_NAME)
        layer.use_softmax.assign(1.0 if epoch >= self.linear_start_epochs else 0.0)
