"""Every shipped NRAM preset, loaded through its sha256 check and re-measured on examples it never saw.

The task's examples are generated (zoo/nram/tasks.py, checked by hand in tasks_test.py), so the "shipped sample" is
the generator: a fresh seed gives examples neither training nor the export's re-measurement saw. The fresh
accuracy must equal the recorded one within a binomial tolerance of both sample sizes, and an untrained model of
the same config must fail that check.
"""

from __future__ import annotations

import json
import math
import os

import keras
import pytest

import zoo
from zoo import pretrained
from zoo.nram.preset import RECHECK_SEED, remeasure

_PRESETS = pretrained.presets("nram")
_FRESH_SEED = 271_828  # differs from the training streams, the run's test set and the export's re-measurement


def test_the_easy_task_preset_is_shipped():
    assert "access" in _PRESETS, f"saved_models/nram has presets {_PRESETS}; expected 'access'"


def _tolerance(recorded: float, fresh_examples: int, recorded_examples: int) -> float:
    """Both measurements are binomial samples of the same accuracy: 3 standard deviations of each, plus 0.005."""
    spread = recorded * (1 - recorded)
    return 0.005 + 3 * math.sqrt(spread / fresh_examples) + 3 * math.sqrt(spread / recorded_examples)


@pytest.mark.parametrize("preset", _PRESETS)
def test_preset_reaches_its_recorded_accuracy_on_fresh_examples(preset):
    metadata = pretrained.read_metadata("nram", preset)
    model = pretrained.load_pretrained("nram", preset, compile=False)
    assert metadata["remeasured"]["seed"] == RECHECK_SEED != _FRESH_SEED
    fresh = remeasure(model, metadata["config"], examples=500, seed=_FRESH_SEED)
    recorded = metadata["remeasured"]["example_accuracy"]
    tolerance = _tolerance(recorded, 500, metadata["remeasured"]["examples"])
    assert abs(fresh["example_accuracy"] - recorded) <= tolerance, (fresh, recorded)
    if metadata["metrics"].get("success") == 1.0:
        assert fresh["example_accuracy"] == 1.0, fresh
    assert os.path.getsize(os.path.join(pretrained.saved_models_dir(), "nram", metadata["file"])) < 5_000_000
    json.dumps(metadata)  # the metadata stays plain JSON

    # The control: an untrained model of the preset's config, on the same fresh examples, fails the check.
    keras.utils.set_random_seed(0)
    untrained = zoo.get("nram").build_model(**metadata["config"]["model_kwargs"])
    control = remeasure(untrained, metadata["config"], examples=500, seed=_FRESH_SEED)
    assert abs(control["example_accuracy"] - recorded) > tolerance, control
