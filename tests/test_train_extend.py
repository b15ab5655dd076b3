"""Extending a run: `--resume` with more epochs continues a finished run; any other change is still refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests import helpers
from zoo.config import TrainConfig

pytestmark = pytest.mark.usefixtures("tiny_registered")


def _config(**changes: object) -> TrainConfig:
    return helpers.stateful_config(**changes)


def _weights(model_path: str) -> list[np.ndarray]:
    return helpers.load_weights(model_path)


def test_resume_with_more_epochs_extends_a_finished_run_exactly(tmp_path):
    from zoo.training import train_and_evaluate

    reference = train_and_evaluate(_config(epochs=3), str(tmp_path / "ref"), verbose=0)
    first = train_and_evaluate(_config(epochs=2), str(tmp_path / "run"), verbose=0)
    extended = train_and_evaluate(_config(epochs=3), str(tmp_path / "run"), verbose=0, resume=True)
    assert extended["resumed_from"] == {"epoch": 2, "step": 0}
    assert extended["extended_from_epochs"] == [2] and reference["extended_from_epochs"] is None
    # Nothing in a run depends on the total number of epochs: 2 epochs, then 1 more, is the 3-epoch run.
    assert extended["history"] == reference["history"]
    for a, b in zip(
        _weights(str(tmp_path / "ref" / "model.keras")), _weights(str(tmp_path / "run" / "model.keras"))
    ):
        np.testing.assert_array_equal(a, b)
    run = tmp_path / "run"
    assert json.loads((run / "results.json").read_text())["extended_from_epochs"] == [2]
    assert json.loads((run / "config.json").read_text())["epochs"] == 3
    assert json.loads((run / "results_epochs_2.json").read_text())["metrics"] == first["metrics"]
    [record] = json.loads((run / "extensions.json").read_text())
    assert (record["from_epochs"], record["to_epochs"]) == (2, 3)


def test_resume_still_refuses_fewer_epochs_or_any_other_change(tmp_path):
    from zoo.training import train_and_evaluate

    train_and_evaluate(_config(epochs=2), str(tmp_path), verbose=0)
    before = {name: (tmp_path / name).read_text() for name in ("config.json", "results.json")}
    with pytest.raises(ValueError, match=r"config differs.*epochs: saved 2, now 1\).*may only raise epochs"):
        train_and_evaluate(_config(epochs=1), str(tmp_path), verbose=0, resume=True)
    with pytest.raises(
        ValueError, match=r"config differs.*epochs: saved 2, now 3; learning_rate: saved 0\.1, now 0\.2"
    ):
        train_and_evaluate(_config(epochs=3, learning_rate=0.2), str(tmp_path), verbose=0, resume=True)
    assert {name: (tmp_path / name).read_text() for name in before} == before
    assert not (tmp_path / "extensions.json").exists()


def test_train_py_resume_raises_epochs_and_refuses_other_changes_with_one_line(tmp_path, capsys):
    from absl import flags

    import train

    def train_py(*argv: str) -> int:
        flags.FLAGS.unparse_flags()
        flags.FLAGS(
            ["train.py", "--model=tiny_mlp", "--config=smoke", f"--workdir={tmp_path}", "--verbose=0", *argv]
        )
        try:
            train.main(["train.py"])
        except SystemExit as exit:
            return exit.code
        finally:
            flags.FLAGS.unparse_flags()
        return 0

    assert train_py("--epochs=1") == 0
    assert train_py("--resume", "--epochs=2") == 0
    with open(tmp_path / "results.json") as f:
        results = json.load(f)
    assert results["extended_from_epochs"] == [1] and len(results["history"]["loss"]) == 2
    capsys.readouterr()
    assert train_py("--resume", "--epochs=3", "--seed=5") == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("train.py: error: --resume: the config differs from the one in ")
    assert "(epochs: saved 2, now 3; seed: saved 0, now 5). A resumed run may only raise epochs" in line
