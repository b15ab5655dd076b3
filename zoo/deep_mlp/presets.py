"""The deep_mlp presets (data only) and their fixture check; `python -m zoo.pretrained export` makes them.

python -m zoo.pretrained export --model=deep_mlp --preset=default --workdir=runs/deep_mlp_pretrained
"""

from __future__ import annotations

import os
from typing import Any

from zoo.config import TrainConfig
from zoo.pretrained import Preset


def fixture_accuracy(model: Any, config: TrainConfig) -> float:
    """Accuracy of `model` on the 100 test images of the shipped fixture mnist_tiny.npz."""
    from zoo.datasets import read_mnist_npz
    from zoo.deep_mlp.data import FIXTURE_PATH, accuracy

    arrays = read_mnist_npz(os.path.normpath(FIXTURE_PATH))
    return accuracy(model, arrays["x_test"], arrays["y_test"])


PRESETS = (
    Preset(
        name="default",
        model="deep_mlp",
        command=(
            "python train.py --model=deep_mlp --config=default --epochs=20 --data_dir=../shared/data/mnist "
            "--workdir=runs/deep_mlp_pretrained --verbose=2"
        ),
        metric="fixture_test_accuracy",
        measure=fixture_accuracy,
        tolerance=0.01,  # 1 of the 100 images may flip on another CPU or BLAS
    ),
)
