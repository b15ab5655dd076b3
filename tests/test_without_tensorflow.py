"""train.py and reproduce.py on the JAX backend with TensorFlow hidden, as on the lent GPU machines."""

from __future__ import annotations

import json
import os
import sys

from tests import helpers

HIDE_TENSORFLOW = os.path.join(helpers.REPO, "tests", "fixtures", "no_tensorflow")


def _env() -> dict[str, str]:
    return {
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": HIDE_TENSORFLOW + os.pathsep + helpers.REPO,
    }


def test_the_fixture_really_hides_tensorflow() -> None:
    probe = helpers.run([sys.executable, "-c", "import tensorflow"], **_env())
    assert probe.returncode != 0
    assert "No module named 'tensorflow'" in probe.stderr


def test_train_py_runs_on_jax_without_tensorflow(tmp_path) -> None:
    workdir = tmp_path / "ngpu"
    process = helpers.run(
        helpers.train_command("--model=neural_gpu", "--config=smoke", f"--workdir={workdir}", "--verbose=2"),
        **_env(),
    )
    assert process.returncode == 0, process.stderr[-3000:]
    with open(workdir / "results.json") as f:
        results = json.load(f)
    assert results["backend"] == "jax"
    assert {"bit_error_len6", "bit_error_len12"} <= set(results["metrics"])
    assert (workdir / "model.keras").exists()
    assert "no TensorBoard logs" in process.stderr


def test_reproduce_py_runs_restarts_on_jax_without_tensorflow(tmp_path) -> None:
    process = helpers.run(
        [
            sys.executable,
            os.path.join(helpers.REPO, "reproduce.py"),
            "--model=neural_gpu",
            "--restarts=1",
            "--jobs=2",
            "--epochs=1",
            "--steps=2",
            "--override=data_kwargs.max_length=6",
            "--override=data_kwargs.eval_lengths=[6,12]",
            "--override=data_kwargs.eval_examples=4",
            "--override=data_kwargs.check_examples=4",
            "--override=model_kwargs.nmaps=4",
            "--settings=no_noise,noise",
            f"--out={tmp_path / 'out'}",
            f"--runs_dir={tmp_path / 'runs'}",
            "--noprogress",
        ],
        timeout=400,
        **_env(),
    )
    assert process.returncode == 0, process.stderr[-3000:]
    with open(tmp_path / "out" / "summary.json") as f:
        summary = json.load(f)
    assert (summary["planned_runs"], summary["finished_runs"], summary["failed_runs"]) == (2, 2, [])
    for setting in ("no_noise", "noise"):
        with open(tmp_path / "runs" / setting / "restart_000" / "results.json") as f:
            assert json.load(f)["backend"] == "jax"
