"""TrainConfig fields added after runs were recorded: `noise_exclude` reaches the optimizer, and a config recorded
without a newer field counts as that field's default when a finished run is reused or a run is resumed."""

from __future__ import annotations

import json
import os

import pytest

from zoo import execution
from zoo.config import TrainConfig
from zoo.planning import Run


def _old_recorded(config: TrainConfig) -> dict:
    """`config` as a version without the `noise_exclude` field wrote it."""
    recorded = json.loads(config.to_json())
    del recorded["noise_exclude"]
    return recorded


def _run_with_results(tmp_path, planned: TrainConfig, recorded: dict) -> Run:
    workdir = str(tmp_path / "run")
    os.makedirs(workdir)
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump({"config": recorded, "metrics": {}}, f)
    return Run(setting="s", restart=0, config=planned, workdir=workdir)


def test_noise_exclude_defaults_to_none_and_is_validated():
    assert TrainConfig(model="m").noise_exclude == []
    TrainConfig(model="m", noise_exclude=["gamma", "beta"]).validate()
    for bad in ("gamma", ["gamma", ""], [3]):
        with pytest.raises(ValueError, match="noise_exclude must be a list of non-empty strings"):
            TrainConfig(model="m", noise_exclude=bad).validate()


def test_with_defaults_fills_only_missing_fields():
    config = TrainConfig(model="m", noise_eta=0.3)
    recorded = _old_recorded(config)
    assert "noise_exclude" not in recorded
    assert TrainConfig.with_defaults(recorded) == json.loads(config.to_json())
    changed = dict(recorded, noise_exclude=["bn"])
    assert TrainConfig.with_defaults(changed)["noise_exclude"] == ["bn"]


def test_a_finished_run_recorded_before_the_field_existed_is_reused(tmp_path):
    planned = TrainConfig(model="m", noise_eta=0.01, epochs=2)
    run = _run_with_results(tmp_path, planned, _old_recorded(planned))
    execution.finished_results([run])  # no error: the missing field is its default


def test_a_finished_run_with_another_exclusion_is_refused(tmp_path):
    planned = TrainConfig(model="m", noise_eta=0.01, noise_exclude=["bn"])
    run = _run_with_results(tmp_path, planned, _old_recorded(planned))
    with pytest.raises(ValueError, match=r"different config \(fields noise_exclude differ\)"):
        execution.finished_results([run])


def test_resume_accepts_a_config_json_written_before_the_field_existed(tmp_path):
    from zoo.training import _check_workdir

    config = TrainConfig(model="m", noise_eta=0.01, epochs=2)
    with open(tmp_path / "config.json", "w") as f:
        json.dump(_old_recorded(config), f)
    assert _check_workdir(str(tmp_path), config, resume=True, write=True) is None
    assert _check_workdir(str(tmp_path), config.replace(epochs=5), resume=True, write=True) == 2
    with pytest.raises(ValueError, match="noise_exclude: saved \\[\\], now \\['bn'\\]"):
        _check_workdir(str(tmp_path), config.replace(noise_exclude=["bn"]), resume=True, write=True)


def test_build_optimizer_excludes_the_configured_names():
    import keras

    from zoo.training import build_optimizer

    config = TrainConfig(model="m", optimizer="sgd", noise_eta=0.01, noise_exclude=["bn/", "predictions"])
    optimizer = build_optimizer(config)
    variables = []
    for scope in ("hidden", "bn", "predictions"):
        with keras.name_scope(scope):
            variables.append(keras.Variable(0.0, name="kernel" if scope != "bn" else "gamma"))
    assert [optimizer.uses_gradient_noise(v) for v in variables] == [True, False, False]
    assert optimizer.get_config()["noise_exclude"]["var_names"] == ["bn/", "predictions"]
    assert build_optimizer(config.replace(noise_exclude=[])).get_config()["noise_exclude"] is None


