"""Distribution: strategy selection and TF_CONFIG errors, and a real 2-worker MultiWorkerMirroredStrategy run."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from keras_gradnoise.testing import assert_weights_equal
from tests import helpers
from zoo import distribute


def _tf_config(ports: list[int], index: int) -> str:
    return json.dumps(
        {"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    )


def test_two_worker_multi_worker_mirrored_run_equals_one_device(tmp_path):
    flags = ["--model=tiny_mlp", "--config=smoke", "--verbose=2"]
    ports = helpers.free_ports(2)
    workers = [
        subprocess.Popen(
            helpers.train_command(
                *flags, "--strategy=multi_worker", f"--workdir={tmp_path / 'mw'}", tiny=True
            ),
            cwd=helpers.REPO,
            env=helpers.subprocess_env(TF_CONFIG=_tf_config(ports, index)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]
    try:
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    # Only the chief writes results.json, and only the chief says so.
    assert f"Results in {tmp_path / 'mw'}/results.json" in outputs[0][0]
    assert "Results in" not in outputs[1][0] and "This process writes no files" in outputs[1][0]
    with open(tmp_path / "mw" / "results.json") as f:
        results = json.load(f)
    assert results["strategy"] == "MultiWorkerMirroredStrategy (2 replicas)"

    single = helpers.run(
        helpers.train_command(*flags, "--strategy=one_device", f"--workdir={tmp_path / 'one'}", tiny=True)
    )
    assert single.returncode == 0, single.stderr[-3000:]
    # Each worker computes half of every global batch; the summed gradient (then clipping and the shared noise
    # sample) makes the one-device update.
    assert_weights_equal(
        helpers.load_weights(str(tmp_path / "one" / "model.keras")),
        helpers.load_weights(str(tmp_path / "mw" / "model.keras")),
        rtol=1e-5,
        atol=1e-6,
    )
    with open(tmp_path / "one" / "results.json") as f:
        np.testing.assert_allclose(json.load(f)["history"]["loss"], results["history"]["loss"], rtol=1e-5)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "needs the TF_CONFIG environment variable"),
        ("[1, 2", "TF_CONFIG is not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', 'must be a JSON object with a "cluster"'),
        (
            '{"cluster": {"worker": "localhost:1"}, "task": {"type": "worker", "index": 0}}',
            'list of "host:port"',
        ),
        ('{"cluster": {"worker": ["localhost:1"]}}', 'needs a "task" object'),
        (
            '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "ps", "index": 0}}',
            "is not a job of the cluster",
        ),
        (
            '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 1}}',
            "must be an int in [0, 0]",
        ),
    ],
)
def test_malformed_tf_config_is_one_clear_error(text, message):
    with pytest.raises(distribute.StrategyError) as info:
        distribute.parse_tf_config(text)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_valid_tf_config_parses():
    config = distribute.parse_tf_config(_tf_config([1000, 1001], 1))
    assert config["task"] == {"type": "worker", "index": 1}


def test_unknown_strategy_lists_the_known_ones():
    with pytest.raises(
        distribute.StrategyError, match="Unknown strategy 'ring'. Known strategies: auto, one_device"
    ):
        distribute.get_strategy("ring")


@pytest.mark.parametrize("name", ["mirrored", "multi_worker", "tpu"])
def test_jax_backend_refuses_tf_distribute_strategies(monkeypatch, name):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(distribute.StrategyError, match=f"--strategy={name} needs the TensorFlow backend"):
        distribute.get_strategy(name)
    assert distribute.get_strategy("auto") is None


def test_gradient_accumulation_with_several_replicas_is_refused():
    import keras

    class TwoReplicas:
        num_replicas_in_sync = 2

    optimizer = keras.optimizers.SGD(gradient_accumulation_steps=4)
    with pytest.raises(distribute.StrategyError, match="keras-team/keras#20582"):
        distribute.check_supported(TwoReplicas(), optimizer)
    distribute.check_supported(TwoReplicas(), keras.optimizers.SGD())  # no accumulation: fine
    # Mixed precision wraps the configured optimizer in a LossScaleOptimizer: still seen, noisy or not.
    wrapped = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(gradient_accumulation_steps=4))
    with pytest.raises(distribute.StrategyError, match="keras-team/keras#20582"):
        distribute.check_supported(TwoReplicas(), wrapped)


def test_data_parallel_on_tensorflow_is_mirrored_strategy():
    strategy = distribute.get_strategy("data_parallel")
    assert type(strategy).__name__ == "MirroredStrategy"
    assert distribute.device_names(strategy) == [str(d) for d in strategy.extended.worker_devices]


def test_process_flags_are_refused_on_tensorflow():
    group = distribute.ProcessGroup("127.0.0.1:1234", 2, 0)
    with pytest.raises(distribute.StrategyError, match="on TensorFlow use --strategy=multi_worker"):
        distribute.prepare_backend("data_parallel", None, group)
