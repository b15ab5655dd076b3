"""Tests of the shared restart runner (zoo/reproduce.py) with a fake trainer: no TensorFlow, no data."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os

import pytest

from zoo import reproduce, rows
from zoo.config import TrainConfig
from zoo.registry import ReproductionSpec, Setting, TaskData, ZooEntry

LOG_ENV = "FAKE_TRAINER_LOG"


def fake_accuracy(config: TrainConfig) -> float:
    """A made-up final accuracy that depends on the setting (noise), learning rate and seed."""
    return round(
        0.5
        + (0.3 if config.noise_eta > 0 else 0.0)
        + (0.1 if config.learning_rate > 0.05 else 0.0)
        + 0.01 * config.seed,
        6,
    )


def fake_trainer(
    config: TrainConfig, workdir: str, *, data_dir=None, resume=False, verbose=1, **kwargs
) -> dict:
    """Writes a results.json like zoo.training's; logs each call (one line, appended) to $FAKE_TRAINER_LOG."""
    with open(os.environ[LOG_ENV], "a") as log:
        log.write(
            json.dumps(
                {"workdir": workdir, "seed": config.seed, "resume": resume, "data_dir": data_dir, **kwargs}
            )
            + "\n"
        )
    if config.model_kwargs.get("explode") == config.seed:
        raise RuntimeError(f"exploded on seed {config.seed}")
    accuracy = fake_accuracy(config)
    history = {"val_accuracy": [accuracy / 2, accuracy][: config.epochs]}
    # As logged by the zoo's runs: sigma_t / RMS(gradient entry), 0 without noise; varies with the seed here.
    history["noise_to_gradient"] = [config.noise_eta * (10 + config.seed), config.noise_eta][: config.epochs]
    results = {
        "config": json.loads(config.to_json()),
        "metrics": {"test_accuracy": accuracy},
        "history": history,
        "wall_seconds": 0.01,
    }
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f)
    return results


def best_and_mean(results: list[dict]) -> dict[str, float]:
    values = [r["metrics"]["test_accuracy"] for r in results]
    return {"best": max(values), "mean": sum(values) / len(values)}


ALTERNATE = [{"learning_rate": 0.1}, {"learning_rate": 0.01}]
PLAIN = {**rows.no_noise(), **rows.clipping()}
NOISY = {**rows.annealed_noise(0.01), **rows.clipping()}
SPEC = ReproductionSpec(
    title="Fake table",
    config="base",
    settings=(
        Setting("exp1_plain", {**PLAIN, "per_restart": ALTERNATE}, {"best": 0.6, "mean": 0.55}),
        Setting("exp1_noise", {**NOISY, "per_restart": ALTERNATE}, {"best": 0.9, "mean": 0.85}),
        Setting("exp2_bad", {**PLAIN, "model_kwargs": {"explode": 1}}, {}),
    ),
    columns=("best", "mean"),
    summarize=best_and_mean,
    curve_metric="val_accuracy",
)
ENTRY = ZooEntry(
    name="fake",
    description="a fake model for the runner's tests",
    build_model=lambda **kwargs: None,
    make_data=lambda config, data_dir: TaskData(train=None),
    compile_kwargs=lambda config: {},
    configs={"base": lambda: TrainConfig(model="fake", optimizer="sgd", learning_rate=0.5, epochs=2, seed=0)},
    reproduction=SPEC,
)


@pytest.fixture
def call_log(tmp_path, monkeypatch):
    path = tmp_path / "calls.jsonl"
    path.write_text("")
    monkeypatch.setenv(LOG_ENV, str(path))  # inherited by the spawned worker processes
    return lambda: [json.loads(line) for line in path.read_text().splitlines()]


def test_parse_overrides():
    parsed = reproduce.parse_overrides(
        [
            "epochs=3",
            "data_kwargs.train_size=20000",
            "model_kwargs.init=good",
            "global_clipnorm=null",
            "optimizer=sgd",
        ]
    )
    assert parsed == {
        "epochs": 3,
        "data_kwargs": {"train_size": 20000},
        "model_kwargs": {"init": "good"},
        "global_clipnorm": None,
        "optimizer": "sgd",
    }
    with pytest.raises(ValueError, match="field=value"):
        reproduce.parse_overrides(["epochs"])


