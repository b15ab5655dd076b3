"""The runner's report: per-run results kept beside the table (and extended later), intervals, tests.

Uses the fake trainer and table of tests/test_reproduce.py: no TensorFlow, no data. Expected numbers are
computed here from the fake trainer's formula, not read back from the report code.
"""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from tests.test_reproduce import ENTRY, LOG_ENV, SPEC, fake_accuracy
from zoo import reproduce, stats

TRAINER = "tests.test_reproduce:fake_trainer"


def _spec_with_statistics():
    return dataclasses.replace(
        SPEC,
        run_value=lambda result: 100.0 * result["metrics"]["test_accuracy"],
        run_value_name="accuracy %",
        success=lambda result: result["metrics"]["test_accuracy"] >= 0.85,
        success_name="runs >= 85%",
        comparisons=(("exp1_noise", "exp1_plain"),),
    )


@pytest.fixture
def entry():
    return dataclasses.replace(ENTRY, reproduction=_spec_with_statistics())


@pytest.fixture
def calls(tmp_path, monkeypatch):
    path = tmp_path / "calls.jsonl"
    path.write_text("")
    monkeypatch.setenv(LOG_ENV, str(path))
    return lambda: [json.loads(line) for line in path.read_text().splitlines()]


def test_stored_results_extend_the_table_in_a_fresh_runs_dir(tmp_path, entry, calls):
    out = str(tmp_path / "table")
    settings = ["exp1_plain", "exp1_noise"]
    first = reproduce.plan_runs(entry, 2, str(tmp_path / "runs_a"), settings)
    reproduce.run_all(first, TRAINER, jobs=1, progress=False)
    reproduce.write_report(out, entry, first, "cmd")
    for run in first:
        with open(reproduce.stored_results_path(out, run)) as f:
            assert json.load(f)["config"]["seed"] == run.config.seed
    assert len(calls()) == 4

    # A later session: a clean checkout has the table and its stored results, no workdirs; 3 restarts now.
    second = reproduce.plan_runs(entry, 3, str(tmp_path / "runs_b"), settings)
    restored = reproduce.restore_from_store(second, out)
    assert sorted(run.label for run in restored) == sorted(run.label for run in first)
    report = reproduce.run_all(second, TRAINER, jobs=1, progress=False)
    assert sorted(run.label for run in report.completed) == ["exp1_noise#2", "exp1_plain#2"]
    assert len(calls()) == 6  # only the two new restarts trained
    summary = reproduce.write_report(out, entry, second, "cmd")
    assert {row["setting"]: row["runs"] for row in summary["rows"]} == {"exp1_plain": 3, "exp1_noise": 3}
    assert len(os.listdir(os.path.join(out, reproduce.STORE, "exp1_noise"))) == 3


def test_report_intervals_and_tests_match_an_independent_computation(tmp_path, entry, calls):
    runs = reproduce.plan_runs(entry, 4, str(tmp_path / "runs"), ["exp1_plain", "exp1_noise"])
    reproduce.run_all(runs, TRAINER, jobs=1, progress=False)
    summary = reproduce.write_report(str(tmp_path / "out"), entry, runs, "cmd")

    by_setting = {"exp1_plain": [], "exp1_noise": []}
    for run in runs:
        by_setting[run.setting].append(100.0 * fake_accuracy(run.config))
    plain, noise = by_setting["exp1_plain"], by_setting["exp1_noise"]
    row = {r["setting"]: r["intervals"] for r in summary["rows"]}
    assert row["exp1_noise"]["mean"] == pytest.approx(sum(noise) / 4)
    assert row["exp1_noise"]["mean_low"] <= sum(noise) / 4 <= row["exp1_noise"]["mean_high"]
    assert min(noise) <= row["exp1_noise"]["mean_low"] and row["exp1_noise"]["mean_high"] <= max(noise)
    # The fake trainer: 0.5 + 0.3 (noise) + 0.1 (lr 0.1) + 0.01 * seed; success means >= 0.85.
    expected_noise_successes = sum(1 for value in noise if value >= 85.0)
    assert row["exp1_noise"]["successes"] == expected_noise_successes
    assert row["exp1_plain"]["successes"] == 0
    (pair,) = summary["comparisons"]
    assert pair["mean_difference"] == pytest.approx(sum(noise) / 4 - sum(plain) / 4)
    # Every noise run beats every plain one: of the C(8, 4) = 70 splits, 2 are as extreme (both directions).
    assert pair["permutation_p"] == pytest.approx(2 / 70)
    assert pair["fisher_p"] == pytest.approx(stats.fisher_exact(expected_noise_successes, 4, 0, 4))
    table = open(tmp_path / "out" / "table.md").read()
    assert "## Noise vs no noise" in table and "0.0286" in table


