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
logs, stepped = rv.vmapped_step(restarts[0].model)(state, batch)
single = rv.single_step(restarts[0].model)
out = {"max_difference": [], "loss_difference": []}
for k, restart in enumerate(restarts):
    single_logs, single_state = single(restart.state, restart.batches[1])
    out["max_difference"].append(max(
        float(np.max(np.abs(np.asarray(a)[k] - np.asarray(b)), initial=0.0))
        for a, b in zip(jax.tree.leaves(stepped), jax.tree.leaves(single_state))
    ))
    out["loss_difference"].append(abs(float(np.asarray(logs["loss"])[k]) - float(single_logs["loss"])))
first, second = (np.asarray(jax.tree.leaves(r.state[0])[0]) for r in restarts)
out["restarts_differ"] = bool(np.abs(first - second).max() > 0)
rate = rv.time_vmap(restarts, warmup=1, steps=2)
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
    assert out["rate_is_finite"]


def test_the_benchmark_refuses_unknown_modes_by_name() -> None:
    script = os.path.join(helpers.REPO, "benchmarks", "restarts_vmap.py")
    result = _run([sys.executable, script, "--model=nram", "--config=smoke", "--modes=vmap,threads"])
    assert result.returncode != 0
    assert "Unknown --modes ['threads']; accepted: vmap, processes." in result.stderr