def test_plan_orders_overrides_and_seeds(tmp_path):
    runs = reproduce.plan_runs(
        ENTRY, 3, str(tmp_path), settings=["exp1_noise"], overrides={"epochs": 1, "seed": 10}
    )
    assert [(r.setting, r.restart) for r in runs] == [("exp1_noise", 0), ("exp1_noise", 1), ("exp1_noise", 2)]
    assert [r.config.learning_rate for r in runs] == [0.1, 0.01, 0.1]  # per_restart beats the base's 0.5
    assert [r.config.seed for r in runs] == [10, 11, 12]  # the command line's seed, plus the restart
    assert all(r.config.epochs == 1 and r.config.noise_eta == 0.01 for r in runs)
    assert runs[2].workdir == os.path.join(str(tmp_path), "exp1_noise", "restart_002")
    # Command-line overrides come last, so they can change what a setting sets.
    assert (
        reproduce.plan_runs(ENTRY, 1, str(tmp_path), overrides={"learning_rate": 0.2})[0].config.learning_rate
        == 0.2
    )


def test_plan_rejects_bad_input(tmp_path):
    with pytest.raises(
        ValueError, match="Unknown settings \\['nope'\\].*Known settings: exp1_plain, exp1_noise"
    ):
        reproduce.plan_runs(ENTRY, 2, str(tmp_path), settings=["nope"])
    with pytest.raises(ValueError, match="restarts must be a positive integer"):
        reproduce.plan_runs(ENTRY, 0, str(tmp_path))
    with pytest.raises(ValueError, match="Unknown TrainConfig field 'epoch'"):
        reproduce.plan_runs(ENTRY, 1, str(tmp_path), overrides={"epoch": 3})
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        reproduce.plan_runs(ENTRY, 1, str(tmp_path), overrides={"learning_rate": -1.0})


def test_plan_checks_every_run_against_the_entrys_option_classes(tmp_path):
    @dataclasses.dataclass
    class Options:
        size: int = 1

    # The fake model's builder takes `explode` (a row sets it) and `width`.
    entry = dataclasses.replace(ENTRY, build_model=lambda explode=None, width=1: None, data_options=Options)
    good = {"model_kwargs": {"width": 2}, "data_kwargs": {"size": 3}}
    assert len(reproduce.plan_runs(entry, 1, str(tmp_path), overrides=good)) == 3
    with pytest.raises(
        ValueError, match="Unknown model_kwargs key 'depth' for model 'fake'. Accepted: explode, width."
    ):
        reproduce.plan_runs(entry, 1, str(tmp_path), overrides={"model_kwargs": {"depth": 2}})
    with pytest.raises(
        ValueError, match="Unknown data_kwargs keys 'a', 'b' for model 'fake'. Accepted: size."
    ):
        reproduce.plan_runs(entry, 1, str(tmp_path), overrides={"data_kwargs": {"b": 1, "a": 2}})


def test_every_run_happens_once_across_processes_and_reruns(tmp_path, call_log):
    runs = reproduce.plan_runs(ENTRY, 4, str(tmp_path / "runs"))
    assert len(runs) == 12
    stream = io.StringIO()
    report = reproduce.run_all(runs, trainer=fake_trainer, jobs=2, data_dir="/data", stream=stream)
    calls = call_log()
    assert sorted(c["workdir"] for c in calls) == sorted(r.workdir for r in runs)  # each exactly once
    assert all(c["data_dir"] == "/data" and not c["resume"] for c in calls)
    assert len(report.completed) == 11 and not report.skipped
    [(failed_run, error)] = report.failed
    assert (failed_run.setting, failed_run.restart) == ("exp2_bad", 1) and "exploded on seed 1" in error
    assert stream.getvalue().count("\n") == 12 and "12/12 runs" in stream.getvalue()

    # An interrupted run (config.json but no results.json) is resumed; finished runs are skipped.
    os.makedirs(failed_run.workdir, exist_ok=True)
    with open(os.path.join(failed_run.workdir, "config.json"), "w") as f:
        f.write(failed_run.config.to_json())
    rerun = reproduce.run_all(runs, trainer=fake_trainer, jobs=2, progress=False)
    new_calls = call_log()[len(calls) :]
    assert [(c["workdir"], c["resume"]) for c in new_calls] == [(failed_run.workdir, True)]
    assert len(rerun.skipped) == 11 and len(rerun.failed) == 1


