"""JAX data parallelism in one process: train.py --strategy=data_parallel over 2 logical CPU devices.

Truth comes from elsewhere: a one-device JAX run of the same config (the second code path), the noise schedule's
formula computed here by hand, and the variance of a known noise sample.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests import helpers
from zoo import distribute

EPOCHS, STEPS, ETA, GAMMA = 2, 6, 0.01, 0.55  # the tiny smoke config: 6 batches of 16, eta 0.01, gamma 0.55
# The noise check on 2 devices, then (in the same process, to save a start-up) the one-device reference run.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from tests import helpers
    from zoo import jax_distribution, training
    from keras_gradnoise import NoisySGD

    distribution = jax_distribution.data_parallel(cpu_devices=2)
    n, out = 20000, {}
    with distribution.scope():
        model = keras.Sequential([keras.Input((n,)), keras.layers.Dense(1, kernel_initializer="zeros")])
        model.compile(optimizer=NoisySGD(learning_rate=1.0, eta=0.3, seed=3), loss="mse")
        # Zero inputs: the kernel's gradient is 0, so after k steps the kernel is the sum of k noise samples.
        for step in (1, 2):
            model.fit(np.zeros((4, n), "float32"), np.ones((4, 1), "float32"), batch_size=4, verbose=0)
            shards = [np.asarray(s.data) for s in model.layers[0].kernel.value.addressable_shards]
            out[step] = {
                "devices": len(shards),
                "identical": all(np.array_equal(shards[0], s) for s in shards[1:]),
                "variance": float(np.var(shards[0])),
                "noise_step": int(np.asarray(model.optimizer.noise_step.value)),
            }
    print("RESULT " + json.dumps(out))

    helpers.register_tiny()
    config = helpers._smoke().replace(epochs=int(sys.argv[2]))
    training.train_and_evaluate(config, sys.argv[1], strategy="one_device", verbose=0)
    """
)


