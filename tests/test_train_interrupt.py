"""Ctrl-C of train.py: exit status 130 within seconds, no traceback, the command that continues the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests import sweep_helpers  # not tests.helpers: this process needs no Keras

TINY_TRAIN_PY = "from tests.helpers import run_train_py; run_train_py()"  # train.py with the tiny test model


def test_ctrl_c_stops_train_py_cleanly_and_prints_the_resume_command(tmp_path):
    flags = ["--model=tiny_mlp", "--config=smoke", "--epochs=100000", "--verbose=0", f"--workdir={tmp_path}"]
    process = subprocess.Popen(
        [sys.executable, "-c", TINY_TRAIN_PY, *flags],
        cwd=sweep_helpers.REPO,
        env=sweep_helpers.subprocess_env(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, signalled as a terminal's Ctrl-C would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not "ignored", as under `cmd &`
    )
    latest = tmp_path / "checkpoint" / "latest.json"
    try:
        deadline = time.monotonic() + 240
        while not latest.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process.poll() is None and latest.exists(), process.communicate()
        sent = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert time.monotonic() - sent < 12
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    last = err.strip().splitlines()[-1]
    assert (
        last
        == "train.py: interrupted; continue the run with: python train.py " + " ".join(flags) + " --resume"
    )
    metadata = json.loads(latest.read_text())  # the checkpoint on disk is complete
    assert (tmp_path / "checkpoint" / metadata["file"]).exists()
    assert not (tmp_path / "results.json").exists()
