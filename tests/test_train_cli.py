"""train.py end to end: the deep MLP's smoke config on one device and on MirroredStrategy, and bad input."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest

import zoo.deep_mlp  # noqa: F401 (registers DeepMLP, to load the runs' model.keras; an import error fails)
from keras_gradnoise.testing import assert_weights_equal
from tests import helpers


@pytest.fixture(scope="module")
def one_device_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("one_device")
    process = helpers.run(
        helpers.train_command(
            "--model=deep_mlp",
            "--config=smoke",
            f"--workdir={workdir}",
            "--verbose=2",
            "--strategy=one_device",
        )
    )
    return workdir, process


def test_smoke_one_device_writes_the_workdir(one_device_run):
    workdir, process = one_device_run
    assert process.returncode == 0, process.stderr[-3000:]
    assert {"config.json", "results.json", "model.keras", "checkpoint", "tensorboard"} <= set(
        os.listdir(workdir)
    )
    with open(workdir / "results.json") as f:
        results = json.load(f)
    with open(workdir / "config.json") as f:
        assert json.load(f) == results["config"]
    epochs = results["config"]["epochs"]
    for key in ("loss", "accuracy", "noise_stddev"):
        assert len(results["history"][key]) == epochs, key
    # The final test accuracy, recounted here from the saved model's predictions on the fixture's 100 test images
    # (the run's validation set, so the last epoch's val_accuracy is the same count).
    with np.load(os.path.join(helpers.REPO, "tests", "fixtures", "mnist_tiny.npz")) as f:
        x_test, y_test = f["x_test"], f["y_test"]
    model = keras.saving.load_model(str(workdir / "model.keras"))
    correct = int(np.sum(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    assert results["metrics"]["test_accuracy"] == correct / len(y_test)
    assert results["history"]["val_accuracy"][-1] == pytest.approx(correct / len(y_test), abs=1e-6)
    # The logged noise std is the schedule's value after all steps: sqrt(eta / (1 + t)^gamma).
    config = results["config"]
    steps = epochs * int(np.ceil(300 / config["batch_size"]))  # the fixture has 300 training images
    expected = np.sqrt(config["noise_eta"] / (1 + steps) ** config["noise_gamma"])
    assert results["history"]["noise_stddev"][-1] == pytest.approx(expected, rel=1e-6)
    # The TensorBoard events hold the history, epoch by epoch.
    scalars = helpers.read_scalars(str(workdir / "tensorboard"))
    for key, values in results["history"].items():
        run, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
        np.testing.assert_array_equal(scalars[run][f"epoch_{tag}"], np.float32(values), err_msg=key)
    assert "ms/step" in process.stdout or "s/step" in process.stdout  # the progress line


def test_smoke_mirrored_on_two_logical_cpus_equals_one_device(one_device_run, tmp_path):
    workdir, _ = one_device_run
    process = helpers.run(
        helpers.train_command(
            "--model=deep_mlp",
            "--config=smoke",
            f"--workdir={tmp_path}",
            "--verbose=2",
            "--strategy=mirrored",
            "--cpu_devices=2",
        )
    )
    assert process.returncode == 0, process.stderr[-3000:]
    with open(tmp_path / "results.json") as f:
        assert json.load(f)["strategy"] == "MirroredStrategy (2 replicas)"
    # Two replicas with half batches each and keras_gradnoise's all-reduce-then-clip-then-noise make the same
    # update as one device: equal up to float summation order.
    assert_weights_equal(
        helpers.load_weights(str(workdir / "model.keras")),
        helpers.load_weights(str(tmp_path / "model.keras")),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "flags, env, message",
    [
        (["--model=nonexistent"], {}, "Unknown model 'nonexistent'. Known models: deep_mlp"),
        (["--model=deep_mlp", "--strategy=bogus"], {}, "Unknown strategy 'bogus'. Known strategies: auto"),
        (["--model=deep_mlp", "--learning_rate=-0.1"], {}, "--learning_rate must be > 0.0; got -0.1"),
        (["--model=deep_mlp", "--noise_eta=-1"], {}, "--noise_eta must be >= 0; got -1.0"),
        (
            ["--model=deep_mlp", "--data_dir=/nonexistent/mnist"],
            {},
            "--data_dir '/nonexistent/mnist' does not exist",
        ),
        (
            ["--model=deep_mlp", "--strategy=multi_worker"],
            {"TF_CONFIG": "{not json"},
            "TF_CONFIG is not valid JSON",
        ),
        (
            ["--model=deep_mlp", "--strategy=multi_worker"],
            {"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}}'},
            'TF_CONFIG needs a "task" object',
        ),
        (["--model=deep_mlp", "--epochs=0"], {}, "--epochs must be >= 1; got 0"),
        (
            ["--model=deep_mlp", "--noise_exclude=bn,,gamma"],
            {},
            "noise_exclude must be a list of non-empty strings (substrings of variable paths); got ['bn', '', 'gamma']",
        ),
        (["--model=deep_mlp"], {}, "--workdir is required"),
    ],
)
def test_bad_input_exits_with_one_line(flags, env, message, tmp_path):
    if "--workdir is required" not in message:
        flags = [*flags, f"--workdir={tmp_path}"]
    process = helpers.run(helpers.train_command(*flags), timeout=120, **env)
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train.py: error: ") and message in lines[0], (
        process.stderr
    )
    assert not os.listdir(tmp_path)


def test_unknown_config_exits_with_a_clear_last_line(tmp_path):
    process = helpers.run(helpers.train_command("--model=deep_mlp", "--config=huge", f"--workdir={tmp_path}"))
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    # TensorFlow's import prints its own C++ log lines first; ours is the last line.
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith("train.py: error: Unknown config 'huge' for model 'deep_mlp'. Known configs: ")
