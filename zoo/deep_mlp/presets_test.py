"""The shipped deep_mlp preset beyond the checks of every preset (zoo/pretrained_test.py): its data checksum, and
its accuracy on the full MNIST test set the package ships."""

from __future__ import annotations

import numpy as np
import pytest

from zoo import pretrained
from zoo.datasets import SHIPPED_MNIST

# Float round-off on another CPU or BLAS may flip a borderline image: 20 of the 10,000 test images may differ.
FULL_TEST_TOLERANCE = 0.002


def test_preset_records_the_official_mnist_and_remeasures_on_the_full_test_set():
    metadata = pretrained.read_metadata("deep_mlp", "default")
    assert metadata["data"]["content_md5"]["x_train"] == "6bbc9ace898e44ae57da46a324031adb"
    assert metadata["metrics"]["test_accuracy"] > 0.95
    model = pretrained.load_pretrained("deep_mlp")
    with np.load(SHIPPED_MNIST) as f:  # the full MNIST the package ships (sha256-checked by load_mnist)
        predictions = np.argmax(model.predict(f["x_test"], batch_size=500, verbose=0), axis=1)
        accuracy = float(np.mean(predictions == f["y_test"]))
    assert accuracy == pytest.approx(metadata["metrics"]["test_accuracy"], abs=FULL_TEST_TOLERANCE)
