"""The resnet34 presets (data only) and their fixture check; `python -m zoo.pretrained export` makes them, into
saved_models/resnet34/<preset>.keras and .json.

    python -m zoo.pretrained export --model=resnet34 --preset=default --workdir=RUN_DIR
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo import resources
from zoo.config import TrainConfig
from zoo.pretrained import Preset, sample_tolerance

# 64 training and 32 test images of CIFAR-10, real pixels (tests/fixtures in a checkout)
FIXTURE_PATH = resources.fixture_path("cifar10_tiny.npz")
SAMPLE_IMAGES = 96


def fixture_accuracy(model: Any, config: TrainConfig) -> float:
    """Accuracy of a CIFAR-10 classifier on all 96 images of the CIFAR-10 fixture (training and test)."""
    with np.load(FIXTURE_PATH) as data:
        images = np.concatenate([data["x_train"], data["x_test"]]).astype("float32")
        labels = np.concatenate([data["y_train"], data["y_test"]]).astype(int).ravel()
    predicted = np.argmax(model.predict(images, batch_size=32, verbose=0), axis=1)
    return float(np.mean(predicted == labels))


PRESETS = (
    Preset(
        name="default",
        model="resnet34",
        command=(
            "python reproduce.py --model=resnet34 --restarts=2 --jobs=2 --epochs=6 "
            "--override=lr_decay_every_epochs=3 --data_dir=../shared/data/cifar10 --out=docs/results/resnet "
            "--runs_dir=/tmp/runs/resnet34 (its run baseline_no_noise/restart_000: the default config with "
            "epochs=6, lr_decay_every_epochs=3, seed 0, no noise)"
        ),
        metric="shipped_sample.value",
        measure=fixture_accuracy,
        tolerance=sample_tolerance(SAMPLE_IMAGES),
    ),
)
