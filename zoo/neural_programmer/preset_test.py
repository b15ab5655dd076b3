"""The shipped pretrained Neural Programmer: metadata complete, and its accuracy re-measured on fresh examples."""

from __future__ import annotations

import json
import os

import keras
import pytest

import zoo
from zoo.datasets import sha256_file
from zoo.neural_programmer import ENTRY, preset
from zoo.neural_programmer.task import evaluate_answers
from zoo.pretrained import saved_models_dir

PRESET = "single_column"
FOLDER = os.path.join(saved_models_dir(), preset.NAME)
METADATA = os.path.join(FOLDER, f"{PRESET}.json")


def test_the_preset_is_shipped():
    assert os.path.exists(METADATA), f"{METADATA} is missing (export it with zoo.neural_programmer.preset)"


@pytest.fixture(scope="module")
def metadata():
    with open(METADATA) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def model():
    return zoo.load_pretrained(preset.NAME, PRESET)


def test_preset_is_registered_and_its_metadata_complete(metadata):
    assert ENTRY.presets[PRESET] == f"{preset.NAME}/{PRESET}.keras"
    for key in (
        "command",
        "config",
        "data",
        "metrics",
        "fresh_test_accuracy",
        "keras_version",
        "date",
        "machine",
    ):
        assert metadata[key] not in (None, ""), key
    assert metadata["sha256"] == sha256_file(os.path.join(FOLDER, metadata["file"]))
    assert os.path.getsize(os.path.join(FOLDER, metadata["file"])) < 5 * 2**20
    assert metadata["keras_version"] == keras.__version__


def test_fresh_examples_are_the_recorded_ones(metadata):
    # Pins the generator: if it changed, the recorded accuracy no longer describes these examples.
    x, y, _ = preset.fresh_examples(metadata["config"]["data_kwargs"])
    assert preset.arrays_sha256(x, y) == metadata["data"]["fresh_test_sha256"]


def test_preset_remeasures_to_the_recorded_accuracy(metadata, model):
    x, y, templates = preset.fresh_examples(metadata["config"]["data_kwargs"])
    measured = evaluate_answers(model, x, y, templates, prefix="")["accuracy"]
    # Hard selection is deterministic; allow 3 in 1000 answers to flip on float rounding across machines.
    assert measured == pytest.approx(metadata["fresh_test_accuracy"], abs=0.003)


def test_preset_generalizes_to_other_fresh_examples(metadata, model):
    x, y, templates = preset.fresh_examples(metadata["config"]["data_kwargs"], seed=preset.FRESH_SEED + 1)
    measured = evaluate_answers(model, x, y, templates, prefix="")["accuracy"]
    # 1000 examples: the binomial standard error is at most 0.016; 0.05 is over three of them.
    assert measured == pytest.approx(metadata["fresh_test_accuracy"], abs=0.05)
