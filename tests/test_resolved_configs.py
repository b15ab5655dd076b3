"""The zoo resolves every named config and every table run exactly as the committed snapshot says."""

from __future__ import annotations

import json
import os

from tests.resolved_configs import resolve_all

SNAPSHOT = os.path.join(os.path.dirname(__file__), "fixtures", "resolved_configs.json")


def test_every_resolved_config_matches_the_snapshot():
    with open(SNAPSHOT) as file:
        expected = json.load(file)
    actual = resolve_all()
    missing = sorted(set(expected) - set(actual))
    added = sorted(set(actual) - set(expected))
    changed = sorted(key for key in set(expected) & set(actual) if expected[key] != actual[key])
    assert not (missing or added or changed), (
        f"missing {missing[:5]}, added {added[:5]}, changed {changed[:5]} (of {len(expected)}); if intended, "
        "regenerate with `python -m tests.resolved_configs tests/fixtures/resolved_configs.json`"
    )


def test_the_snapshot_covers_every_model_and_table():
    with open(SNAPSHOT) as file:
        keys = list(json.load(file))
    models = {key.split("/")[0] for key in keys}
    assert {"deep_mlp", "memn2n", "neural_gpu", "neural_programmer", "nram", "resnet34", "resnet50"} <= models
    # Table runs, not only the named configs: keys with a row and a restart.
    assert sum(key.count("/") == 3 for key in keys) > 400
