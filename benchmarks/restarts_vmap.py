"""Restarts of one zoo table row on one accelerator: vmapped over the restart axis in one process, or as separate
processes (issue 18, item 5). JAX backend only.

Both modes train the same restarts (seeds, initial weights, batches of `reproduce.py`'s plan for the row) for
`--steps` optimizer steps after `--warmup_steps` of compilation and warm-up, with every batch made before the clock
starts; the score is optimizer steps of all restarts together per second. The modes alternate over `--rounds`, so
a drift in the machine's load reaches both. `vmap` stacks the restarts' states and batches and runs Keras' own
pure JAX train step under `jax.jit(jax.vmap(...))`; `processes` starts one process a restart, each timing the
unbatched step from a common start time. `tests/test_restarts_vmap.py` checks that a vmapped step equals each
restart's own step.

    KERAS_BACKEND=jax python benchmarks/restarts_vmap.py --model=nram --config=default \
        --setting=setting1_noise --restarts=8 --steps=100 --out=/tmp/restarts_vmap.json
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")
# Several processes on one GPU: each takes memory as it needs it instead of 75 % of the card up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import zoo  # noqa: E402
from zoo.planning import plan_runs  # noqa: E402
from zoo.training import build_compiled_model, training_source  # noqa: E402

flags.DEFINE_string("model", "nram", "Zoo model name.")
flags.DEFINE_string("config", None, "Named config the row starts from (default: the table's).")
flags.DEFINE_string("setting", "setting1_noise", "The table row (a setting of the model's reproduction).")
flags.DEFINE_integer("restarts", 4, "Restarts trained at once.", lower_bound=1)
flags.DEFINE_integer("steps", 50, "Timed optimizer steps of every restart.", lower_bound=1)
flags.DEFINE_integer("warmup_steps", 3, "Untimed steps first (compilation).", lower_bound=1)
flags.DEFINE_list("modes", ["vmap", "processes"], "Modes to time, in this order each round: vmap, processes.")
flags.DEFINE_integer("rounds", 2, "Rounds of all modes.", lower_bound=1)
flags.DEFINE_float(
    "start_margin_seconds", 60.0, "`processes`: seconds (plus 5 a restart) the workers get to compile first."
)
flags.DEFINE_string("out", None, "Write the measurements here as JSON.")
flags.DEFINE_integer("only_restart", None, "Internal: time this one restart (a `processes` worker).")
flags.DEFINE_float("start_at", None, "Internal: the worker starts its clock at this time.time().")
FLAGS = flags.FLAGS

MODES = ("vmap", "processes")


class Restart:
    """One restart of the row: its compiled model, Keras' JAX training state and its batches."""

    def __init__(self, entry: zoo.ZooEntry, config: zoo.TrainConfig, batches: int) -> None:
        keras.utils.set_random_seed(config.seed)
        self.model = build_compiled_model(entry, config)
        source = training_source(entry.make_data(config, None), config)
        self.batches = [_as_numpy(source[i % len(source)]) for i in range(batches)]
        self.model._symbolic_build(data_batch=self.batches[0])
        self.model.optimizer.build(self.model.trainable_variables)
        self.state = self.model._get_jax_state(
            trainable_variables=True,
            non_trainable_variables=True,
            optimizer_variables=True,
            metrics_variables=True,
        )


def _as_numpy(batch: Any) -> Any:
    return jax.tree.map(np.asarray, tuple(batch))


def build_restarts(
    model: str, config: str | None, setting: str, restarts: int, batches: int
) -> list[Restart]:
    """The first `restarts` restarts of `setting` as `reproduce.py` plans them, each with `batches` batches."""
    entry = zoo.get(model)
    runs = plan_runs(entry, restarts, runs_dir="/nonexistent", settings=[setting], config_name=config)
    return [Restart(entry, run.config, batches) for run in runs]


def stack(trees: list[Any]) -> Any:
    """One tree whose leaves are the trees' leaves stacked on a new leading (restart) axis."""
    shapes = {tuple(np.shape(leaf) for leaf in jax.tree.leaves(tree)) for tree in trees}
    if len(shapes) != 1:
        raise ValueError(
            "The restarts' batches differ in shape, so they cannot be stacked for vmap (e.g. the Neural GPU's "
            "curriculum draws each restart's lengths); use a model whose batches have one shape (nram)."
        )
    return jax.tree.map(lambda *leaves: np.stack(leaves), *trees)