def test_in_process_mode_accepts_a_module_path(tmp_path, call_log):
    runs = reproduce.plan_runs(ENTRY, 2, str(tmp_path), settings=["exp1_plain"])
    report = reproduce.run_all(runs, trainer=f"{__name__}:fake_trainer", jobs=1, progress=False)
    assert len(report.completed) == 2 and len(call_log()) == 2


@pytest.mark.parametrize("jobs", [1, 2])
def test_train_kwargs_reach_every_run(tmp_path, call_log, jobs):
    runs = reproduce.plan_runs(ENTRY, 2, str(tmp_path), settings=["exp1_plain"])
    kwargs = {"strategy": "data_parallel", "cpu_devices": 2}
    reproduce.run_all(runs, trainer=fake_trainer, jobs=jobs, progress=False, train_kwargs=kwargs)
    calls = call_log()
    assert len(calls) == 2 and all(c["strategy"] == "data_parallel" and c["cpu_devices"] == 2 for c in calls)


def test_aggregation_table_and_plot_by_hand(tmp_path, call_log):
    runs = reproduce.plan_runs(ENTRY, 4, str(tmp_path / "runs"), settings=["exp1_plain", "exp1_noise"])
    reproduce.run_all(runs, trainer=fake_trainer, jobs=1, progress=False)
    rows = reproduce.summarize(SPEC, reproduce.load_results(runs))
    # exp1_plain: seeds 0..3 at lr 0.1, 0.01, 0.1, 0.01 -> 0.6, 0.51, 0.62, 0.53.
    # exp1_noise: the same plus 0.3 -> 0.9, 0.81, 0.92, 0.83.
    assert rows[0]["setting"] == "exp1_plain" and rows[0]["runs"] == 4
    assert rows[0]["ours"] == {
        "best": pytest.approx(0.62),
        "mean": pytest.approx((0.6 + 0.51 + 0.62 + 0.53) / 4),
    }
    assert rows[1]["ours"] == {
        "best": pytest.approx(0.92),
        "mean": pytest.approx((0.9 + 0.81 + 0.92 + 0.83) / 4),
    }
    assert rows[1]["paper"] == {"best": 0.9, "mean": 0.85}
    table = reproduce.format_table(SPEC, rows)
    assert (
        table.splitlines()[0]
        == "| setting | runs | best (ours) | best (paper) | mean (ours) | mean (paper) |"
    )
    assert table.splitlines()[2] == "| `exp1_plain` | 4 | 0.62 | 0.6 | 0.565 | 0.55 |"

    summary = reproduce.write_report(str(tmp_path / "out"), ENTRY, runs, "python reproduce.py --model=fake")
    assert summary["finished_runs"] == 8 and summary["curves"] == "curves.png"
    # Only the noise row has a non-zero ratio: eta 0.01 x (10 + seed) at epoch 1 for seeds 0..3, 0.01 at the last.
    assert summary["noise_to_gradient"] == {
        "exp1_noise": {"first": pytest.approx(0.01 * 11.5), "last": pytest.approx(0.01)}
    }
    with open(tmp_path / "out" / "noise_to_gradient.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "out" / "curves.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    markdown = (tmp_path / "out" / "table.md").read_text()
    assert "| `exp1_plain` | 4 | 0.62 | 0.6 | 0.565 | 0.55 |" in markdown
    assert "Command: `python reproduce.py --model=fake`" in markdown
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["rows"][1]["ours"][
        "best"
    ] == pytest.approx(0.92)


def test_curve_statistics_by_hand():
    results = [
        {"history": {"acc": [0.1, 0.5, 0.9]}},
        {"history": {"acc": [0.3, float("nan")]}},  # a diverged, shorter run
        {"history": {}},
    ]
    stats = reproduce.curve_statistics(results, "acc")
    assert stats["mean"] == pytest.approx([0.2, 0.5, 0.9])
    assert stats["min"] == pytest.approx([0.1, 0.5, 0.9]) and stats["max"] == pytest.approx([0.3, 0.5, 0.9])
    assert stats["count"] == [2.0, 1.0, 1.0]
    assert reproduce.curve_statistics([], "acc")["mean"] == []


def test_rows_that_differ_only_in_the_noise_share_a_panel():
    panels = {name: reproduce.curve_panel(name) for name in ("exp1_he_noise", "exp1_he", "setting2_no_noise")}
    assert panels == {"exp1_he_noise": "exp1", "exp1_he": "exp1", "setting2_no_noise": "setting2"}
    # Table 7's bare names: no_noise beside noise and noise_eta0.01, gated on its own.
    assert {reproduce.curve_panel(n) for n in ("no_noise", "noise", "noise_eta0.01")} == {"noise"}
    assert reproduce.curve_panel("gated") == "gated"


def test_per_restart_must_be_a_list_of_dicts():
    bad = Setting("bad", {"per_restart": {"learning_rate": 0.1}})
    with pytest.raises(ValueError, match="per_restart must be a non-empty list of override dicts"):
        reproduce.restart_config(TrainConfig(model="fake"), bad, 0)
    assert math.isclose(
        reproduce.restart_config(TrainConfig(model="fake"), SPEC.settings[0], 3).learning_rate, 0.01
    )


def test_a_finished_run_of_another_config_is_not_reused(tmp_path, call_log):
    runs = reproduce.plan_runs(ENTRY, 1, str(tmp_path), settings=["exp1_plain"])
    reproduce.run_all(runs, trainer=fake_trainer, jobs=1, progress=False)
    longer = reproduce.plan_runs(ENTRY, 1, str(tmp_path), settings=["exp1_plain"], overrides={"epochs": 7})
    with pytest.raises(
        ValueError, match=r"holds a finished run of a different config \(fields epochs differ\)"
    ):
        reproduce.run_all(longer, trainer=fake_trainer, jobs=1, progress=False)


def test_loading_finished_runs_refuses_one_of_another_config(tmp_path, call_log):
    # Every report reads finished runs through load_results or write_report: each checks what it reads.
    runs = reproduce.plan_runs(ENTRY, 1, str(tmp_path), settings=["exp1_plain"])
    reproduce.run_all(runs, trainer=fake_trainer, jobs=1, progress=False)
    assert len(reproduce.load_results(runs)["exp1_plain"]) == 1
    longer = reproduce.plan_runs(ENTRY, 1, str(tmp_path), settings=["exp1_plain"], overrides={"epochs": 7})
    for load in (
        lambda: reproduce.load_results(longer),
        lambda: reproduce.write_report(str(tmp_path / "out"), ENTRY, longer, "cmd"),
    ):
        with pytest.raises(ValueError, match=r"different config \(fields epochs differ\)"):
            load()
    assert not (tmp_path / "out").exists()  # nothing written


def _fake_tool(directory, name: str, script: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)


def test_machine_description_names_the_gpus_nvidia_smi_lists(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "nvidia-smi", 'printf "NVIDIA H100 80GB HBM3\\nNVIDIA H100 80GB HBM3\\n"')
    monkeypatch.setenv("PATH", str(tmp_path))
    assert reproduce.nvidia_gpus() == ["NVIDIA H100 80GB HBM3"] * 2
    assert reproduce.machine_description().endswith("GPU: NVIDIA H100 80GB HBM3, NVIDIA H100 80GB HBM3")


def test_machine_description_without_a_working_nvidia_smi_names_no_gpu(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert reproduce.nvidia_gpus() == []
    assert "GPU" not in reproduce.machine_description()
    _fake_tool(tmp_path, "nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    assert reproduce.nvidia_gpus() == []
    assert "CPUs" in reproduce.machine_description()


def test_no_noise_to_gradient_plot_without_noise_rows(tmp_path, call_log):
    runs = reproduce.plan_runs(ENTRY, 2, str(tmp_path / "runs"), settings=["exp1_plain"])
    reproduce.run_all(runs, trainer=fake_trainer, jobs=1, progress=False)
    summary = reproduce.write_report(str(tmp_path / "out"), ENTRY, runs, "cmd")
    assert summary["noise_to_gradient"] == {}  # logged, but 0 in every epoch: nothing to plot on a log axis
    assert not (tmp_path / "out" / "noise_to_gradient.png").exists()
