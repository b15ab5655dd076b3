"""The shipped deep_mlp preset: its file matches its metadata and re-measures to the recorded accuracy."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

import zoo
from zoo.datasets import SHIPPED_MNIST
from zoo.pretrained import load_pretrained

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
PRESET_DIR = os.path.join(REPO, "saved_models", "deep_mlp")
FIXTURE = os.path.join(REPO, "tests", "fixtures", "mnist_tiny.npz")
# Tolerances of the re-measurement: float round-off on another CPU or BLAS may flip a borderline image, so we
# allow 1 of the 100 fixture images and 20 of the 10,000 test images to differ from the recorded run.
FIXTURE_TOLERANCE = 0.01
FULL_TEST_TOLERANCE = 0.002


def metadata() -> dict:
    with open(os.path.join(PRESET_DIR, "default.json")) as f:
        return json.load(f)


def accuracy_by_hand(model, images: np.ndarray, labels: np.ndarray) -> float:
    predictions = np.argmax(model.predict(images, batch_size=500, verbose=0), axis=1)
    return float(np.mean(predictions == labels))


def test_preset_is_registered_and_its_metadata_complete():
    entry = zoo.get("deep_mlp")
    assert entry.presets == {"default": "deep_mlp/default.keras"}
    meta = metadata()
    for key in (
        "command",
        "sha256",
        "metrics",
        "fixture_test_accuracy",
        "keras_version",
        "date",
        "machine",
        "data",
    ):
        assert key in meta, key
    assert meta["command"].startswith("python train.py --model=deep_mlp")
    assert meta["data"]["content_md5"]["x_train"] == "6bbc9ace898e44ae57da46a324031adb"
    path = os.path.join(PRESET_DIR, "default.keras")
    assert os.path.getsize(path) < 2_000_000
    with open(path, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == meta["sha256"]


def test_preset_remeasures_to_the_recorded_accuracy():
    meta = metadata()
    model = load_pretrained("deep_mlp")
    with np.load(FIXTURE) as f:
        fixture_accuracy = accuracy_by_hand(model, f["x_test"], f["y_test"])
    assert fixture_accuracy == pytest.approx(meta["fixture_test_accuracy"], abs=FIXTURE_TOLERANCE)
    assert meta["metrics"]["test_accuracy"] > 0.95
    with np.load(SHIPPED_MNIST) as f:  # the full MNIST the package ships (sha256-checked by load_mnist)
        full_accuracy = accuracy_by_hand(model, f["x_test"], f["y_test"])
    assert full_accuracy == pytest.approx(meta["metrics"]["test_accuracy"], abs=FULL_TEST_TOLERANCE)
