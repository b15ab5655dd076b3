"""Compiled JAX code must not pile up in a long-lived process: each executable holds memory mappings of its own,
and sweeps on the JAX backend died with SIGSEGV once a worker reached the kernel's limit (vm.max_map_count,
65530 here). The count comes from /proc/self/maps, so these tests run on Linux only."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests import helpers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")

_MAPS = "def maps():\n    with open('/proc/self/maps') as f:\n        return sum(1 for _ in f)\n"

# The NRAM curriculum's per-epoch check, six times on one model: each eager call traced and compiled the step scan
# anew (about 400 mappings a check for the default model).
_CURRICULUM_CHECKS = (
    _MAPS
    + """
import json
import zoo
from zoo.nram import curriculum
config = zoo.get("nram").config("smoke")
model = zoo.get("nram").build_model(**config.model_kwargs)
task, memory = config.data_kwargs.get("task", "list_k"), config.model_kwargs["memory_size"]
import numpy as np
from zoo.nram.model import answer_from_trace
counts, same = [], []
for check in range(6):
    curriculum.measure(model, task, 2, memory, examples=8, seed=check)
    counts.append(maps())
# Then (each eager call compiles anew) the compiled step's answers against the eager call's.
for check in range(3):
    batch = curriculum.tasks.generate(task, 2, memory, np.random.default_rng(check), 8)
    inputs = curriculum.model_inputs(batch)
    eager = answer_from_trace(np.asarray(model(inputs, training=False)))
    same.append(bool((answer_from_trace(np.asarray(model.predict(inputs, verbose=0))) == eager).all()))
print(json.dumps({"counts": counts, "same_answers": same}))
"""
)

# Four worker runs of a trainer that calls a model with a step scan eagerly: without clearing JAX's caches
# between runs, each run's executables stay mapped.
_WORKER_RUNS = (
    _MAPS
    + """
import json
from zoo import worker
from zoo.config import TrainConfig
counts = []
for run in range(4):
    worker.execute("tests.test_jax_compiled_code:call_a_scan_model", TrainConfig(model="m").to_json(), "/nonexistent", None)
    counts.append(maps())
print(json.dumps(counts))
"""
)


def call_a_scan_model(config: Any, workdir: str, **kwargs: Any) -> dict:
    """A trainer for the worker test: calls a small model with a step scan eagerly, as the NRAM's checks did."""
    import keras
    import numpy as np

    class Steps(keras.layers.Layer):
        def build(self, input_shape: tuple) -> None:
            self.kernel = self.add_weight(shape=(input_shape[-1], input_shape[-1]))

        def call(self, x):
            def step(state, _):
                state = keras.ops.tanh(keras.ops.matmul(state, self.kernel))
                return state, state

            return keras.ops.scan(step, x, None, length=4)[0]

    model = keras.Sequential([keras.Input((8,)), Steps()])
    for _ in range(10):
        model(np.ones((2, 8), "float32"))
    return {}


def _counts(script: str) -> Any:
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=helpers.REPO,
        env=helpers.jax_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_repeated_curriculum_checks_reuse_their_compiled_step():
    result = _counts(_CURRICULUM_CHECKS)
    counts = result["counts"]
    assert counts[-1] - counts[1] < 40, counts  # after the first checks, nothing new stays mapped
    assert all(result["same_answers"])  # the compiled step answers as the eager call does, on JAX too


def test_a_worker_frees_the_code_it_compiled_for_earlier_runs():
    counts = _counts(_WORKER_RUNS)
    assert counts[-1] - counts[1] < 40, counts
