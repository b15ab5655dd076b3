"""reproduce.py's workers never outlive it: SIGKILL of the runner, Ctrl-C (SIGINT) and SIGTERM.

The runs are tests.sweep_helpers' sleeping trainer (no TensorFlow), so the tests measure process handling alone.
Workers are found from /proc (the runner's children) and the trainer's own log of which pid started which run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests import sweep_helpers
from zoo import execution, reproduce

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the process table in /proc"
)

STOP_LIMIT_SECONDS = 12  # "stops within a few seconds", with a margin for a loaded 2-core machine


def _events(log_path, event: str = "start") -> list[dict]:
    if not os.path.exists(log_path):
        return []
    with open(log_path) as f:
        return [entry for entry in map(json.loads, f.read().splitlines()) if entry["event"] == event]


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def _flags(tmp_path, jobs: int, restarts: int = 3) -> list[str]:
    return [
        f"--model={sweep_helpers.NAME}",
        f"--trainer={sweep_helpers.TRAINER}",
        f"--restarts={restarts}",
        f"--jobs={jobs}",
        f"--runs_dir={tmp_path / 'runs'}",
        "--noprogress",
    ]


def _start_runner(tmp_path, jobs: int, seconds: float = 60) -> subprocess.Popen:
    env = sweep_helpers.subprocess_env(
        **{sweep_helpers.LOG_ENV: str(tmp_path / "log.jsonl"), sweep_helpers.SECONDS_ENV: str(seconds)}
    )
    return subprocess.Popen(
        sweep_helpers.reproduce_command(*_flags(tmp_path, jobs)),
        cwd=sweep_helpers.REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Its own process group, so a signal to the group reaches it (and its workers, if they were in it) the
        # way a terminal's Ctrl-C does, and not pytest. SIGINT back to the default: a shell that started pytest
        # in the background may have set it to "ignore", which the runner would inherit.
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_until_training(runner: subprocess.Popen, tmp_path, count: int) -> list[int]:
    """Waits until `count` runs have started; returns the pids of the processes training them."""
    _wait_for(lambda: len(_events(tmp_path / "log.jsonl")) >= count or runner.poll() is not None, 60, "runs")
    assert runner.poll() is None, runner.communicate()
    return [entry["pid"] for entry in _events(tmp_path / "log.jsonl")]


def test_sigkill_of_the_runner_leaves_no_worker_and_starts_no_run(tmp_path):
    runner = _start_runner(tmp_path, jobs=2)
    try:
        trainers = _wait_until_training(runner, tmp_path, 2)
        workers = sweep_helpers.children(runner.pid)
        assert set(trainers) <= set(workers) and len(workers) == 2, (trainers, workers)
        assert all(sweep_helpers.alive(pid) for pid in workers)
        runner.kill()
        runner.wait(timeout=30)
        killed = time.monotonic()
        _wait_for(lambda: not any(map(sweep_helpers.alive, workers)), 30, "the workers to die")
        assert time.monotonic() - killed < STOP_LIMIT_SECONDS
        time.sleep(2)  # a worker that outlived the runner would now take the next run from the queue
        assert len(_events(tmp_path / "log.jsonl")) == 2
        assert not list((tmp_path / "runs").glob("*/*/results.json"))
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.communicate()


@pytest.mark.parametrize(
    "jobs, signal_number",
    [(2, signal.SIGINT), (1, signal.SIGINT), (2, signal.SIGTERM)],
    ids=["ctrl_c_2_jobs", "ctrl_c_in_process", "sigterm_2_jobs"],
)
def test_interrupt_stops_within_seconds_and_prints_the_command_that_continues(tmp_path, jobs, signal_number):
    runner = _start_runner(tmp_path, jobs=jobs)
    try:
        trainers = _wait_until_training(runner, tmp_path, jobs)
        workers = sweep_helpers.children(runner.pid) if jobs > 1 else []
        sent = time.monotonic()
        if signal_number == signal.SIGINT:
            os.killpg(runner.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        else:
            runner.send_signal(signal_number)
        out, err = runner.communicate(timeout=60)
        stopped_after = time.monotonic() - sent
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 128 + signal_number, err
    assert stopped_after < STOP_LIMIT_SECONDS
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    name = signal.Signals(signal_number).name
    assert f"reproduce.py: interrupted by {name}: 0 runs finished, 0 failed, {jobs} stopped mid-run" in err
    continue_line = err.strip().splitlines()[-1]
    assert continue_line == "Continue the sweep with: python reproduce.py " + " ".join(_flags(tmp_path, jobs))
    assert not any(map(sweep_helpers.alive, workers + trainers))
    time.sleep(1)
    assert len(_events(tmp_path / "log.jsonl")) == jobs  # nothing started after the signal
    assert not (tmp_path / "runs" / "report").exists()  # no report of an interrupted sweep

    # The printed command continues the sweep: the stopped runs resume, the rest start, all finish.
    env = {sweep_helpers.LOG_ENV: str(tmp_path / "log.jsonl"), sweep_helpers.SECONDS_ENV: "0"}
    again = subprocess.run(
        sweep_helpers.reproduce_command(*_flags(tmp_path, jobs)),
        cwd=sweep_helpers.REPO,
        env=sweep_helpers.subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    starts = _events(tmp_path / "log.jsonl")[jobs:]
    assert sorted(entry["workdir"] for entry in starts if entry["resume"]) == sorted(
        entry["workdir"] for entry in _events(tmp_path / "log.jsonl")[:jobs]
    )
    assert len(starts) == 6 and len(list((tmp_path / "runs").glob("*/*/results.json"))) == 6
    # The default --out is beside the runs, never the committed docs/results/<model>.
    assert (tmp_path / "runs" / "report" / "table.md").exists()


def test_a_worker_that_dies_fails_its_run_only(tmp_path):
    runs = reproduce.plan_runs(sweep_helpers.ENTRY, 3, str(tmp_path), settings=["plain"])
    report = execution.run_all(runs, trainer="tests.sweep_helpers:dying_trainer", jobs=2, progress=False)
    assert sorted(run.restart for run in report.completed) == [0, 2]
    [(run, error)] = report.failed
    assert (
        run.restart == 1
        and error == "the worker process training it died (killed by SIGKILL (out of memory?))"
    )


def test_a_trainer_that_workers_cannot_import_is_refused():
    with pytest.raises(ValueError, match="not importable by worker processes"):
        execution.trainer_path(lambda config, workdir, **kwargs: {})
    with pytest.raises(ValueError, match="must look like 'module:function'"):
        execution.trainer_path("zoo.training")
    assert execution.trainer_path(sweep_helpers.dying_trainer) == "tests.sweep_helpers:dying_trainer"
