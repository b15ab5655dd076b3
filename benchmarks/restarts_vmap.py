"""Restarts of one zoo table row on one accelerator: vmapped over the restart axis in one process, or as separate
processes (issue 18, item 5). JAX backend only.

Both modes train the same restarts (seeds, initial weights, batches of `reproduce.py`'s plan for the row) for
`--steps` optimizer steps after `--warmup_steps` of compilation and warm-up, with every batch made before the clock
starts; the score is optimizer steps of all restarts together per second. The modes alternate over `--rounds`, so
a drift in the machine's load reaches both. `vmap` stacks the restarts' states and batches and runs Keras' own
pure JAX train step under `jax.jit(jax.vmap(...))`; `processes` starts one process a restart, each timing the
unbatched step from a common start time. `tests/test_restarts_vmap.py` checks that a vmapped step equals each
restart's own step, and that step Keras' own `train_on_batch`.

What neither mode times: compilation, making batches and the work between epochs (the NRAM curriculum's check,
its entropy decay), which separate processes would do in parallel and one vmapped process would not; so the
measured ratio is an upper bound on what vmapping would gain in a sweep.

    KERAS_BACKEND=jax python benchmarks/restarts_vmap.py --model=nram --config=default \
        --setting=setting1_noise --restarts=8 --steps=100 --out=/tmp/restarts_vmap.json
"""

from __future__ import annotations

import dataclasses
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
        self.model._symbolic_build(data_batch=self.batches[0])  # builds the model, its optimizer and metrics
        self.state = self.model._get_jax_state(
            trainable_variables=True,
            non_trainable_variables=True,
            optimizer_variables=True,
            metrics_variables=True,
        )


def _as_numpy(batch: Any) -> Any:
    return jax.tree.map(np.asarray, tuple(batch))


def build_restarts(
    model: str, config: str | None, setting: str, restarts: int, batches: int, only: int | None = None
) -> list[Restart]:
    """The first `restarts` restarts of `setting` as `reproduce.py` plans them (or just restart `only`), each with
    `batches` batches.

    Raises:
        ValueError: the restarts differ in more than their seed; one vmapped trace would train them all with the
            first one's settings (e.g. a `per_restart` row).
    """
    entry = zoo.get(model)
    runs = plan_runs(entry, restarts, runs_dir="/nonexistent", settings=[setting], config_name=config)
    fields = [dataclasses.asdict(run.config) for run in runs]
    differing = sorted(
        key for key in fields[0] if key != "seed" and any(f[key] != fields[0][key] for f in fields)
    )
    if differing:
        raise ValueError(f"The restarts of {setting!r} differ in {differing}, not only in their seed.")
    chosen = runs if only is None else [runs[only]]
    return [Restart(entry, run.config, batches) for run in chosen]


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


def time_vmap(step: Any, restarts: list[Restart], warmup: int, steps: int) -> float:
    """Optimizer steps of all restarts per second, vmapped in this process (`step`: `vmapped_step`)."""
    state = stack([r.state for r in restarts])
    batches = [stack([r.batches[i] for r in restarts]) for i in range(len(restarts[0].batches))]
    state, _ = _run(step, state, batches, warmup)
    _, seconds = _run(step, state, batches, steps)
    return len(restarts) * steps / seconds


def time_processes(restarts: int, warmup: int, steps: int, margin: float) -> tuple[float, int]:
    """Optimizer steps of all restarts per second, one process a restart, clocks started together; and how many
    workers were not ready at the common start (their clocks started late, so the rate is then too high)."""
    start_at = time.time() + margin + 5.0 * restarts  # every worker has compiled and warmed up by then
    workers = [
        subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), *sys.argv[1:], f"--restarts={restarts}"]
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
    try:
        reports = []
        for worker in workers:
            out, _ = worker.communicate()
            if worker.returncode != 0:
                raise RuntimeError(f"a `processes` worker failed with status {worker.returncode}.")
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    # All started together; the slowest sets the wall time of the restarts' `steps` steps.
    return restarts * steps / max(r["seconds"] for r in reports), sum(r["late"] for r in reports)


def _worker() -> None:
    restart = build_restarts(
        FLAGS.model, FLAGS.config, FLAGS.setting, FLAGS.restarts, FLAGS.steps, only=FLAGS.only_restart
    )[0]
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
    step = vmapped_step(restarts[0].model)  # compiled once, in the first round's warm-up
    result = {
        "command": " ".join(sys.argv),
        "devices": [str(d) for d in jax.devices()],
        "machine": platform.node(),
        "restarts": FLAGS.restarts,
        "steps": FLAGS.steps,
        "rows": [],
    }
    for round_index in range(FLAGS.rounds):
        for mode in FLAGS.modes:
            row: dict[str, Any] = {"round": round_index, "mode": mode}
            if mode == "vmap":
                row["restart_steps_per_second"] = time_vmap(step, restarts, FLAGS.warmup_steps, FLAGS.steps)
            else:
                rate, late = time_processes(
                    FLAGS.restarts, FLAGS.warmup_steps, FLAGS.steps, FLAGS.start_margin_seconds
                )
                row.update(restart_steps_per_second=rate, late_workers=late)
            result["rows"].append(row)
            print(
                f"round {round_index} {mode:9s} {row['restart_steps_per_second']:9.1f} restart-steps/s",
                flush=True,
            )
            if FLAGS.out:  # after every row, so a run cut short keeps what it measured
                with open(FLAGS.out, "w") as f:
                    json.dump(result, f, indent=1)


if __name__ == "__main__":
    app.run(main)
