"""benchmarks/resnet_displacement.py: per-group displacement between two runs, against hand-computed values."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from tests import helpers

_SPEC = importlib.util.spec_from_file_location(
    "resnet_displacement", os.path.join(helpers.REPO, "benchmarks", "resnet_displacement.py")
)
displacement_module = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(displacement_module)


def test_groups_and_rms_by_hand():
    plain = {
        "conv1_conv/kernel": np.ones(4),
        "conv1_bn/gamma": np.ones(2),
        "conv1_bn/beta": np.zeros(2),
        "logits/kernel": np.full(3, 2.0),
        "logits/bias": np.zeros(1),
    }
    noisy = {
        "conv1_conv/kernel": np.array([2.0, 0.0, 2.0, 0.0]),  # differences +-1: RMS 1
        "conv1_bn/gamma": np.array([4.0, 5.0]),  # differences 3, 4: RMS sqrt(12.5)
        "conv1_bn/beta": np.zeros(2),
        "logits/kernel": np.full(3, 2.0),
        "logits/bias": np.array([-0.5]),
    }
    table = displacement_module.displacement(plain, noisy)
    assert table["conv kernels"] == {"rms_difference": 1.0, "rms_plain": 1.0, "parameters": 4}
    assert table["BatchNorm gamma"]["rms_difference"] == pytest.approx(12.5**0.5)
    assert table["BatchNorm beta"]["rms_difference"] == 0.0
    assert table["classifier kernel"] == {"rms_difference": 0.0, "rms_plain": 2.0, "parameters": 3}
    assert table["classifier bias"]["rms_difference"] == 0.5
    with pytest.raises(ValueError, match="different variables"):
        displacement_module.displacement(plain, {"conv1_conv/kernel": np.ones(4)})
