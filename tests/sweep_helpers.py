"""A fake zoo entry with a reproduction spec and a sleeping trainer, for tests of reproduce.py's process handling.

`run_reproduce_py()` is reproduce.py's command line with the entry ("sleeper") registered:

    python -c "from tests.sweep_helpers import run_reproduce_py; run_reproduce_py()" --model=sleeper \
        --trainer=tests.sweep_helpers:sleeping_trainer ...

`sleeping_trainer` needs no TensorFlow: it appends {"event": "start", "pid", "workdir", "resume"} to the JSON
lines file $SLEEPER_LOG, writes config.json (so that an interrupted run is resumed, as a real one is), sleeps
$SLEEPER_SECONDS (default 60) and then writes results.json and logs {"event": "done", ...}.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

from zoo import rows
from zoo.config import TrainConfig
from zoo.registry import ReproductionSpec, Setting, TaskData, ZooEntry

NAME = "sleeper"
TRAINER = "tests.sweep_helpers:sleeping_trainer"
LOG_ENV, SECONDS_ENV = "SLEEPER_LOG", "SLEEPER_SECONDS"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _log(event: str, workdir: str, **extra: Any) -> None:
    with open(os.environ[LOG_ENV], "a") as log:
        log.write(json.dumps({"event": event, "pid": os.getpid(), "workdir": workdir, **extra}) + "\n")


def sleeping_trainer(
    config: TrainConfig, workdir: str, *, data_dir: str | None = None, resume: bool = False, **kwargs: Any
) -> dict[str, Any]:
    """Logs its start, sleeps $SLEEPER_SECONDS, writes results.json like zoo.training does."""
    os.makedirs(workdir, exist_ok=True)
    _log("start", workdir, resume=resume)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(config.to_json())
    time.sleep(float(os.environ.get(SECONDS_ENV, "60")))
    results = _write_results(config, workdir)
    _log("done", workdir)
    return results


def dying_trainer(config: TrainConfig, workdir: str, **kwargs: Any) -> dict[str, Any]:
    """Kills its own process with SIGKILL for seed 1 (as the kernel's OOM killer would); else finishes at once."""
    if config.seed == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump({"config": json.loads(config.to_json()), "metrics": {"test_accuracy": 0.5}}, f)
    return {}


def failing_trainer(config: TrainConfig, workdir: str, **kwargs: Any) -> dict[str, Any]:
    """Raises for seed 1 (a run that fails inside Python, as a diverged or buggy run does); else finishes at once
    with test_accuracy 0.5 + 0.01 * seed."""
    if config.seed == 1:
        raise RuntimeError("failed on purpose for seed 1")
    return _write_results(config, workdir)


def _write_results(config: TrainConfig, workdir: str) -> dict[str, Any]:
    """A results.json like zoo.training's, with test_accuracy 0.5 + 0.01 * seed."""
    os.makedirs(workdir, exist_ok=True)
    results = {
        "config": json.loads(config.to_json()),
        "metrics": {"test_accuracy": 0.5 + 0.01 * config.seed},
        "history": {"val_accuracy": [0.5]},
        "wall_seconds": 0.0,
    }
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f)
    return results


def _mean(results: list[dict[str, Any]]) -> dict[str, float]:
    values = [r["metrics"]["test_accuracy"] for r in results]
    return {"mean": sum(values) / len(values)}


ENTRY = ZooEntry(
    name=NAME,
    description="a fake model whose runs sleep (process-handling tests only)",
    build_model=lambda **kwargs: None,
    make_data=lambda config, data_dir: TaskData(train=None),
    compile_kwargs=lambda config: {},
    configs={"base": lambda: TrainConfig(model=NAME, optimizer="sgd", learning_rate=0.1, epochs=1, seed=0)},
    reproduction=ReproductionSpec(
        title="Sleeper table",
        config="base",
        settings=(
            Setting("plain", {**rows.no_noise(), **rows.clipping()}, {"mean": 0.5}),
            Setting("noise", {**rows.annealed_noise(0.01), **rows.clipping()}, {"mean": 0.6}),
        ),
        columns=("mean",),
        summarize=_mean,
        curve_metric=None,
    ),
)


def run_reproduce_py() -> None:
    """reproduce.py's command line with the sleeper entry registered."""
    from zoo import registry

    registry.register(NAME, "tests.sweep_helpers")
    sys.argv[0] = "reproduce.py"
    sys.path.insert(0, REPO)
    import reproduce

    reproduce.run()


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a reproduce.py child: the repo importable (tests.helpers' twin, without Keras)."""
    env = dict(os.environ)
    env.update(PYTHONPATH=REPO + os.pathsep + env.get("PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="2")
    env.update(extra)
    return env


def reproduce_command(*flags: str) -> list[str]:
    """The argv of a reproduce.py run with the sleeper entry known."""
    return [
        sys.executable,
        "-c",
        "from tests.sweep_helpers import run_reproduce_py; run_reproduce_py()",
        *flags,
    ]


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (a dead child nobody reaped yet counts as dead)."""
    if not os.path.isdir("/proc"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found
