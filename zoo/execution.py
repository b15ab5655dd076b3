"""Executing a sweep's runs: in worker processes that die with the runner, or in this process (jobs=1).

`run_all(runs, trainer, jobs)` skips runs whose results.json exists, resumes runs that were interrupted
(config.json but no results.json) and trains the others, `jobs` at a time. A failing run does not stop the others.

Workers. Each worker is a fresh Python process (spawned, so no state leaks from the runner) in a session of its
own, so that the terminal's Ctrl-C reaches the runner only. It trains one run at a time, as the runner hands it
out: one JSON request on its stdin, one JSON reply on a private copy of its stdout (what a trainer prints goes to
stderr). Runs are never queued inside a worker, so nothing starts that the runner did not hand out just now.

Interrupts.
- Ctrl-C (SIGINT) or SIGTERM of the runner: `run_all` stops every worker (SIGTERM to its process group, SIGKILL
  after `STOP_GRACE_SECONDS`), starts nothing more, and raises `SweepInterrupted` (a KeyboardInterrupt) with what
  finished. Checkpoints and results are written atomically, so a stopped run resumes from its last checkpoint
  when the same sweep runs again.
- The runner killed outright (SIGKILL, a crash, the terminal closed): every worker dies with it. On Linux the
  kernel kills it (prctl PR_SET_PDEATHSIG); everywhere, a thread in each worker checks every half second that its
  parent is still the runner and otherwise kills its own process group; an idle worker also ends at the end of
  its stdin.

Worker processes need POSIX (process groups, select on pipes); elsewhere run_all trains in this process.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TextIO

from zoo.planning import Run
from zoo.registry import differing_fields
from zoo.worker import BOOTSTRAP, Trainer, execute, last_line, trainer_path

DEFAULT_TRAINER = "zoo.training:train_and_evaluate"
STOP_GRACE_SECONDS = 3.0  # after SIGTERM, before SIGKILL


@dataclasses.dataclass
class SweepReport:
    """What `run_all` did: runs completed now, skipped (done before), failed (with the error)."""

    completed: list[Run] = dataclasses.field(default_factory=list)
    skipped: list[Run] = dataclasses.field(default_factory=list)
    failed: list[tuple[Run, str]] = dataclasses.field(default_factory=list)


class SweepInterrupted(KeyboardInterrupt):
    """Raised by `run_all` when SIGINT (Ctrl-C) or SIGTERM stopped the sweep; no worker is left when it is raised.

    Attributes:
        report: the runs completed, skipped and failed before the interrupt.
        stopped: the runs that were training; each resumes from its last checkpoint when the sweep runs again.
        signal_number: signal.SIGINT or signal.SIGTERM.
    """

    def __init__(self, report: SweepReport, stopped: Sequence[Run], signal_number: int) -> None:
        super().__init__(f"sweep interrupted by {signal.Signals(signal_number).name}")
        self.report, self.stopped, self.signal_number = report, list(stopped), signal_number


# ---------------------------------------------------------------------------------------------------------
# The runner's side
# ---------------------------------------------------------------------------------------------------------


def _worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # Read when the worker first imports TensorFlow/JAX, so that concurrent runs do not oversubscribe cores.
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(name, str(threads))
    env.setdefault("TF_NUM_INTEROP_THREADS", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return f"killed by {name}" + (" (out of memory?)" if -returncode == signal.SIGKILL else "")
    return f"exit status {returncode}"


class _Worker:
    """A worker process seen from the runner: its pipes, and the run it is training (None when idle)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.run: Run | None = None
        self._buffer = b""
        self.process = subprocess.Popen(
            [sys.executable, "-c", BOOTSTRAP, json.dumps(sys.path), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own session and process group: no terminal signals, killpg-able
        )

    def fileno(self) -> int:
        return self.process.stdout.fileno()

    def start(self, run: Run, request: dict[str, Any]) -> None:
        self.run = run
        with contextlib.suppress(OSError):  # a dead worker: its end of file reports the run as failed
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()

    def read(self) -> tuple[list[dict[str, Any]], bool]:
        """The complete replies that arrived, and whether the worker closed its end (it is exiting)."""
        data = os.read(self.fileno(), 1 << 16)
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()], not data

    def finish_input(self) -> None:
        """Closes the worker's stdin: an idle worker then exits."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()

    def signal_group(self, signal_number: int) -> None:
        if self.process.poll() is None:  # not reaped yet, so its process group id is still its own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal_number)

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()


def _stop_workers(workers: Sequence[_Worker], interrupt: bool) -> None:
    """Ends every worker: SIGTERM at once if `interrupt`, else end of input; SIGKILL whatever is left after grace."""
    for worker in workers:
        worker.finish_input()
        if interrupt:
            worker.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + (STOP_GRACE_SECONDS if interrupt else 10 * STOP_GRACE_SECONDS)
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for worker in workers:
        worker.signal_group(signal.SIGKILL)
        worker.process.wait()
        worker.close()


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[list[int]]:
    """While active, SIGTERM raises KeyboardInterrupt like SIGINT does; yields [the signal that came]."""
    received = [int(signal.SIGINT)]
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_sigterm(signal_number: int, frame: Any) -> None:
        received[0] = signal_number
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignores SIGINT and SIGTERM (in the main thread) while the workers are being stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _run_in_workers(
    pending: Sequence[Run],
    trainer: str,
    jobs: int,
    data_dir: str | None,
    finish: Callable[[Run, float | None, str | None], None],
    stopped: list[Run],
    train_kwargs: Mapping[str, Any] | None = None,
) -> None:
    """Trains `pending` in up to `jobs` workers; on KeyboardInterrupt stops them, fills `stopped` and re-raises."""
    env = _worker_env(max(1, (os.cpu_count() or 1) // jobs))
    queue = collections.deque(pending)
    workers: list[_Worker] = []
    selector = selectors.DefaultSelector()

    def hand_out(worker: _Worker) -> None:
        run = queue.popleft()
        request = {
            "trainer": trainer,
            "config": run.config.to_json(),
            "workdir": run.workdir,
            "data_dir": data_dir,
            "train_kwargs": dict(train_kwargs or {}),
        }
        worker.start(run, request)

    try:
        while queue or any(worker.run is not None for worker in workers):
            for worker in workers:
                if worker.run is None and queue:
                    hand_out(worker)
            while queue and len(workers) < jobs:
                workers.append(_Worker(env))
                selector.register(workers[-1], selectors.EVENT_READ)
                hand_out(workers[-1])
            if not queue:
                for worker in workers:
                    if worker.run is None:
                        worker.finish_input()
            for key, _ in selector.select(timeout=1.0):
                worker = key.fileobj
                replies, ended = worker.read()
                for reply in replies:
                    run, worker.run = worker.run, None
                    finish(run, reply.get("seconds"), None if reply.get("ok") else reply.get("error", "?"))
                if ended:
                    selector.unregister(worker)
                    workers.remove(worker)
                    _stop_workers([worker], interrupt=False)
                    if worker.run is not None:
                        exit_text = _describe_exit(worker.process.returncode)
                        finish(worker.run, None, f"the worker process training it died ({exit_text})")
    except KeyboardInterrupt:
        stopped[:] = [worker.run for worker in workers if worker.run is not None]
        with _signals_ignored():
            _stop_workers(workers, interrupt=True)
        raise
    finally:  # normally only idle workers are left; after an unexpected error, busy ones are stopped too
        with _signals_ignored():
            _stop_workers(workers, interrupt=any(worker.run is not None for worker in workers))
        selector.close()


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class Progress:
    """A progress bar over runs: redrawn in place on a terminal, one line per finished run otherwise."""

    def __init__(self, total: int, jobs: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.jobs, self.enabled = total, jobs, enabled
        self.stream = stream or sys.stdout
        self.done = self.skipped = self.failed = 0
        self.durations: list[float] = []
        self.started = time.time()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, run: Run, status: str, seconds: float | None = None, detail: str = "") -> None:
        """Records that `run` finished with `status` ("done", "skipped" or "failed") and redraws the bar."""
        self.done += 1
        self.skipped += status == "skipped"
        self.failed += status == "failed"
        if seconds is not None and status == "done":
            self.durations.append(seconds)
        if not self.enabled:
            return
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        elapsed = time.time() - self.started
        remaining = self.total - self.done
        eta = ""
        if self.durations and remaining:
            mean = sum(self.durations) / len(self.durations)
            eta = f" | ETA {_format_seconds(mean * math.ceil(remaining / self.jobs))}"
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} runs | "
            f"{self.skipped} skipped | {self.failed} failed | elapsed {_format_seconds(elapsed)}{eta} | "
            f"{run.label} {status}" + (f" {detail}" if detail else "")
        )
        if self._tty:
            self.stream.write("\r\033[K" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def interrupted(self) -> None:
        """Ends a bar left mid-line on a terminal, so that what follows starts on a line of its own."""
        if self.enabled and self._tty and 0 < self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()


def _final_metric(run: Run) -> str:
    try:
        with open(run.results_path) as f:
            metrics = json.load(f).get("metrics", {})
    except (OSError, ValueError):
        return ""
    shown = [
        f"{k}={v:.4g}" for k, v in metrics.items() if k.startswith("test") and isinstance(v, (int, float))
    ]
    return " ".join(shown[:2])


def finished_results(runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
    """run.label -> the results.json of each finished run (one with a results.json), read once.

    Raises:
        ValueError: a finished run ran another config than the planned one (`_check_recorded_config`).
    """
    found: dict[str, dict[str, Any]] = {}
    for run in runs:
        if os.path.exists(run.results_path):
            with open(run.results_path) as f:
                found[run.label] = json.load(f)
            _check_recorded_config(run, found[run.label])
    return found


def _check_recorded_config(run: Run, results: Mapping[str, Any]) -> None:
    """A finished run is reused or reported only if it ran the planned config; anything else would mix sweeps
    silently.

    Args:
        run: the planned run.
        results: its results.json, as loaded.

    Raises:
        ValueError: naming the fields that differ.
    """
    differing = differing_fields(results.get("config"), json.loads(run.config.to_json()))
    if differing:
        raise ValueError(
            f"{run.workdir} holds a finished run of a different config (fields {', '.join(differing)} differ). "
            "Pass another --runs_dir, or delete that directory to rerun it."
        )


def run_all(
    runs: Sequence[Run],
    trainer: Trainer | str = DEFAULT_TRAINER,
    jobs: int = 1,
    data_dir: str | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
    train_kwargs: Mapping[str, Any] | None = None,
) -> SweepReport:
    """Executes the runs that have no results.json yet, `jobs` at a time in worker processes.

    Args:
        runs: from `plan_runs`.
        trainer: `trainer(config, workdir, data_dir=..., resume=..., verbose=0)`, as a callable (module-level,
            so that worker processes can import it) or a "module:function" string.
        jobs: concurrent worker processes; 1 runs everything in this process, one after another.
        data_dir: passed to every run.
        progress: draw the progress bar.
        stream: where the progress bar goes (default stdout).
        train_kwargs: more keyword arguments of every `trainer` call, e.g. {"strategy": "data_parallel",
            "cpu_devices": 2} for `zoo.training.train_and_evaluate`. A run with a multi-device strategy uses all
            the process's devices, so on GPUs give it --jobs=1.

    Returns:
        A SweepReport. A failing run does not stop the others; it is listed in `failed`.

    Raises:
        SweepInterrupted: SIGINT (Ctrl-C) or SIGTERM arrived; the workers are stopped, nothing more is started.
        ValueError: bad `jobs` or `trainer`, or a finished run of another config in a run's workdir.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer; got {jobs!r}.")
    report = SweepReport()
    bar = Progress(len(runs), jobs, stream, enabled=progress)
    finished_results(runs)  # refuses a finished run of another config before anything runs
    pending = []
    for run in runs:
        if os.path.exists(run.results_path):
            report.skipped.append(run)
            bar.update(run, "skipped")
        else:
            pending.append(run)
    in_workers = jobs > 1 and len(pending) > 1 and os.name == "posix"
    path = trainer_path(trainer) if in_workers else trainer

    def finish(run: Run, seconds: float | None, error: str | None) -> None:
        if error is not None:  # one broken run must not lose the sweep; it is reported and retried later
            report.failed.append((run, error))
            bar.update(run, "failed", detail=error)
        else:
            report.completed.append(run)
            bar.update(
                run, "done", seconds, f"{_format_seconds(seconds or 0.0)} {_final_metric(run)}".strip()
            )

    current: list[Run] = []  # the runs training now
    with _signals_interrupt() as received:
        try:
            if in_workers:
                _run_in_workers(pending, path, jobs, data_dir, finish, current, train_kwargs)
            else:
                for run in pending:
                    current[:] = [run]
                    try:
                        seconds = execute(trainer, run.config.to_json(), run.workdir, data_dir, train_kwargs)
                    except Exception as error:
                        finish(run, None, last_line(error))
                    else:
                        finish(run, seconds, None)
                    current.clear()
        except KeyboardInterrupt:
            bar.interrupted()
            raise SweepInterrupted(report, current, received[0]) from None
    return report