def test_one_schedule_per_run_annealed_or_constant():
    from zoo.training import build_optimizer

    both = TrainConfig(model="m", noise_eta=0.01, noise_std=0.001)
    message = (
        r"noise_eta=0.01 \(the annealed schedule\) and noise_std=0.001 \(a constant std\) are both set; choose "
        r"one: noise_eta=0 for the constant std, or noise_std=null \(None\) for the annealed schedule\."
    )
    with pytest.raises(ValueError, match=message):
        both.validate()
    with pytest.raises(ValueError, match=message):  # the optimizer is built from validated configs only
        build_optimizer(both)
    assert build_optimizer(both.replace(noise_eta=0.0)).noise_std == 0.001
    assert build_optimizer(both.replace(noise_std=None)).eta == 0.01


def _memn2n_recorded_before_the_tying_options(config: TrainConfig) -> dict:
    """`config` as written before MemN2N had weight_tying / hop_projection (and before time_noise_blanks)."""
    recorded = json.loads(config.to_json())
    for key in ("weight_tying", "hop_projection"):
        del recorded["model_kwargs"][key]
    recorded["data_kwargs"].pop("time_noise_blanks", None)
    return recorded


def test_a_run_recorded_before_a_model_option_existed_is_reused_when_the_option_is_at_its_default(tmp_path):
    from zoo.memn2n import ENTRY

    planned = ENTRY.config("joint_cpu")
    assert planned.model_kwargs["weight_tying"] == "adjacent"  # the option's default, as old runs had it
    run = _run_with_results(tmp_path, planned, _memn2n_recorded_before_the_tying_options(planned))
    execution.finished_results([run])  # no error
    # The same recorded run against a plan that sets the new option to another value: refused.
    layerwise = planned.replace(model_kwargs={"weight_tying": "layerwise"})
    run = _run_with_results(tmp_path / "b", layerwise, _memn2n_recorded_before_the_tying_options(planned))
    with pytest.raises(ValueError, match=r"fields model_kwargs differ"):
        execution.finished_results([run])
    # A data option at a value that is not its default (the exact table's inclusive draw): refused too.
    exact = ENTRY.config("per_task_exact")
    recorded = _memn2n_recorded_before_the_tying_options(exact)
    run = _run_with_results(tmp_path / "c", exact, recorded)
    with pytest.raises(ValueError, match=r"fields data_kwargs differ"):
        execution.finished_results([run])


def test_resume_accepts_a_memn2n_config_json_written_before_the_tying_options(tmp_path):
    from zoo.memn2n import ENTRY
    from zoo.training import _check_workdir

    config = ENTRY.config("smoke")
    with open(tmp_path / "config.json", "w") as f:
        json.dump(_memn2n_recorded_before_the_tying_options(config), f)
    assert _check_workdir(str(tmp_path), config, resume=True, write=True) is None


def test_options_of_the_model_class_behind_a_kwargs_builder_count_as_their_defaults(tmp_path):
    """neural_gpu's build_model(**kwargs) passes its options to the model class: an option at the class's default
    (mask_padding=False) missing from an old record is filled in; at another value it is a difference."""
    from zoo.neural_gpu import ENTRY

    base = ENTRY.config("smoke")
    recorded = json.loads(base.to_json())
    run = _run_with_results(tmp_path, base.replace(model_kwargs={"mask_padding": False}), recorded)
    execution.finished_results([run])  # no error
    run = _run_with_results(tmp_path / "b", base.replace(model_kwargs={"mask_padding": True}), recorded)
    with pytest.raises(ValueError, match=r"fields model_kwargs differ"):
        execution.finished_results([run])


def test_differing_fields_names_what_differs_after_defaults():
    from zoo.registry import differing_fields

    planned = TrainConfig(model="m", noise_eta=0.3, epochs=5)
    planned_dict = json.loads(planned.to_json())
    assert differing_fields(_old_recorded(planned), planned_dict) == []
    changed = {**_old_recorded(planned), "noise_eta": 0.0, "epochs": 4}
    assert differing_fields(changed, planned_dict) == ["epochs", "noise_eta"]
    # No recorded config: every field the plan sets differs.
    assert differing_fields(None, planned_dict) == sorted(k for k, v in planned_dict.items() if v is not None)
