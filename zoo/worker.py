"""The worker process of zoo/execution.py: trains the runs the runner hands it, one at a time, and dies with it.

Started by the runner as `python -c <bootstrap> <sys.path JSON> <runner pid>` in a session of its own. It reads one
JSON request per line on stdin and answers one JSON line on a private copy of its stdout; whatever a trainer prints
goes to stderr. It ignores SIGINT (the runner handles Ctrl-C and stops its workers) and ends when the runner ends:
on Linux the kernel kills it (prctl PR_SET_PDEATHSIG); everywhere, a thread checks every half second that its
parent is still the runner and otherwise kills the worker's process group. An idle worker also ends at the end of
its stdin.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from zoo.config import TrainConfig

Trainer = Callable[..., dict[str, Any]]
_PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_MAX_ERROR_CHARS = 2000
BOOTSTRAP = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "from zoo.worker import worker_main; worker_main(int(sys.argv[2]))"
)


def trainer_path(trainer: Trainer | str) -> str:
    """The "module:function" that worker processes import for `trainer`.

    Raises:
        ValueError: a string not of that form, or a callable that is not importable by name (a lambda, a local
            function, or one defined in the `__main__` script).
    """
    if isinstance(trainer, str):
        module, sep, name = trainer.partition(":")
        if not sep or not module or not name:
            raise ValueError(f"trainer must look like 'module:function'; got {trainer!r}.")
        return trainer
    module, name = getattr(trainer, "__module__", None), getattr(trainer, "__qualname__", "")
    if not module or module == "__main__" or not name or "<" in name:
        raise ValueError(
            f"trainer {trainer!r} is not importable by worker processes; pass a module-level function of an "
            "importable module, or a 'module:function' string."
        )
    return f"{module}:{name}"


def resolve_trainer(trainer: Trainer | str) -> Trainer:
    if callable(trainer):
        return trainer
    module_name, _, name = trainer.partition(":")
    return functools.reduce(getattr, name.split("."), importlib.import_module(module_name))


def execute(
    trainer: Trainer | str,
    config_json: str,
    workdir: str,
    data_dir: str | None,
    train_kwargs: Mapping[str, Any] | None = None,
) -> float:
    """Runs one training in this process; returns its wall seconds. Exceptions propagate."""
    started = time.time()
    config = TrainConfig.from_json(config_json)
    resume = os.path.exists(os.path.join(workdir, "config.json"))
    if "keras" in sys.modules:
        # A worker runs many trainings: start each from a clean Keras state (names, graphs, seeds).
        sys.modules["keras"].backend.clear_session()
    if "jax" in sys.modules:
        # JAX keeps every executable it compiled, each in memory mappings of its own; over many runs a worker
        # reached the kernel's limit on mappings (vm.max_map_count) and its compiler crashed with SIGSEGV.
        sys.modules["jax"].clear_caches()
    resolve_trainer(trainer)(
        config, workdir, data_dir=data_dir, resume=resume, verbose=0, **(train_kwargs or {})
    )
    return time.time() - started


def last_line(error: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return (text.splitlines() or [type(error).__name__])[-1][:_MAX_ERROR_CHARS]


def _die_with_parent(parent_pid: int) -> None:
    """Makes this process end when `parent_pid` (the runner) ends, however it ends."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the polling thread below still works
    if os.getppid() != parent_pid:  # the runner died before the watch was set up
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_PARENT_POLL_SECONDS)
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(0), signal.SIGKILL)  # this worker and anything it started
        os._exit(1)

    threading.Thread(target=watch, name="parent-death-watch", daemon=True).start()


def worker_main(parent_pid: int) -> None:
    """The loop of a worker process: one JSON request per stdin line, one JSON reply per line; never returns.

    A request is {"trainer": "module:function", "config": <TrainConfig JSON>, "workdir", "data_dir",
    "train_kwargs"}; the reply is
    {"ok": true, "seconds": <wall seconds>} or {"ok": false, "error": <the exception's last line>}.
    """
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever a trainer prints goes to stderr, never into the replies
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner alone handles interrupts and stops its workers
    _die_with_parent(parent_pid)
    status = 0
    try:
        for line in iter(sys.stdin.readline, ""):
            request = json.loads(line)
            try:
                seconds = execute(
                    request["trainer"],
                    request["config"],
                    request["workdir"],
                    request["data_dir"],
                    request.get("train_kwargs"),
                )
                reply: dict[str, Any] = {"ok": True, "seconds": seconds}
            except (Exception, SystemExit) as error:  # reported to the runner, which lists it as a failed run
                reply = {"ok": False, "error": last_line(error)}
            replies.write(json.dumps(reply) + "\n")
    except OSError:  # the runner is gone (broken pipe)
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        # os._exit: skip interpreter teardown, which a loaded TensorFlow can make slow or hang.
        os._exit(status)
