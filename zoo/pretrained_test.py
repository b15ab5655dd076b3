"""zoo.load_pretrained (checks the sha256 recorded in the preset's metadata before loading), every declared
preset (loads, and re-measures to its recorded fixture metric) and the one exporter."""

from __future__ import annotations

import json
import os
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


# ------------------------------------------------------------------------------------------------ declared presets
DECLARED = pretrained.all_declared()


def test_every_shipped_preset_is_declared_and_every_declared_one_is_shipped():
    from zoo import registry

    declared = sorted((p.model, p.name) for p in DECLARED)
    shipped = sorted((name, preset) for name in registry.names() for preset in pretrained.presets(name))
    assert declared == shipped
    assert all(p.path == f"{p.model}/{p.file}" for p in DECLARED)


@pytest.mark.parametrize("preset", DECLARED, ids=lambda p: f"{p.model}/{p.name}")
def test_declared_preset_loads_and_remeasures_its_fixture_metric(preset):
    """The file matches its metadata's sha256, the metadata is complete and records the declared command, and the
    loaded preset re-measures to its recorded fixture metric, while an untrained model of its config does not."""
    import zoo

    metadata = pretrained.read_metadata(preset.model, preset.name)
    for key in ("command", "config", "metrics", "sha256", "keras_version", "date", "machine"):
        assert metadata.get(key) not in (None, ""), key
    assert metadata["file"] == preset.file and metadata["command"] == preset.command
    path = os.path.join(pretrained.saved_models_dir(), preset.path)
    assert os.path.getsize(path) < 5_000_000
    model = pretrained.load_pretrained(preset.model, preset.name)  # checks the sha256
    assert int(model.optimizer.iterations) > 0  # the optimizer state came along
    config = pretrained.run_config(metadata)
    recorded = preset.recorded(metadata)
    measured = preset.measure(model, config)
    assert abs(measured - recorded) <= preset.tolerance, (measured, recorded)

    keras.utils.set_random_seed(0)
    untrained = zoo.get(preset.model).build_model(**config.model_kwargs)
    control = preset.measure(untrained, config)
    assert abs(control - recorded) > preset.tolerance, control


def test_export_copies_the_run_and_records_the_declared_fixture_metric(tmp_path):
    """The one exporter, on a run whose model is the deep_mlp preset: the same file, and the same fixture metric."""
    preset = pretrained.declared("deep_mlp", "default")
    shipped = pretrained.read_metadata("deep_mlp", "default")
    workdir = tmp_path / "run"
    workdir.mkdir()
    source = os.path.join(pretrained.saved_models_dir(), preset.path)
    (workdir / "model.keras").write_bytes(open(source, "rb").read())
    results = {"config": shipped["config"], "metrics": shipped["metrics"], "data_info": {"dataset": "MNIST"}}
    (workdir / "results.json").write_text(json.dumps(results))
    metadata = pretrained.export(preset, str(workdir), "python train.py ...", str(tmp_path / "saved"))
    written = json.loads((tmp_path / "saved" / "deep_mlp" / "default.json").read_text())
    assert written == metadata
    assert (metadata["file"], metadata["sha256"], metadata["command"]) == (
        "default.keras",
        shipped["sha256"],
        "python train.py ...",
    )
    assert metadata["fixture_test_accuracy"] == pytest.approx(
        shipped["fixture_test_accuracy"], abs=preset.tolerance
    )
    assert metadata["data"] == {"dataset": "MNIST"} and metadata["config"] == shipped["config"]
    loaded = pretrained.load_pretrained("deep_mlp", "default", root=str(tmp_path / "saved"))
    assert loaded.count_params() > 0


def test_an_undeclared_preset_lists_the_declared_ones():
    with pytest.raises(
        ValueError, match=r"Model 'nram' declares no preset 'nope'. Declared: access, list_k\."
    ):
        pretrained.declared("nram", "nope")