def test_rows_with_too_few_runs_are_marked(tmp_path, entry, calls):
    runs = reproduce.plan_runs(entry, 2, str(tmp_path / "runs"), ["exp1_plain", "exp1_noise"])
    reproduce.run_all(runs, TRAINER, jobs=1, progress=False)
    reproduce.write_report(str(tmp_path / "out"), entry, runs, "cmd")
    table = open(tmp_path / "out" / "table.md").read()
    assert "| `exp1_plain` | 2* |" in table
    assert "fewer than 3 runs: such a row supports no statement" in table
    assert "support no statement" in table.split("## Noise vs no noise")[1]


def test_report_only_tabulates_results_brought_back_and_trains_nothing(tmp_path):
    """A GPU session's results.json files copied into --runs_dir: `--report_only` writes the table and its store
    from them alone (the sleeper trainer would log a start, and sleep, if anything trained)."""
    import subprocess

    from tests import sweep_helpers
    from zoo.config import TrainConfig

    runs_dir, out, log = tmp_path / "runs", tmp_path / "table", tmp_path / "log.jsonl"
    base = TrainConfig(model=sweep_helpers.NAME, optimizer="sgd", learning_rate=0.1, epochs=1, seed=0)
    for setting, noise in (("plain", {"noise_eta": 0.0}), ("noise", {"noise_eta": 0.01})):
        sweep_helpers._write_results(base.replace(**noise), str(runs_dir / setting / "restart_000"))
    result = subprocess.run(
        sweep_helpers.reproduce_command(
            f"--model={sweep_helpers.NAME}",
            f"--trainer={sweep_helpers.TRAINER}",
            "--config=base",
            "--restarts=2",
            "--jobs=1",
            "--report_only",
            f"--runs_dir={runs_dir}",
            f"--out={out}",
        ),
        cwd=sweep_helpers.REPO,
        env=sweep_helpers.subprocess_env(SLEEPER_LOG=str(log), SLEEPER_SECONDS="60"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert not log.exists() or log.read_text() == ""
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["finished_runs"], summary["planned_runs"]) == (2, 4)
    assert sorted(os.listdir(out / reproduce.STORE)) == ["noise", "plain"]


def test_report_only_refuses_a_result_of_another_config(tmp_path):
    import subprocess

    from tests import sweep_helpers
    from zoo.config import TrainConfig

    runs_dir = tmp_path / "runs"
    other = TrainConfig(model=sweep_helpers.NAME, optimizer="sgd", learning_rate=0.5, epochs=1, seed=0)
    sweep_helpers._write_results(other, str(runs_dir / "plain" / "restart_000"))  # lr 0.5, planned 0.1
    result = subprocess.run(
        sweep_helpers.reproduce_command(
            f"--model={sweep_helpers.NAME}",
            "--config=base",
            "--restarts=1",
            "--report_only",
            f"--runs_dir={runs_dir}",
            f"--out={tmp_path / 'table'}",
        ),
        cwd=sweep_helpers.REPO,
        env=sweep_helpers.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "learning_rate differ" in result.stderr
    assert not (tmp_path / "table" / "summary.json").exists()
