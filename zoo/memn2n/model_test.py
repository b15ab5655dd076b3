"""MemN2N model tests: position encoding values, the forward pass against a plain-numpy MemN2N, the
linear-start switch inside compiled functions, the nil word, serialization, data options and configs."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_gradnoise
from zoo.memn2n import ENTRY
from zoo.memn2n.data import make_data
from zoo.memn2n.model import LAYER_NAME, LinearStart, build_model, compile_kwargs, position_encoding

V, M, S, D, K = 12, 5, 4, 3, 3


def test_position_encoding_hand_values():
    # J = 2, d = 2: l = 1 + (k - 1.5)(j - 1.5).
    np.testing.assert_allclose(position_encoding(2, 2), [[1.25, 0.75], [0.75, 1.25]])
    # J = 3, d = 2: l = 1 + (2/3)(k - 1.5)(j - 2), i.e. 1 -+ (1/3)(j - 2) in dimension 1 / 2.
    np.testing.assert_allclose(position_encoding(3, 2), [[4 / 3, 2 / 3], [1, 1], [2 / 3, 4 / 3]], rtol=1e-6)
    # One dimension: every weight is 1 (a bag of words).
    np.testing.assert_allclose(position_encoding(4, 1), np.ones((4, 1)))
    # The middle word of an odd sentence is weighted 1 in every dimension.
    np.testing.assert_allclose(position_encoding(3, 4)[1], 1.0)


def random_inputs(rng: np.random.Generator, batch: int = 6) -> dict[str, np.ndarray]:
    story = rng.integers(1, V, size=(batch, M, S))
    story[:, :, -1] = 0  # padded word slots
    num = rng.integers(1, M + 1, size=batch)
    time = np.zeros((batch, M), np.int32)
    for b, n in enumerate(num):
        story[b, n:] = 0  # empty memory slots
        time[b, :n] = np.arange(n, 0, -1)
    query = rng.integers(1, V, size=(batch, S))
    query[:, -2:] = 0
    return {"story": story.astype("int32"), "query": query.astype("int32"), "time": time}


def numpy_memn2n(model: keras.Model, inputs: dict[str, np.ndarray], softmax: bool) -> np.ndarray:
    """MemN2N written out per example with loops, from the paper's equations and the layer's raw tables.

    Adjacent tying (section 2.2): A^1 = B, A^{k+1} = C^k, W^T = C^K. Layer-wise: A^k = A, C^k = C for every hop,
    B and W separate. With a hop projection H, u^{k+1} = H u^k + o^k, else u^k + o^k.
    """
    layer = model.get_layer(LAYER_NAME)
    weights = {w.path.split("/")[-1]: keras.ops.convert_to_numpy(w) for w in layer.weights}

    def with_nil(name: str) -> np.ndarray:
        return np.vstack([np.zeros((1, D)), weights[name]])

    if layer.weight_tying == "adjacent":
        query_words, answer_words = with_nil("words_0"), with_nil(f"words_{K}")
        hop_in = [(with_nil(f"words_{k}"), with_nil(f"time_{k}")) for k in range(K)]
        hop_out = [(with_nil(f"words_{k + 1}"), with_nil(f"time_{k + 1}")) for k in range(K)]
    else:
        query_words, answer_words = with_nil("words_B"), with_nil("words_W")
        hop_in = [(with_nil("words_A"), with_nil("time_A"))] * K
        hop_out = [(with_nil("words_C"), with_nil("time_C"))] * K
    projection = weights.get("hop_projection")

    weights_by_position = position_encoding(S, D)  # checked against hand-computed values above

    def embed(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
        out = np.zeros(D)
        for j, word in enumerate(ids):
            for k in range(D):
                out[k] += weights_by_position[j, k] * table[word, k]
        return out

    logits = []
    for b in range(len(inputs["query"])):
        u = embed(query_words, inputs["query"][b])
        for hop in range(K):
            (a_words, a_ages), (c_words, c_ages) = hop_in[hop], hop_out[hop]
            m = [
                embed(a_words, s) + a_ages[t]
                for s, t in zip(inputs["story"][b], inputs["time"][b], strict=True)
            ]
            c = [
                embed(c_words, s) + c_ages[t]
                for s, t in zip(inputs["story"][b], inputs["time"][b], strict=True)
            ]
            scores = np.array([mi @ u for mi in m])
            p = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum() if softmax else scores
            o = sum(pi * ci for pi, ci in zip(p, c, strict=True))
            u = (projection @ u if projection is not None else u) + o
        logits.append(answer_words @ u)
    return np.array(logits)


def small_model(linear_start_epochs: int = 0, **kwargs) -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_model(
        V,
        memory_size=M,
        sentence_size=S,
        embedding_dim=D,
        hops=K,
        linear_start_epochs=linear_start_epochs,
        **kwargs,
    )


@pytest.mark.parametrize(
    "tying",
    [
        {},
        {"hop_projection": True},
        {"weight_tying": "layerwise", "hop_projection": True},
        {"weight_tying": "layerwise"},
    ],
)
@pytest.mark.parametrize("softmax", [True, False])
def test_forward_matches_numpy_reference(tying, softmax):
    model = small_model(linear_start_epochs=0 if softmax else 1, **tying)
    inputs = random_inputs(np.random.default_rng(0))
    np.testing.assert_allclose(
        model.predict(inputs, verbose=0), numpy_memn2n(model, inputs, softmax), rtol=1e-4, atol=1e-5
    )


def test_layerwise_tying_has_one_a_and_one_c_for_all_hops():
    layer = small_model(weight_tying="layerwise", hop_projection=True).get_layer(LAYER_NAME)
    shapes = sorted((w.path.split("/")[-1], tuple(w.shape)) for w in layer.trainable_weights)
    assert shapes == sorted(
        [(f"words_{n}", (V - 1, D)) for n in "BACW"]
        + [(f"time_{n}", (M, D)) for n in "AC"]
        + [("hop_projection", (D, D))]
    )


def test_adjacent_tying_has_hops_plus_one_tables():
    layer = small_model().get_layer(LAYER_NAME)
    shapes = sorted((w.path.split("/")[-1], tuple(w.shape)) for w in layer.trainable_weights)
    assert shapes == sorted(
        [(f"words_{k}", (V - 1, D)) for k in range(K + 1)] + [(f"time_{k}", (M, D)) for k in range(K + 1)]
    )
    # N(0, 0.1) initialization, an independent draw per table.
    first = [keras.ops.convert_to_numpy(w)[0] for w in layer.trainable_weights]
    assert len({tuple(np.round(row, 6)) for row in first}) == len(first)
    values = np.concatenate([keras.ops.convert_to_numpy(w).ravel() for w in layer.trainable_weights])
    assert abs(values.std() - 0.1) < 0.015 and abs(values.mean()) < 0.015


def test_linear_start_switch_reaches_compiled_functions():
    model = small_model(linear_start_epochs=1)
    inputs = random_inputs(np.random.default_rng(1))
    layer = model.get_layer(LAYER_NAME)
    assert float(layer.use_softmax) == 0.0
    np.testing.assert_allclose(
        model.predict(inputs, verbose=0), numpy_memn2n(model, inputs, False), rtol=1e-4, atol=1e-5
    )
    switch = LinearStart(1)
    switch.set_model(model)
    switch.on_epoch_begin(1)
    # The same traced predict function must now use the softmax.
    np.testing.assert_allclose(
        model.predict(inputs, verbose=0), numpy_memn2n(model, inputs, True), rtol=1e-4, atol=1e-5
    )
    switch.on_epoch_begin(0)  # a run resumed in epoch 0 goes back to the linear stage
    assert float(layer.use_softmax) == 0.0


def test_linear_start_during_fit():
    model = small_model(linear_start_epochs=1)
    model.compile(optimizer=keras.optimizers.SGD(0.01), **compile_kwargs(ENTRY.config("smoke")))
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(self.model.get_layer(LAYER_NAME).use_softmax))

    inputs = random_inputs(np.random.default_rng(2), batch=8)
    model.fit(
        inputs, np.arange(8) % V, batch_size=4, epochs=3, callbacks=[LinearStart(1), Record()], verbose=0
    )
    assert seen == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0]


def test_nil_word_stays_zero_under_noisy_training():
    model = small_model()
    model.compile(
        optimizer=keras_gradnoise.NoisySGD(learning_rate=0.1, eta=10.0, seed=1), **compile_kwargs(None)
    )
    inputs = random_inputs(np.random.default_rng(3), batch=8)
    model.fit(inputs, np.arange(8) % V, batch_size=4, epochs=2, verbose=0)
    # W^T = C^K includes the nil row, so the nil answer's logit stays exactly 0.
    assert np.all(model.predict(inputs, verbose=0)[:, 0] == 0.0)
    # An all-nil query with all-nil, timeless memories reads nothing: every logit is 0.
    empty = {key: np.zeros_like(value) for key, value in inputs.items()}
    assert np.all(model.predict(empty, verbose=0) == 0.0)


@pytest.mark.parametrize("tying", [{}, {"weight_tying": "layerwise", "hop_projection": True}])
def test_keras_round_trip_keeps_the_stage(tmp_path, tying):
    model = small_model(linear_start_epochs=3, **tying)
    model.get_layer(LAYER_NAME).use_softmax.assign(1.0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert float(loaded.get_layer(LAYER_NAME).use_softmax) == 1.0
    config = loaded.get_layer(LAYER_NAME).get_config()
    assert config["linear_start_epochs"] == 3
    assert (config["weight_tying"], config["hop_projection"]) == (
        tying.get("weight_tying", "adjacent"),
        tying.get("hop_projection", False),
    )
    inputs = random_inputs(np.random.default_rng(4))
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocab_size": 1}, "vocab_size"),
        ({"vocab_size": 10, "hops": 0}, "hops"),
        ({"vocab_size": 10, "init_stddev": 0}, "init_stddev"),
        (
            {"vocab_size": 10, "weight_tying": "rnn"},
            r"weight_tying must be one of \('adjacent', 'layerwise'\)",
        ),
        ({"vocab_size": 10, "hop_projection": 1}, "hop_projection must be True or False"),
    ],
)
def test_bad_model_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(**kwargs)


def test_make_data_on_fixture():
    config = ENTRY.config("smoke")
    data = make_data(config, None)
    # The fixture's train file has 18 stories x 5 questions; the last 10% are held out.
    assert (data.info["num_train"], data.info["num_val"], data.info["num_test"]) == (81, 9, 15)
    assert data.info["official_files"] is False
    x, y = data.validation
    assert x["story"].shape == (9, 50, 11) and y.shape == (9,)
    assert len(data.train) == math.ceil(81 / config.batch_size)


def test_evaluate_counts_errors_per_task():
    config = ENTRY.config("smoke")
    data = make_data(config, None)
    model = build_model(**config.model_kwargs)
    metrics = data.evaluate(model)
    assert set(metrics) == {"train_error", "val_error", "test_error", "test_error_qa1"}
    # An untrained model predicting a constant word: its error is the share of other answers.
    x, y = data.validation
    predicted = np.argmax(model.predict(x, verbose=0), axis=-1)
    assert metrics["val_error"] == pytest.approx(np.mean(predicted != y))


@pytest.mark.parametrize(
    "data_kwargs, message",
    [
        ({"tasks": [0]}, "1..20"),
        ({"tasks": "some"}, "1..20"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"time_noise": "0.1"}, "time_noise must be in"),
        ({"fixture": 1}, "fixture must be True or False"),
    ],
)
def test_bad_data_options(data_kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_data(ENTRY.config("smoke").replace(data_kwargs=data_kwargs), None)


def test_unknown_data_options_are_refused_by_the_entry():
    with pytest.raises(ValueError, match="Unknown data_kwargs key 'shuffle'"):
        ENTRY.check_options(ENTRY.config("smoke").replace(data_kwargs={"shuffle": True}))


def test_importing_the_constants_does_not_import_keras():
    script = "import sys, zoo.memn2n.babi_facts, zoo.memn2n.paper; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_vocab_size_must_cover_the_vocabulary():
    with pytest.raises(ValueError, match="vocab_size"):
        make_data(ENTRY.config("smoke").replace(model_kwargs={"vocab_size": 20}), None)


def test_config_docstrings_hold_their_command():
    for name, function in ENTRY.configs.items():
        assert f"python train.py --model=memn2n --config={name} --workdir=" in function.__doc__, name
        ENTRY.config(name).validate()
    assert {"smoke", "default", "paper"} <= set(ENTRY.configs)


def test_reproduction_summary_against_hand_values():
    results = [
        {"metrics": {"train_error": 0.1, "val_error": 0.2, "test_error": 0.3}},
        {"metrics": {"train_error": 0.2, "val_error": 0.3, "test_error": 0.5}},
    ]
    row = ENTRY.reproduction.summarize(results)
    assert row == {
        "train_error": 15.0,
        "val_error": 25.0,
        "test_error": 40.0,
        "test_error_std": 10.0,
        "restarts": 2,
    }
    assert os.path.basename(ENTRY.reproduction.config) in ENTRY.configs
