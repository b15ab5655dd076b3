"""zoo.load_pretrained: checks the sha256 recorded in the preset's metadata before loading."""

from __future__ import annotations

import json
import types

import keras
import numpy as np
import pytest

import keras_gradnoise
from keras_gradnoise.testing import assert_weights_equal
from zoo import pretrained
from zoo.datasets import sha256_file


@pytest.fixture
def saved_models(tmp_path, monkeypatch):
    # A registered name is required; the preset's contents need not be that model's.
    from zoo import registry

    monkeypatch.setattr(registry, "get", lambda name: None)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras_gradnoise.NoisySGD(learning_rate=0.1, eta=0.01, seed=3), loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    folder = tmp_path / "deep_mlp"
    folder.mkdir()
    model.save(folder / "noisy.keras")
    metadata = {
        "file": "noisy.keras",
        "sha256": sha256_file(str(folder / "noisy.keras")),
        "command": "python ...",
    }
    (folder / "noisy.json").write_text(json.dumps(metadata))
    return tmp_path, model


def test_loads_with_optimizer_state_and_checks_the_checksum(saved_models):
    root, model = saved_models
    loaded = pretrained.load_pretrained("deep_mlp", "noisy", root=str(root))
    assert_weights_equal(model.get_weights(), loaded.get_weights())
    assert int(loaded.optimizer.iterations) == 1
    assert isinstance(loaded.optimizer, keras_gradnoise.NoisySGD)


def test_the_only_preset_is_the_default(saved_models):
    root, model = saved_models
    loaded = pretrained.load_pretrained("deep_mlp", root=str(root))
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_modified_file_is_refused(saved_models):
    root, _ = saved_models
    with open(root / "deep_mlp" / "noisy.keras", "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ValueError, match="does not match its metadata: sha256"):
        pretrained.load_pretrained("deep_mlp", "noisy", root=str(root))


def test_an_unknown_preset_lists_the_available_ones(saved_models):
    root, _ = saved_models
    with pytest.raises(
        ValueError, match=r"No pretrained preset 'large' for model 'deep_mlp'.*Available: noisy\."
    ):
        pretrained.load_pretrained("deep_mlp", "large", root=str(root))


def test_a_model_without_presets_says_none(tmp_path, monkeypatch):
    from zoo import registry

    monkeypatch.setattr(registry, "get", lambda name: None)
    with pytest.raises(ValueError, match="Available: none"):
        pretrained.load_pretrained("nram", root=str(tmp_path))


def test_a_declared_default_preset_is_loaded_when_there_are_several(saved_models, monkeypatch):
    from zoo import registry

    root, model = saved_models
    folder = root / "deep_mlp"
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.save(folder / "other.keras")
    metadata = {"file": "other.keras", "sha256": sha256_file(str(folder / "other.keras")), "command": "-"}
    (folder / "other.json").write_text(json.dumps(metadata))
    # Two presets, none called "default", none declared: the error lists both.
    with pytest.raises(ValueError, match=r"No pretrained preset 'default'.*Available: noisy, other\."):
        pretrained.load_pretrained("deep_mlp", root=str(root))
    # The registry entry names one: that one is loaded.
    monkeypatch.setattr(registry, "get", lambda name: types.SimpleNamespace(default_preset="noisy"))
    loaded = pretrained.load_pretrained("deep_mlp", root=str(root))
    assert_weights_equal(model.get_weights(), loaded.get_weights())


@pytest.mark.parametrize("name, expected", [("neural_gpu", "badd20"), ("nram", "access")])
def test_models_with_several_shipped_presets_load_their_declared_default(name, expected):
    assert expected in pretrained.presets(name)  # shipped in saved_models/
    assert pretrained.default_preset(name) == expected
    weights = pretrained.load_pretrained(name, compile=False).get_weights()
    for other in pretrained.presets(name):
        other_weights = pretrained.load_pretrained(name, other, compile=False).get_weights()
        same = len(weights) == len(other_weights) and all(
            a.shape == b.shape and np.array_equal(a, b) for a, b in zip(weights, other_weights)
        )
        assert same == (other == expected), other
