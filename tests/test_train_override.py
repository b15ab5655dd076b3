"""train.py --override: any TrainConfig field or dict key, recorded in config.json and used by the run."""

from __future__ import annotations

import json
import os

import numpy as np

from tests import helpers


def test_override_reaches_config_json_and_the_model(tmp_path):
    workdir = tmp_path / "run"
    result = helpers.run(
        helpers.train_command(
            "--model=deep_mlp",
            "--config=smoke",
            "--override=model_kwargs.init=good",
            "--override=data_kwargs.train_size=64",
            "--override=batch_size=16",
            "--steps=2",
            "--verbose=0",
            f"--workdir={workdir}",
        ),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(workdir / "config.json") as f:
        config = json.load(f)
    assert config["model_kwargs"] == {"init": "good"}
    assert config["data_kwargs"] == {"source": "fixture", "train_size": 64}
    assert (config["batch_size"], config["steps_per_epoch"]) == (16, 2)
    with open(workdir / "results.json") as f:
        assert json.load(f)["data_info"]["train_examples"] == 64
    # He init, not the smoke config's Simple Init: the first kernel's std is sqrt(2 / 784) (0.0505), not 0.1.
    import keras

    from zoo import registry

    registry.get("deep_mlp")  # registers DeepMLP for loading
    model = keras.saving.load_model(os.path.join(workdir, "model.keras"))
    assert model.get_config()["init"] == "good"
    first = keras.ops.convert_to_numpy(model.hidden[0].kernel)
    assert abs(float(np.std(first)) - (2 / 784) ** 0.5) < 0.005


def test_a_malformed_or_unknown_override_exits_2_with_one_line(tmp_path):
    for flag, expected in (
        ("--override=epochs", "--override 'epochs' must look like field=value or field.key=value"),
        ("--override=epoch=3", "Unknown TrainConfig field 'epoch'"),
    ):
        result = helpers.run(
            helpers.train_command("--model=deep_mlp", "--config=smoke", flag, f"--workdir={tmp_path / 'w'}"),
            timeout=300,
        )
        lines = [line for line in result.stderr.splitlines() if line.startswith("train.py: error")]
        assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], result.stderr[-2000:]
        assert not (tmp_path / "w").exists()


def test_a_flag_for_one_noise_schedule_switches_the_other_off_and_both_are_refused(tmp_path):
    """--noise_std alone turns the config's annealed schedule off (deep_mlp's smoke config has eta 0.01); both
    schedules at once, by flags or overrides, and an unknown model/data option, exit 2 with one line before any
    work."""
    result = helpers.run(
        helpers.train_command(
            "--model=deep_mlp", "--config=smoke", "--noise_std=0.001", "--steps=1", "--verbose=0",
            f"--workdir={tmp_path / 'constant'}",
        ),
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "constant" / "config.json") as f:
        config = json.load(f)
    assert (config["noise_eta"], config["noise_std"]) == (0.0, 0.001)
    for flags, expected in (
        (
            ["--noise_std=0.001", "--noise_eta=0.1"],
            "noise_eta=0.1 (the annealed schedule) and noise_std=0.001",
        ),
        (["--override=noise_std=0.001"], "noise_eta=0.01 (the annealed schedule) and noise_std=0.001"),
        (
            ["--override=model_kwargs.depth=3"],
            "Unknown model_kwargs key 'depth' for model 'deep_mlp'. Accepted: ",
        ),
    ):
        workdir = tmp_path / "refused"
        result = helpers.run(
            helpers.train_command("--model=deep_mlp", "--config=smoke", *flags, f"--workdir={workdir}"),
            timeout=300,
        )
        lines = [line for line in result.stderr.splitlines() if line.startswith("train.py: error")]
        assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], result.stderr[-2000:]
        assert not workdir.exists()
