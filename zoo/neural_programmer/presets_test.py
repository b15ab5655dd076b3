"""The shipped Neural Programmer preset beyond the checks of every preset (zoo/pretrained_test.py): the fresh
examples of its fixture metric are the recorded ones, and it generalizes to other fresh examples."""

from __future__ import annotations

import hashlib

import pytest

from zoo import pretrained
from zoo.neural_programmer import presets
from zoo.neural_programmer.data import evaluate_answers


@pytest.fixture(scope="module")
def metadata() -> dict:
    return pretrained.read_metadata("neural_programmer", "single_column")


def test_fresh_examples_are_the_recorded_ones(metadata):
    # Pins the generator: if it changed, the recorded accuracy no longer describes these examples.
    x, y, _ = presets.fresh_examples(metadata["config"]["data_kwargs"])
    digest = hashlib.sha256()
    for arrays in (x, y):
        for key in sorted(arrays):
            digest.update(key.encode())
            digest.update(arrays[key].tobytes())
    assert digest.hexdigest() == metadata["data"]["fresh_test_sha256"]


def test_preset_generalizes_to_other_fresh_examples(metadata):
    model = pretrained.load_pretrained("neural_programmer", "single_column")
    data_kwargs = metadata["config"]["data_kwargs"]
    x, y, templates = presets.fresh_examples(data_kwargs, seed=presets.FRESH_SEED + 1)
    measured = evaluate_answers(model, x, y, templates, prefix="")["accuracy"]
    # 1000 examples: the binomial standard error is at most 0.016; 0.05 is over three of them.
    assert measured == pytest.approx(metadata["fresh_test_accuracy"], abs=0.05)