def _train(workdir: str, strategy: str, record: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        helpers.train_command(
            "--model=tiny_mlp",
            "--config=smoke",
            f"--epochs={EPOCHS}",
            "--verbose=2",
            f"--strategy={strategy}",
            f"--workdir={workdir}",
            *extra,
            tiny=True,
        ),
        cwd=helpers.REPO,
        env=helpers.jax_env(TINY_RECORD_SHARDS=record),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The data-parallel run through train.py and, side by side, the noise check and the one-device twin."""
    root = tmp_path_factory.mktemp("jax_dp")
    processes = {
        "dp": _train(str(root / "dp"), "data_parallel", str(root / "dp_shards"), "--cpu_devices=2"),
        "one": subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(root / "one"), str(EPOCHS)],
            cwd=helpers.REPO,
            env=helpers.jax_env(TINY_RECORD_SHARDS=str(root / "one_shards")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    }
    try:
        outputs = {name: process.communicate(timeout=300) for name, process in processes.items()}
    finally:
        for process in processes.values():
            process.kill()
    for name, process in processes.items():
        assert process.returncode == 0, f"{name}: {outputs[name][1][-3000:]}"
    return root, outputs


def _shards(path: str) -> dict[int, dict[str, np.ndarray]]:
    """variable index -> device -> that device's copy."""
    by_variable: dict[int, dict[str, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            index, device = key.split("_", 1)
            by_variable.setdefault(int(index[1:]), {})[device] = data[key]
    return by_variable


def test_results_name_the_two_devices(runs):
    root, outputs = runs
    with open(root / "dp" / "results.json") as f:
        results = json.load(f)
    assert results["backend"] == "jax"
    assert results["strategy"] == "DataParallel (2 devices)"
    assert results["devices"] == ["cpu:0", "cpu:1"]
    assert f"Results in {root / 'dp'}/results.json" in outputs["dp"][0]
    # The logged noise std is the schedule after all steps, sqrt(eta / (1 + t)^gamma), the same as on one device.
    expected = np.sqrt(ETA / (1 + EPOCHS * STEPS) ** GAMMA)
    assert results["history"]["noise_stddev"][-1] == pytest.approx(expected, rel=1e-6)


def test_every_variable_identical_on_both_devices_and_equal_to_one_device(runs):
    root, _ = runs
    parallel, single = _shards(str(root / "dp_shards-0.npz")), _shards(str(root / "one_shards-0.npz"))
    # Model weights, metric accumulators and optimizer variables (iterations, slots, noise_seed, noise_step).
    assert sorted(parallel) == sorted(single) and len(parallel) >= 8
    for index, copies in parallel.items():
        assert sorted(copies) == ["cpu:0", "cpu:1"]
        np.testing.assert_array_equal(copies["cpu:0"], copies["cpu:1"], err_msg=f"variable {index}")
        (reference,) = single[index].values()
        np.testing.assert_allclose(
            copies["cpu:0"], reference, rtol=1e-5, atol=1e-6, err_msg=f"variable {index}"
        )
    with open(root / "dp" / "results.json") as f, open(root / "one" / "results.json") as g:
        np.testing.assert_allclose(
            json.load(f)["history"]["loss"], json.load(g)["history"]["loss"], rtol=1e-5
        )


def test_noise_std_under_data_parallel(runs):
    _, outputs = runs
    lines = [line for line in outputs["one"][0].splitlines() if line.startswith("RESULT ")]
    result = json.loads(lines[-1][len("RESULT ") :])
    tolerance = 6 * (2 / 20000) ** 0.5
    for step, variance in (("1", 0.3), ("2", 0.3 + 0.3 / 2**GAMMA)):
        assert result[step]["devices"] == 2 and result[step]["identical"]
        assert result[step]["noise_step"] == int(step)
        assert result[step]["variance"] == pytest.approx(variance, rel=tolerance)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_processes": 2, "process_id": 0}, "missing: coordinator_address"),
        ({"coordinator_address": "127.0.0.1", "num_processes": 2, "process_id": 0}, '"host:port"'),
        ({"coordinator_address": "127.0.0.1:1", "num_processes": 2, "process_id": 2}, "got 2 and 2"),
    ],
)
def test_bad_process_group_is_one_clear_error(kwargs, message):
    with pytest.raises(distribute.StrategyError, match=message):
        distribute.resolve_process_group(**kwargs, environ={})


def test_process_group_from_keras_environment_variables():
    environ = {
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234,10.0.0.2:2345",
        "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
        "KERAS_DISTRIBUTION_PROCESS_ID": "1",
    }
    group = distribute.resolve_process_group(environ=environ)
    assert group == distribute.ProcessGroup("10.0.0.1:1234", 2, 1) and not group.is_chief
    assert distribute.resolve_process_group(environ={}) is None


def test_process_batches_give_each_process_its_rows_and_refuse_uneven_batches():
    from zoo import jax_distribution

    batches = [(np.arange(8), np.arange(8) * 10), (np.arange(3), np.arange(3))]
    view = jax_distribution.ProcessBatches.__new__(jax_distribution.ProcessBatches)
    # Process 1 of 2, one device each: mesh position [1, 2) of 2 holds rows 4..7 of an 8-row batch.
    view.source, view.first, view.end, view.devices = batches, 1, 2, 2
    x, y = view[0]
    np.testing.assert_array_equal(x, [4, 5, 6, 7])
    np.testing.assert_array_equal(y, [40, 50, 60, 70])
    with pytest.raises(distribute.StrategyError, match="3 rows, which do not split evenly over 2 devices"):
        view[1]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--num_processes=2", "--process_id=0"], "missing: coordinator_address"),
        (
            ["--coordinator_address=127.0.0.1:1", "--num_processes=2", "--process_id=0"],
            "on TensorFlow use --strategy=multi_worker with TF_CONFIG",
        ),
    ],
)
def test_train_py_refuses_bad_process_flags_with_one_line(flags, message, tmp_path):
    process = helpers.run(
        helpers.train_command(
            "--model=deep_mlp", "--strategy=data_parallel", f"--workdir={tmp_path}", *flags
        ),
        timeout=120,
    )
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 2 and len(lines) == 1, process.stderr[-2000:]
    assert lines[0].startswith("train.py: error: ") and message in lines[0]
