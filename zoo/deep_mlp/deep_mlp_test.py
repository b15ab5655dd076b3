"""Tests of the deep MLP: architecture, initializations, numpy forward pass, data, configs, Table 1 rows."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_gradnoise
import zoo
from keras_gradnoise.testing import assert_weights_equal
from zoo.deep_mlp.data import make_data
from zoo.deep_mlp.model import DeepMLP, build_model, compile_kwargs
from zoo.deep_mlp.paper import TABLE1
from zoo.metrics import BEST, MEAN, summarize_accuracy
from zoo.reproduce import restart_config

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "mnist_tiny.npz")
REPO = os.path.join(os.path.dirname(__file__), "..", "..")


def fixture():
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


def numpy_forward(model: DeepMLP, images: np.ndarray) -> np.ndarray:
    """The network computed with numpy from its weights: scale, flatten, ReLU layers, softmax."""
    x = images.reshape(len(images), -1).astype(np.float64) / 255.0
    for dense in model.hidden:
        x = np.maximum(x @ dense.kernel.numpy() + dense.bias.numpy(), 0.0)
    logits = x @ model.classifier.kernel.numpy() + model.classifier.bias.numpy()
    logits -= logits.max(axis=1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_architecture_is_the_papers():
    model = build_model(seed=0)
    assert len(model.hidden) == 20 and all(d.units == 50 for d in model.hidden)
    assert all(d.activation is keras.activations.relu for d in model.hidden)
    assert model.classifier.units == 10 and model.classifier.activation is keras.activations.softmax
    # 784*50+50 + 19*(50*50+50) + 50*10+10, counted by hand.
    assert model.count_params() == 39250 + 48450 + 510


# Sussillo & Abbott 2014, ReLU gain g = sqrt(2) exp(1.2 / (N - 2.4)) for N >= 6, worked out by hand:
# N = 784: exp(1.2 / 781.6) = 1.0015365 -> g = 1.4163865; N = 50: exp(1.2 / 47.6) = 1.0255306 -> g = 1.4503192.
_RANDOM_WALK_STD = {784: 1.4163865 / math.sqrt(784), 50: 1.4503192 / math.sqrt(50)}
_EXPECTED_STD = {
    "simple": {784: 0.1, 50: 0.1},
    "good": {784: math.sqrt(2 / 784), 50: math.sqrt(2 / 50)},
    "random_walk": _RANDOM_WALK_STD,
}


@pytest.mark.parametrize("init", ["simple", "good", "zero", "random_walk"])
def test_initializations(init):
    model = build_model(init=init, seed=1)
    first = model.hidden[0].kernel.numpy()  # 784 x 50 = 39200 samples
    deep = np.concatenate([d.kernel.numpy().ravel() for d in model.hidden[1:]])
    if init == "zero":
        assert not any(np.any(w.numpy()) for w in model.weights)
        return
    # Standard error of a sample std over n normal draws is std / sqrt(2n): 5 of those is a safe bound.
    for sample, expected in ((first, _EXPECTED_STD[init][784]),):
        assert abs(sample.std() / expected - 1) < 5 / math.sqrt(2 * sample.size)
        assert abs(sample.mean()) < 5 * expected / math.sqrt(sample.size)
    expected_deep = _EXPECTED_STD[init][50]
    assert abs(deep.std() / expected_deep - 1) < 5 / math.sqrt(2 * deep.size)
    assert not any(np.any(d.bias.numpy()) for d in model.hidden)


def test_forward_pass_matches_numpy_on_raw_uint8_images():
    images = fixture()["x_test"][:32]
    model = build_model(init="good", seed=3)
    np.testing.assert_allclose(model.predict(images, verbose=0), numpy_forward(model, images), atol=1e-5)


def test_dropout_only_in_training_and_seeded():
    images = fixture()["x_test"][:16]
    model = build_model(init="good", dropout=0.5, seed=4)
    np.testing.assert_allclose(model(images, training=False).numpy(), numpy_forward(model, images), atol=1e-5)
    assert not np.allclose(model(images, training=True).numpy(), numpy_forward(model, images), atol=1e-3)
    a = build_model(init="simple", seed=9).hidden[5].kernel.numpy()
    b = build_model(init="simple", seed=9).hidden[5].kernel.numpy()
    assert_weights_equal([a], [b])


def test_bad_arguments_name_the_argument():
    for kwargs, pattern in (
        ({"init": "xavier"}, "init must be one of simple, good, zero, random_walk"),
        ({"hidden_layers": 0}, "hidden_layers must be a positive integer"),
        ({"dropout": 1.0}, r"dropout must be a rate in \[0, 1\)"),
        ({"num_classes": 1}, "num_classes must be an integer >= 2"),
    ):
        with pytest.raises(ValueError, match=pattern):
            DeepMLP(**kwargs)


def test_config_and_keras_round_trip(tmp_path):
    model = build_model(hidden_layers=3, hidden_units=7, init="good", dropout=0.25, seed=11)
    config = model.get_config()
    for key, value in dict(hidden_layers=3, hidden_units=7, init="good", dropout=0.25, seed=11).items():
        assert config[key] == value
    model.compile(
        optimizer=keras_gradnoise.NoisySGD(learning_rate=0.1, eta=0.01, seed=1), **compile_kwargs(None)
    )
    data = fixture()
    model.fit(data["x_train"][:64], data["y_train"][:64], batch_size=32, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, DeepMLP) and int(loaded.optimizer.iterations.numpy()) == 2
    np.testing.assert_allclose(
        loaded.predict(data["x_test"], verbose=0), model.predict(data["x_test"], verbose=0)
    )


def test_zero_init_cannot_learn_without_noise_but_moves_with_it():
    """The paper's Experiment 6 premise: with all-zero weights every hidden gradient is exactly 0
    (ReLU'(0) = 0), so plain SGD only ever changes the output bias; gradient noise moves every weight."""
    data = fixture()
    kernels = {}
    for eta in (0.0, 0.01):
        keras.utils.set_random_seed(0)
        model = build_model(init="zero")
        model.compile(
            optimizer=keras_gradnoise.NoisySGD(learning_rate=0.1, eta=eta, seed=2), **compile_kwargs(None)
        )
        model.fit(data["x_train"], data["y_train"], batch_size=50, epochs=1, verbose=0)
        kernels[eta] = [d.kernel.numpy() for d in model.hidden] + [model.classifier.kernel.numpy()]
        if eta == 0.0:
            assert np.any(model.classifier.bias.numpy())
    assert not any(np.any(k) for k in kernels[0.0])
    assert all(np.all(k != 0) for k in kernels[0.01])


def test_make_data_on_fixture_and_its_evaluation():
    config = zoo.get("deep_mlp").config("smoke")
    task = make_data(config, None)
    images, labels = task.train
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8 and labels.shape == (300,)
    assert task.validation[0].shape == (100, 28, 28)
    assert task.info["train_examples"] == 300 and task.info["test_examples"] == 100
    small = make_data(config.replace(data_kwargs={"train_size": 40}), None)
    np.testing.assert_array_equal(small.train[0], images[:40])

    y_test = fixture()["y_test"]

    class Oracle:  # right on the first 37 test images, wrong on the rest: accuracy 0.37 by construction
        def predict(self, x, batch_size=None, verbose=0):
            answers = np.where(np.arange(len(x)) < 37, y_test, (y_test + 1) % 10)
            return np.eye(10)[answers]

    assert task.evaluate(Oracle()) == {"test_accuracy": pytest.approx(0.37)}


def test_make_data_rejects_bad_data_kwargs():
    entry = zoo.get("deep_mlp")
    config = entry.config("smoke")
    with pytest.raises(ValueError, match=r"Unknown data_kwargs key 'size'.*Accepted: source, train_size"):
        entry.check_options(config.replace(data_kwargs={"size": 3}))
    with pytest.raises(ValueError, match="train_size must be a positive integer or None"):
        make_data(config.replace(data_kwargs={"train_size": 0}), None)
    with pytest.raises(ValueError, match=r"train_size must be an integer in \[1, 300\]"):
        make_data(config.replace(data_kwargs={"train_size": 301}), None)
    with pytest.raises(ValueError, match="source must be one of mnist, fixture"):
        make_data(config.replace(data_kwargs={"source": "emnist"}), None)


def test_configs_follow_the_paper():
    entry = zoo.get("deep_mlp")
    for name in ("smoke", "default", "paper"):
        config = entry.config(name).validate()
        assert config.optimizer == "sgd" and not config.optimizer_kwargs  # no momentum
        assert config.clipnorm is None  # the paper's clipping is by the global norm
        assert "python train.py --model=deep_mlp --config=" + name in entry.configs[name].__doc__
    paper = entry.config("paper")
    assert (paper.learning_rate, paper.noise_eta, paper.global_clipnorm) == (0.1, 0.0, None)


def test_table1_rows_make_the_papers_runs():
    base = zoo.get("deep_mlp").config(TABLE1.config)
    settings = {s.name: s for s in TABLE1.settings}
    assert len(settings) == 13
    row = settings["exp3_simple_clip10_noise"]
    runs = [restart_config(base, row, r) for r in range(4)]
    assert [c.learning_rate for c in runs] == [0.1, 0.01, 0.1, 0.01]
    assert [c.seed for c in runs] == [0, 1, 2, 3]
    assert all(c.global_clipnorm == 10.0 and c.noise_eta == 0.01 and c.noise_gamma == 0.55 for c in runs)
    assert runs[0].model_kwargs == {"init": "simple"}
    zero = restart_config(base, settings["exp6_zero_clip10"], 0)
    assert (zero.model_kwargs["init"], zero.noise_eta) == ("zero", 0.0)
    assert settings["exp1_simple_noclip_noise"].paper == {BEST: 96.7, MEAN: 52.7}
    assert restart_config(base, settings["exp1_simple_noclip"], 0).global_clipnorm is None


def test_summarize_accuracy_by_hand():
    results = [
        {"metrics": {"test_accuracy": 0.9}},
        {"metrics": {"test_accuracy": 0.5}},
        {"metrics": {"test_accuracy": math.nan}},
    ]
    summary = summarize_accuracy(results)
    assert summary[BEST] == pytest.approx(90.0)
    assert summary[MEAN] == pytest.approx((90.0 + 50.0 + 0.0) / 3)
    assert all(math.isnan(v) for v in summarize_accuracy([]).values())


def test_trains_and_predicts_on_the_jax_backend():
    script = (
        "import numpy as np, keras, keras_gradnoise\n"
        "from zoo.deep_mlp.model import build_model\n"
        f"d = np.load({FIXTURE!r})\n"
        "m = build_model(init='good', seed=0)\n"
        "m.compile(optimizer=keras_gradnoise.NoisySGD(learning_rate=0.1, eta=0.01, seed=0), "
        "loss='sparse_categorical_crossentropy')\n"
        "h = m.fit(d['x_train'], d['y_train'], batch_size=50, epochs=2, verbose=0)\n"
        "p = m.predict(d['x_test'], verbose=0)\n"
        "print(keras.backend.backend(), p.shape, float(np.abs(p.sum(1) - 1).max()), h.history['loss'])\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr[-2000:]
    backend, *_ = out.stdout.split()
    assert backend == "jax" and "(100, 10)" in out.stdout
    losses = json.loads(out.stdout[out.stdout.index("[") :].replace("'", '"'))
    assert all(math.isfinite(v) for v in losses)