def vmapped_step(model: keras.Model) -> Any:
    """`model.train_step`, Keras' pure JAX step on (state, batch), vmapped over a leading restart axis and jitted."""
    return jax.jit(jax.vmap(model.train_step))


def single_step(model: keras.Model) -> Any:
    return jax.jit(model.train_step)


def _run(step: Any, state: Any, batches: list[Any], steps: int) -> tuple[Any, float]:
    start = time.perf_counter()
    for i in range(steps):
        logs, state = step(state, batches[i % len(batches)])
    jax.block_until_ready(state)
    return state, time.perf_counter() - start


def time_vmap(restarts: list[Restart], warmup: int, steps: int) -> float:
    """Optimizer steps of all restarts per second, vmapped in this process."""
    step = vmapped_step(restarts[0].model)
    state = stack([r.state for r in restarts])
    batches = [stack([r.batches[i] for r in restarts]) for i in range(len(restarts[0].batches))]
    state, _ = _run(step, state, batches, warmup)
    _, seconds = _run(step, state, batches, steps)
    return len(restarts) * steps / seconds


def time_processes(restarts: int, warmup: int, steps: int, margin: float) -> float:
    """Optimizer steps of all restarts per second, one process a restart, clocks started together."""
    start_at = time.time() + margin + 5.0 * restarts  # every worker has compiled and warmed up by then
    owned = ("--modes", "--rounds", "--out", "--restarts", "--steps", "--warmup_steps")
    argv = [a for a in sys.argv[1:] if not a.startswith(owned)]
    workers = [
        subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), *argv, f"--restarts={restarts}"]
            + [
                f"--only_restart={r}",
                f"--start_at={start_at}",
                f"--warmup_steps={warmup}",
                f"--steps={steps}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for r in range(restarts)
    ]
    reports = []
    for worker in workers:
        out, _ = worker.communicate()
        if worker.returncode != 0:
            raise RuntimeError(f"a `processes` worker failed with status {worker.returncode}.")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    late = [r for r in reports if r["late"]]
    if late:
        raise RuntimeError(f"{len(late)} workers were not ready at the common start time; raise the margin.")
    # All started together; the slowest sets the wall time of the restarts' `steps` steps.
    return restarts * steps / max(r["seconds"] for r in reports)


def _worker() -> None:
    restart = build_restarts(FLAGS.model, FLAGS.config, FLAGS.setting, FLAGS.restarts, FLAGS.steps)[
        FLAGS.only_restart
    ]
    step = single_step(restart.model)
    state, _ = _run(step, restart.state, restart.batches, FLAGS.warmup_steps)
    late = time.time() > FLAGS.start_at
    time.sleep(max(0.0, FLAGS.start_at - time.time()))
    _, seconds = _run(step, state, restart.batches, FLAGS.steps)
    print(json.dumps({"seconds": seconds, "late": late}))


def main(argv: list[str]) -> None:
    del argv
    if keras.backend.backend() != "jax":
        raise SystemExit(
            f"restarts_vmap.py runs on the JAX backend; KERAS_BACKEND is {keras.backend.backend()!r}."
        )
    if FLAGS.only_restart is not None:
        _worker()
        return
    unknown = sorted(set(FLAGS.modes) - set(MODES))
    if unknown:
        raise SystemExit(f"Unknown --modes {unknown}; accepted: {', '.join(MODES)}.")
    restarts = build_restarts(FLAGS.model, FLAGS.config, FLAGS.setting, FLAGS.restarts, FLAGS.steps)
    rows = []
    for round_index in range(FLAGS.rounds):
        for mode in FLAGS.modes:
            if mode == "vmap":
                rate = time_vmap(restarts, FLAGS.warmup_steps, FLAGS.steps)
            else:
                rate = time_processes(
                    FLAGS.restarts, FLAGS.warmup_steps, FLAGS.steps, FLAGS.start_margin_seconds
                )
            rows.append({"round": round_index, "mode": mode, "restart_steps_per_second": rate})
            print(f"round {round_index} {mode:9s} {rate:9.1f} restart-steps/s", flush=True)
    result = {
        "command": " ".join(sys.argv),
        "devices": [str(d) for d in jax.devices()],
        "machine": platform.node(),
        "restarts": FLAGS.restarts,
        "steps": FLAGS.steps,
        "rows": rows,
    }
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    app.run(main)
