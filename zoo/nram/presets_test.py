"""Every shipped NRAM preset beyond the checks of every preset (zoo/pretrained_test.py): on examples neither its
training, its test set nor its recorded re-measurement saw, it reaches the recorded accuracy.

The task's examples are generated (zoo/nram/tasks.py, checked by hand in tasks_test.py), so a fresh seed gives
new examples; the fresh accuracy must equal the recorded one within a binomial tolerance of both sample sizes.
"""

from __future__ import annotations

import math

import pytest

from zoo import pretrained
from zoo.nram.presets import RECHECK_SEED, remeasure

_FRESH_SEED = 271_828  # differs from the training streams, the run's test set and the recorded re-measurement


def _tolerance(recorded: float, fresh_examples: int, recorded_examples: int) -> float:
    """Both measurements are binomial samples of the same accuracy: 3 standard deviations of each, plus 0.005."""
    spread = recorded * (1 - recorded)
    return 0.005 + 3 * math.sqrt(spread / fresh_examples) + 3 * math.sqrt(spread / recorded_examples)


@pytest.mark.parametrize("preset", ["access", "list_k"])
def test_preset_reaches_its_recorded_accuracy_on_fresh_examples(preset):
    metadata = pretrained.read_metadata("nram", preset)
    model = pretrained.load_pretrained("nram", preset, compile=False)
    assert metadata["remeasured"]["seed"] == RECHECK_SEED != _FRESH_SEED
    fresh = remeasure(model, pretrained.run_config(metadata), examples=500, seed=_FRESH_SEED)
    recorded = metadata["remeasured"]["example_accuracy"]
    tolerance = _tolerance(recorded, 500, metadata["remeasured"]["examples"])
    assert abs(fresh["example_accuracy"] - recorded) <= tolerance, (fresh, recorded)
    if metadata["metrics"].get("success") == 1.0:
        assert fresh["example_accuracy"] == 1.0, fresh
