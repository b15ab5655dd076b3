"""benchmarks/neural_gpu_sweep.py: the probe curve it writes while training, and the table it reads back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import REPO

SCRIPT = os.path.join(REPO, "benchmarks", "neural_gpu_sweep.py")


def _summarize(directory: str) -> str:
    completed = subprocess.run(
        [sys.executable, SCRIPT, f"--summarize={directory}"], capture_output=True, text=True, check=True
    )
    return completed.stdout


def test_summary_reports_the_last_probe_and_the_first_step_below_one_percent(tmp_path):
    probes = [
        {"epoch": 10, "steps": 500, "train_seconds": 10.0, "curriculum_length": 8.0,
         "bit_error_len20": 0.3, "bit_error_len200": 0.5},
        {"epoch": 20, "steps": 1000, "train_seconds": 20.0, "curriculum_length": 14.0,
         "bit_error_len20": 0.009, "bit_error_len200": 0.4},
        {"epoch": 30, "steps": 1500, "train_seconds": 30.0, "curriculum_length": 20.0,
         "bit_error_len20": 0.02, "bit_error_len200": 0.3},
    ]  # fmt: skip
    (tmp_path / "run_a.jsonl").write_text("\n".join(json.dumps(r) for r in [{"config": {}}, *probes]) + "\n")
    (tmp_path / "run_b.jsonl").write_text(json.dumps({"config": {}}) + "\n")
    (tmp_path / "notes.txt").write_text("not a curve")
    lines = _summarize(str(tmp_path)).splitlines()
    assert len(lines) == 2
    assert lines[0].split() == [
        "run_a", "steps", "1500", "(", "50.0/s)", "curriculum", "20",
        "20:0.0200(<1%", "at", "1000)", "200:0.3000",
    ]  # fmt: skip
    assert lines[1].split() == ["run_b", "no", "probe", "recorded"]


def test_probe_run_appends_one_record_per_probe_epoch(tmp_path):
    out = tmp_path / "probe.jsonl"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(
        [sys.executable, SCRIPT, "--config=smoke", "--epochs=4", "--probe_every=2", "--probe_lengths=6,12",
         "--probe_examples=4", "--override=model_kwargs.nmaps=4", f"--out={out}"],
        check=True, capture_output=True, env=env, timeout=600,
    )  # fmt: skip
    header, *probes = [json.loads(line) for line in out.read_text().splitlines()]
    assert header["config"]["model_kwargs"]["nmaps"] == 4 and header["config"]["epochs"] == 4
    # The smoke config has 2 steps per epoch; probes after epochs 2 and 4 (the last).
    assert [(p["epoch"], p["steps"]) for p in probes] == [(2, 4), (4, 8)]
    for probe in probes:
        for length in (6, 12):
            assert 0.0 <= probe[f"bit_error_len{length}"] <= probe[f"sequence_error_len{length}"] <= 1.0


def test_bad_flags_exit_with_a_message(tmp_path):
    completed = subprocess.run(
        [sys.executable, SCRIPT, "--config=nonexistent", f"--out={tmp_path / 'x.jsonl'}"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "nonexistent" in completed.stderr
    assert not (tmp_path / "x.jsonl").exists()
