"""Checkpoint files: atomic writes, what counts as a valid checkpoint, and refusing foreign or corrupt ones."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest

from keras_gradnoise.testing import assert_weights_equal
from zoo import checkpoint


def _model(units: int = 3) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units), keras.layers.Dropout(0.5)])
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse", metrics=["mae"])
    model.fit(np.ones((8, 4)), np.ones((8, units)), verbose=0, epochs=2)
    return model


def test_save_restore_round_trips_every_training_variable(tmp_path):
    model = _model()
    before = [np.array(v) for v in checkpoint.training_variables(model)]
    names = [v.path for v in checkpoint.training_variables(model)]
    # Model weights, the dropout RNG state, metric accumulators and optimizer state (incl. iterations).
    assert any("seed_generator" in n for n in names) and any(n.endswith("iteration") for n in names)
    assert any("total" in n for n in names)
    checkpoint.save(str(tmp_path), model, epoch=2, step=0, history={"loss": [1.0, 0.5]}, callback_states={})
    other = _model()
    other.fit(np.zeros((8, 4)), np.zeros((8, 3)), verbose=0)  # different state
    metadata = checkpoint.restore(str(tmp_path), other)
    assert (metadata["epoch"], metadata["step"], metadata["history"]) == (2, 0, {"loss": [1.0, 0.5]})
    assert_weights_equal(before, [np.array(v) for v in checkpoint.training_variables(other)])


def test_latest_names_only_complete_files_and_old_ones_are_removed(tmp_path):
    model = _model()
    first = checkpoint.save(str(tmp_path), model, epoch=1, step=0, history={}, callback_states={})
    second = checkpoint.save(str(tmp_path), model, epoch=1, step=5, history={}, callback_states={})
    assert not os.path.exists(first) and os.path.exists(second)
    # A crash between writing a new .npz and its metadata leaves a stray file that is never used.
    stray = os.path.join(tmp_path, checkpoint.CHECKPOINT_DIR, "state-00002-0000000.npz")
    with open(stray, "wb") as f:
        f.write(b"half written")
    assert checkpoint.read_metadata(str(tmp_path))["file"] == os.path.basename(second)
    checkpoint.restore(str(tmp_path), _model())
    leftovers = [
        f for f in os.listdir(os.path.join(tmp_path, checkpoint.CHECKPOINT_DIR)) if f.endswith(".tmp")
    ]
    assert leftovers == []


def test_a_workdir_without_metadata_holds_no_checkpoint(tmp_path):
    os.makedirs(tmp_path / checkpoint.CHECKPOINT_DIR)
    (tmp_path / checkpoint.CHECKPOINT_DIR / "state-00001-0000000.npz").write_bytes(b"x")
    assert not checkpoint.exists(str(tmp_path))
    with pytest.raises(checkpoint.CheckpointError, match="No checkpoint in"):
        checkpoint.restore(str(tmp_path), _model())


def test_corrupt_file_is_refused(tmp_path):
    path = checkpoint.save(str(tmp_path), _model(), epoch=1, step=0, history={}, callback_states={})
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(checkpoint.CheckpointError, match="is corrupt: its sha256 differs"):
        checkpoint.restore(str(tmp_path), _model())


def test_checkpoint_of_another_model_is_refused(tmp_path):
    checkpoint.save(str(tmp_path), _model(units=3), epoch=1, step=0, history={}, callback_states={})
    with pytest.raises(checkpoint.CheckpointError, match="different model"):
        checkpoint.restore(str(tmp_path), _model(units=5))


def test_truncated_metadata_is_refused(tmp_path):
    checkpoint.save(str(tmp_path), _model(), epoch=1, step=0, history={}, callback_states={})
    latest = tmp_path / checkpoint.CHECKPOINT_DIR / checkpoint.LATEST
    latest.write_text(latest.read_text()[:20])
    with pytest.raises(checkpoint.CheckpointError, match="not valid JSON"):
        checkpoint.read_metadata(str(tmp_path))


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "results.json"
    checkpoint.atomic_write_json(str(target), {"a": 1})

    def failing(path: str) -> None:
        with open(path, "w") as f:
            f.write("partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        checkpoint.atomic_save(str(target), failing)
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(os.listdir(tmp_path)) == ["results.json"]
