"""Every row of every paper table states its table's axes, and no named config can leak into them.

The rows are resolved through the runner's own planning (`reproduce.plan_runs`) under every named config of the
model, and each resolved run is compared with what the row's source text declares: the noise, the clipping, and
the table's own axes. The expected values come from the row definitions as data, not from `zoo.rows.check_run`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests import helpers
from zoo import registry, reproduce, rows
from zoo.training import build_optimizer

SPEC_MODELS = [name for name in registry.names() if registry.get(name).reproduction is not None]
CASES = [(model, config) for model in SPEC_MODELS for config in sorted(registry.get(model).configs)]


def _restarts(setting) -> int:
    return max(2, len(setting.overrides.get("per_restart") or []))


def _stated(setting, restart: int) -> dict:
    """The row's own statement for one restart, read off its overrides, per-restart entry and requirements."""
    stated = {}
    for key, value in setting.overrides.items():
        if key == "per_restart":
            continue
        if isinstance(value, dict):
            stated.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            stated[key] = value
    per_restart = setting.overrides.get("per_restart")
    if per_restart:
        for key, value in per_restart[restart % len(per_restart)].items():
            stated[key] = value
    stated.update(setting.requires)
    return stated


@pytest.mark.parametrize("model", SPEC_MODELS)
def test_every_row_states_noise_clipping_and_its_tables_axes(model):
    spec = registry.get(model).reproduction
    assert {"noise_eta", "noise_std", "global_clipnorm", "clipnorm"} <= set(spec.all_axes)
    for setting in spec.settings:
        for restart in range(_restarts(setting)):
            missing = [axis for axis in spec.all_axes if axis not in _stated(setting, restart)]
            assert not missing, f"{model} row {setting.name} does not state {missing}"
        assert rows.missing_axes(spec, setting) == []


@pytest.mark.parametrize(("model", "config_name"), CASES)
def test_resolved_rows_match_their_statement_under_every_config(model, config_name, tmp_path):
    entry = registry.get(model)
    spec = entry.reproduction
    restarts = max(_restarts(setting) for setting in spec.settings)
    runs = reproduce.plan_runs(entry, restarts, str(tmp_path), config_name=config_name)
    assert len(runs) == restarts * len(spec.settings)
    for run in runs:
        setting = next(s for s in spec.settings if s.name == run.setting)
        for axis, value in _stated(setting, run.restart).items():
            field, _, key = axis.partition(".")
            actual = getattr(run.config, field)
            actual = actual.get(key) if key else actual
            if isinstance(value, rows.AtLeast):
                assert actual >= value.minimum, (run.label, axis, actual)
            elif isinstance(value, rows.Off):
                assert actual in (None, 0, 0.0, False), (run.label, axis, actual)
            else:
                assert actual == value and type(actual) is type(value), (run.label, axis, actual, value)


@pytest.mark.parametrize(("model", "config_name"), CASES)
def test_no_noise_rows_build_a_noiseless_optimizer(model, config_name, tmp_path):
    """What a no-noise row promises, checked where it matters: the optimizer the trainer builds adds nothing."""
    entry = registry.get(model)
    for run in reproduce.plan_runs(entry, 1, str(tmp_path), config_name=config_name):
        setting = next(s for s in entry.reproduction.settings if s.name == run.setting)
        stated = _stated(setting, run.restart)
        optimizer = build_optimizer(run.config, steps_per_epoch=10)
        if stated["noise_eta"] == 0 and stated["noise_std"] is None:
            assert optimizer.noise_schedule.is_zero, run.label
            assert float(optimizer.noise_schedule(0)) == 0.0
        else:
            assert float(optimizer.noise_schedule(0)) > 0.0, run.label


def test_an_override_of_an_axis_is_refused_naming_row_and_field(tmp_path):
    entry = registry.get("deep_mlp")
    with pytest.raises(ValueError, match=r"exp1_simple_noclip declares noise_eta=0\.0.*0\.3"):
        reproduce.plan_runs(entry, 1, str(tmp_path), ["exp1_simple_noclip"], None, {"noise_eta": 0.3})
    with pytest.raises(ValueError, match=r"exp3_simple_clip10 declares model_kwargs\.init=simple"):
        reproduce.plan_runs(
            entry, 1, str(tmp_path), ["exp3_simple_clip10"], None, {"model_kwargs": {"init": "good"}}
        )
    with pytest.raises(ValueError, match=r"declares model_kwargs\.dropout=off"):
        reproduce.plan_runs(
            entry, 1, str(tmp_path), ["exp3_simple_clip10"], None, {"model_kwargs": {"dropout": 0.2}}
        )
    # Scale may change freely.
    runs = reproduce.plan_runs(entry, 1, str(tmp_path), ["exp3_simple_clip10"], None, {"epochs": 3})
    assert runs[0].config.epochs == 3


def _reproduce_deep_mlp(tmp_path, *flags: str, timeout: float) -> subprocess.CompletedProcess:
    argv = [sys.executable, os.path.join(helpers.REPO, "reproduce.py"), "--model=deep_mlp", *flags]
    argv += [f"--runs_dir={tmp_path / 'runs'}", f"--out={tmp_path / 'out'}"]
    return helpers.run(argv, timeout=timeout)


def test_reproduce_py_refuses_an_axis_override_with_exit_2(tmp_path):
    result = _reproduce_deep_mlp(
        tmp_path, "--settings=exp1_simple_noclip", "--override=global_clipnorm=5", timeout=120
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "exp1_simple_noclip declares global_clipnorm=None" in lines[0], result.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


def test_smoke_sweep_logs_zero_noise_in_every_no_noise_row(tmp_path):
    """A real sweep of Table 1 under the smoke config (which itself sets eta 0.01): the logged noise std."""
    result = _reproduce_deep_mlp(
        tmp_path, "--config=smoke", "--restarts=1", "--jobs=1", "--steps=2", "--noprogress", timeout=400
    )
    assert result.returncode == 0, result.stderr[-3000:]
    spec = registry.get("deep_mlp").reproduction
    for setting in spec.settings:
        with open(os.path.join(tmp_path, "runs", setting.name, "restart_000", "results.json")) as f:
            logged = json.load(f)["history"]["noise_stddev"]
        noisy = _stated(setting, 0)["noise_eta"] > 0
        if noisy:
            # sigma after 2 updates of eta 0.01, gamma 0.55: sqrt(0.01 / 3**0.55), computed here by hand.
            assert logged == [pytest.approx((0.01 / 3**0.55) ** 0.5, rel=1e-5)], setting.name
        else:
            assert logged == [0.0], setting.name
