"""Every shipped NRAM preset, loaded through its sha256 check and re-measured on examples it never saw."""

from __future__ import annotations

import json
import math
import os

import pytest

from zoo import pretrained
from zoo.nram.preset import RECHECK_SEED, remeasure

_PRESETS = pretrained.presets("nram")
_FRESH_SEED = 271_828  # differs from the training streams, the run's test set and the export's re-measurement


def test_the_easy_task_preset_is_shipped():
    assert "access" in _PRESETS, f"saved_models/nram has presets {_PRESETS}; expected 'access'"


@pytest.mark.parametrize("preset", _PRESETS)
def test_preset_reaches_its_recorded_accuracy_on_fresh_examples(preset):
    metadata = pretrained.read_metadata("nram", preset)
    model = pretrained.load_pretrained("nram", preset, compile=False)
    assert metadata["remeasured"]["seed"] == RECHECK_SEED != _FRESH_SEED
    fresh = remeasure(model, metadata["config"], examples=500, seed=_FRESH_SEED)
    recorded = metadata["remeasured"]["example_accuracy"]
    # Both measurements are binomial samples of the same accuracy: allow 3 standard deviations of each.
    spread = recorded * (1 - recorded)
    tolerance = (
        0.005 + 3 * math.sqrt(spread / 500) + 3 * math.sqrt(spread / metadata["remeasured"]["examples"])
    )
    assert fresh["example_accuracy"] >= recorded - tolerance, (fresh, recorded)
    if metadata["metrics"].get("success") == 1.0:
        assert fresh["example_accuracy"] == 1.0, fresh
    assert os.path.getsize(os.path.join(pretrained.saved_models_dir(), "nram", metadata["file"])) < 5_000_000
    json.dumps(metadata)  # the metadata stays plain JSON
