"""zoo.rows: the row helpers and the refusal of a run that contradicts its row, on a hand-made table."""

from __future__ import annotations

import types

import pytest

from keras_gradnoise.optimizers import DEFAULT_GAMMA
from zoo import rows
from zoo.config import TrainConfig
from zoo.registry import ReproductionSpec, Setting

SPEC = ReproductionSpec(
    title="a table",
    config="base",
    settings=(),
    columns=(),
    summarize=lambda results: {},
    axes=("model_kwargs.init",),
)


def test_default_gamma_is_the_libraries():
    assert rows.DEFAULT_GAMMA == DEFAULT_GAMMA == 0.55


def test_helpers_state_every_noise_and_clipping_axis():
    for noise in (rows.no_noise(), rows.annealed_noise(0.3), rows.constant_noise(0.001)):
        assert set(noise) == set(rows.NOISE_AXES)
    assert set(rows.clipping()) == set(rows.CLIPPING_AXES)
    assert rows.annealed_noise(1.0, exclude=("gamma", "beta"))["noise_exclude"] == ["gamma", "beta"]
    with pytest.raises(ValueError, match="eta > 0"):
        rows.annealed_noise(0.0)
    with pytest.raises(ValueError, match="not both"):
        rows.clipping(global_norm=1.0, norm=1.0)


def test_missing_axes_and_check_run():
    complete = Setting("a", {**rows.no_noise(), **rows.clipping(), "model_kwargs": {"init": "zero"}})
    partial = Setting("b", {**rows.no_noise(), "model_kwargs": {"init": "zero"}})
    assert rows.missing_axes(SPEC, complete) == []
    assert rows.missing_axes(SPEC, partial) == ["clipnorm", "global_clipnorm"]
    config = TrainConfig(model="m", model_kwargs={"init": "zero"})
    rows.check_run(SPEC, complete, 0, config)
    with pytest.raises(ValueError, match=r"Row a declares noise_eta=0\.0; the resolved run has 0\.3"):
        rows.check_run(SPEC, complete, 0, config.replace(noise_eta=0.3))
    with pytest.raises(ValueError, match="does not state its clipnorm"):
        rows.check_run(SPEC, partial, 0, config)


def test_requirements_and_flags():
    assert (
        rows.AtLeast(1).accepts(20) and not rows.AtLeast(1).accepts(0) and not rows.AtLeast(1).accepts(True)
    )
    assert rows.Off().accepts(None) and rows.Off().accepts(0.0) and not rows.Off().accepts(0.5)
    flag = Setting("f", {"model_kwargs": {"text_match": True}})
    config = types.SimpleNamespace(model_kwargs={"text_match": 1})
    spec = types.SimpleNamespace(all_axes=("model_kwargs.text_match",), title="t")
    with pytest.raises(ValueError, match="text_match=True"):
        rows.check_run(spec, flag, 0, config)  # True == 1 in Python, but a flag row refuses a count
