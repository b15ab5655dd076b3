"""JAX data parallelism across 2 local processes (jax.distributed over 127.0.0.1, gloo CPU collectives).

Both processes are SIGKILLed in the middle of an epoch and resumed from the chief's checkpoint; the result is
compared with a one-device JAX run of the same config, and the two processes' copies of every variable with each
other.
"""

from __future__ import annotations

import json
import signal
import subprocess

import numpy as np

from tests import helpers
from zoo import checkpoint

FLAGS = ("--model=tiny_mlp", "--config=smoke", "--epochs=2", "--verbose=2", "--checkpoint_every_steps=2")


def _start(workdir: str, record: str, *extra: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        helpers.train_command(*FLAGS, f"--workdir={workdir}", *extra, tiny=True),
        cwd=helpers.REPO,
        env=helpers.jax_env(TINY_RECORD_SHARDS=record, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _two_processes(workdir: str, record: str, *extra: str, **env: str) -> list[subprocess.Popen]:
    (port,) = helpers.free_ports(1)
    return [
        _start(
            workdir,
            record,
            "--strategy=data_parallel",
            f"--coordinator_address=127.0.0.1:{port}",
            "--num_processes=2",
            f"--process_id={index}",
            *extra,
            **env,
        )
        for index in range(2)
    ]


def _wait(processes: list[subprocess.Popen], timeout: float = 300) -> list[tuple[str, str]]:
    try:
        return [process.communicate(timeout=timeout) for process in processes]
    finally:
        for process in processes:
            process.kill()


def _shards(path: str) -> dict[int, list[np.ndarray]]:
    by_variable: dict[int, list[np.ndarray]] = {}
    with np.load(path) as data:
        for key in sorted(data.files):
            by_variable.setdefault(int(key.split("_", 1)[0][1:]), []).append(data[key])
    return by_variable


def test_two_processes_killed_then_resumed_equal_one_device(tmp_path):
    run, record = str(tmp_path / "run"), str(tmp_path / "shards")
    reference = _start(str(tmp_path / "one"), str(tmp_path / "one_shards"), "--strategy=one_device")
    # Both processes SIGKILL themselves after step 3 of epoch 1; the chief's last checkpoint is epoch 1, step 2.
    killed = _two_processes(run, record, TINY_DIE_AT="1,3,kill")
    outputs = _wait([reference, *killed])
    assert reference.returncode == 0, outputs[0][1][-3000:]
    assert killed[0].returncode == -signal.SIGKILL, outputs[1][1][-3000:]
    assert killed[1].returncode != 0, outputs[2][1][-3000:]
    metadata = checkpoint.read_metadata(run)
    assert (metadata["epoch"], metadata["step"]) == (1, 2)

    resumed = _two_processes(run, record, "--resume")
    (chief_out, chief_err), (worker_out, worker_err) = _wait(resumed)
    assert resumed[0].returncode == 0, chief_err[-3000:]
    assert resumed[1].returncode == 0, worker_err[-3000:]
    assert f"Results in {run}/results.json" in chief_out
    assert "Results in" not in worker_out and "This process writes no files" in worker_out

    with open(f"{run}/results.json") as f:
        results = json.load(f)
    assert results["resumed_from"] == {"epoch": 1, "step": 2}
    assert results["strategy"] == "DataParallel (2 devices, 2 processes)" and len(results["devices"]) == 2
    # Every variable (weights, metric accumulators, optimizer state including noise_seed and noise_step) is the
    # same on both processes, bit for bit, and equal to the one-device run to float rounding.
    chief, worker = _shards(f"{record}-0.npz"), _shards(f"{record}-1.npz")
    single = _shards(str(tmp_path / "one_shards-0.npz"))
    assert sorted(chief) == sorted(worker) == sorted(single)
    for index in chief:
        np.testing.assert_array_equal(chief[index][0], worker[index][0], err_msg=f"variable {index}")
        np.testing.assert_allclose(chief[index][0], single[index][0], rtol=1e-5, atol=1e-6)
    with open(tmp_path / "one" / "results.json") as f:
        np.testing.assert_allclose(results["history"]["loss"], json.load(f)["history"]["loss"], rtol=1e-5)
