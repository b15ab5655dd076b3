"""Resuming: a run killed mid-training and resumed ends exactly where an uninterrupted run with the same seed ends."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from keras_gradnoise.testing import assert_weights_equal
from tests import helpers
from zoo import checkpoint
from zoo.config import TrainConfig

pytestmark = pytest.mark.usefixtures("tiny_registered")


def _config(**changes: object) -> TrainConfig:
    return helpers.stateful_config(**changes)


def _weights(model_path: str) -> list[np.ndarray]:
    return helpers.load_weights(model_path)


@pytest.mark.parametrize("kind", ["pydataset", "arrays"])
def test_crash_mid_epoch_then_resume_equals_uninterrupted(tmp_path, monkeypatch, kind):
    from zoo.training import train_and_evaluate

    config = _config(data_kwargs={"kind": kind})
    reference = train_and_evaluate(config, str(tmp_path / "ref"), verbose=0, checkpoint_every_steps=2)

    # Crash after step 3 of epoch 1 (0-based): the latest checkpoint is then epoch 1, step 2.
    monkeypatch.setenv("TINY_DIE_AT", "1,3")
    with pytest.raises(helpers.SimulatedCrashError):
        train_and_evaluate(config, str(tmp_path / "run"), verbose=0, checkpoint_every_steps=2)
    metadata = checkpoint.read_metadata(str(tmp_path / "run"))
    assert (metadata["epoch"], metadata["step"]) == (1, 2)
    assert not os.path.exists(tmp_path / "run" / "results.json")

    monkeypatch.delenv("TINY_DIE_AT")
    resumed = train_and_evaluate(
        config, str(tmp_path / "run"), verbose=0, resume=True, checkpoint_every_steps=2
    )
    assert resumed["resumed_from"] == {"epoch": 1, "step": 2}
    assert_weights_equal(
        _weights(str(tmp_path / "ref" / "model.keras")), _weights(str(tmp_path / "run" / "model.keras"))
    )
    # The metric accumulators were restored too, so even the interrupted epoch's logs match.
    assert resumed["history"] == reference["history"]
    assert resumed["metrics"] == reference["metrics"]


def test_sigkill_then_resume_through_train_py_equals_uninterrupted(tmp_path):
    flags = ["--model=tiny_mlp", "--config=smoke", "--epochs=3", "--verbose=2", "--checkpoint_every_steps=4"]
    run_dir = tmp_path / "run"
    # The uninterrupted reference and the run that SIGKILLs itself after step 5 of epoch 1, side by side.
    ref, killed = (
        subprocess.Popen(
            helpers.train_command(*flags, f"--workdir={workdir}", tiny=True),
            cwd=helpers.REPO,
            env=helpers.subprocess_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for workdir, env in ((tmp_path / "ref", {}), (run_dir, {"TINY_DIE_AT": "1,5,kill"}))
    )
    ref_err = ref.communicate(timeout=300)[1]
    killed_err = killed.communicate(timeout=300)[1]
    assert ref.returncode == 0, ref_err[-2000:]
    assert killed.returncode == -9, killed_err[-2000:]
    assert not (run_dir / "model.keras").exists()
    metadata = checkpoint.read_metadata(str(run_dir))
    assert (metadata["epoch"], metadata["step"]) == (1, 4)  # the step-4 checkpoint of the killed epoch

    resumed = helpers.run(helpers.train_command(*flags, f"--workdir={run_dir}", "--resume", tiny=True))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming" in resumed.stdout
    assert_weights_equal(
        _weights(str(tmp_path / "ref" / "model.keras")), _weights(str(run_dir / "model.keras"))
    )
    with open(run_dir / "results.json") as f, open(tmp_path / "ref" / "results.json") as g:
        assert json.load(f)["history"] == json.load(g)["history"]


def test_resume_refuses_a_different_config(tmp_path):
    from zoo.training import train_and_evaluate

    train_and_evaluate(_config(epochs=1), str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match=r"config differs.*learning_rate: saved 0\.1, now 0\.2"):
        train_and_evaluate(_config(epochs=1, learning_rate=0.2), str(tmp_path), verbose=0, resume=True)


def test_fresh_run_refuses_a_used_workdir(tmp_path):
    from zoo.training import train_and_evaluate

    train_and_evaluate(_config(epochs=1), str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="already holds a run; pass --resume"):
        train_and_evaluate(_config(epochs=1), str(tmp_path), verbose=0)


def test_resume_of_a_finished_run_with_the_same_config_trains_no_further(tmp_path):
    """Resuming a finished run with its own config is a no-op; test_train_extend.py extends runs with more epochs."""
    from zoo.training import train_and_evaluate

    first = train_and_evaluate(_config(epochs=2), str(tmp_path), verbose=0)
    trained = _weights(str(tmp_path / "model.keras"))
    again = train_and_evaluate(_config(epochs=2), str(tmp_path), verbose=0, resume=True)
    assert again["resumed_from"] == {"epoch": 2, "step": 0}
    assert again["history"] == first["history"] and len(again["history"]["loss"]) == 2
    assert again["metrics"] == first["metrics"] and again["extended_from_epochs"] is None
    assert_weights_equal(trained, _weights(str(tmp_path / "model.keras")))
    assert not (tmp_path / "extensions.json").exists()


def test_resume_into_a_workdir_without_a_run_starts_from_the_beginning(tmp_path):
    from zoo.training import train_and_evaluate

    fresh = train_and_evaluate(_config(epochs=1), str(tmp_path / "a"), verbose=0)
    resumed = train_and_evaluate(_config(epochs=1), str(tmp_path / "b"), verbose=0, resume=True)
    assert resumed["resumed_from"] is None
    assert resumed["history"] == fresh["history"]
