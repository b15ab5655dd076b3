"""benchmarks/restarts_vmap.py (issue 18, item 5) on the JAX CPU backend: its vmapped step must compute what each
restart's own step computes, or its timings compare different work."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests import helpers

_CHECK = """
import json, math, sys
import jax, numpy as np
sys.path.insert(0, "benchmarks")
import restarts_vmap as rv
restarts = rv.build_restarts("nram", "smoke", "setting1_noise", 2, 2)
state = rv.stack([r.state for r in restarts])
batch = rv.stack([r.batches[1] for r in restarts])
vmapped = rv.vmapped_step(restarts[0].model)
logs, stepped = vmapped(state, batch)
single = rv.single_step(restarts[0].model)
out = {"max_difference": [], "loss_difference": []}
for k, restart in enumerate(restarts):
    single_logs, single_state = single(restart.state, restart.batches[1])
    out["max_difference"].append(max(
        float(np.max(np.abs(np.asarray(a)[k] - np.asarray(b)), initial=0.0))
        for a, b in zip(jax.tree.leaves(stepped), jax.tree.leaves(single_state))
    ))
    out["loss_difference"].append(abs(float(np.asarray(logs["loss"])[k]) - float(single_logs["loss"])))
# The state Keras' own training would have reached: train_on_batch on a fresh build of restart 0.
fresh = rv.build_restarts("nram", "smoke", "setting1_noise", 2, 2, only=0)[0]
fresh.model.train_on_batch(*fresh.batches[1])
_, single_state = single(restarts[0].state, restarts[0].batches[1])
out["keras_difference"] = max(
    float(np.max(np.abs(np.asarray(v.value) - np.asarray(w)), initial=0.0))
    for v, w in zip(fresh.model.trainable_variables, single_state[0])
)
first, second = (np.asarray(jax.tree.leaves(r.state[0])[0]) for r in restarts)
out["restarts_differ"] = bool(np.abs(first - second).max() > 0)
rate = rv.time_vmap(vmapped, restarts, warmup=1, steps=2)
out["rate_is_finite"] = math.isfinite(rate) and rate > 0
print(json.dumps(out))
"""


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=helpers.REPO, env=helpers.jax_env(), capture_output=True, text=True, timeout=600
    )


def test_a_vmapped_step_is_each_restarts_own_step() -> None:
    result = _run([sys.executable, "-c", _CHECK])
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["restarts_differ"]  # two seeds, two initializations: the check compares distinct restarts
    assert max(out["max_difference"]) < 1e-5, out
    assert max(out["loss_difference"]) < 1e-5, out
    assert out["keras_difference"] < 1e-5, out
    assert out["rate_is_finite"]


def test_the_processes_mode_times_one_worker_a_restart(tmp_path) -> None:
    script = os.path.join(helpers.REPO, "benchmarks", "restarts_vmap.py")
    out = tmp_path / "rates.json"
    result = _run(
        [sys.executable, script, "--model=nram", "--config=smoke", "--setting=setting1_noise", "--restarts=2"]
        + ["--steps=2", "--warmup_steps=1", "--modes=processes", "--rounds=1", "--start_margin_seconds=20"]
        + [f"--out={out}"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert (
        row["mode"] == "processes"
        and row["restart_steps_per_second"] > 0
        and row["late_workers"] in (0, 1, 2)
    )


def test_the_benchmark_refuses_unknown_modes_by_name() -> None:
    script = os.path.join(helpers.REPO, "benchmarks", "restarts_vmap.py")
    result = _run([sys.executable, script, "--model=nram", "--config=smoke", "--modes=vmap,threads"])
    assert result.returncode != 0
    assert "Unknown --modes ['threads']; accepted: vmap, processes." in result.stderr
