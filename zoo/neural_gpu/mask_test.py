"""The padding mask (`mask_padding=True`, as the 2015 reference code): an example's outputs do not depend on how
much padding follows it. Checked against the same example run unpadded, a second code path."""

import keras
import numpy as np
import pytest

from zoo.neural_gpu import tasks
from zoo.neural_gpu.model import NeuralGPU


def _model(mask_padding: bool) -> NeuralGPU:
    keras.utils.set_random_seed(3)
    return NeuralGPU(vocab_size=tasks.VOCAB_SIZE, nmaps=6, height=2, num_layers=2, mask_padding=mask_padding)


def _padded_and_alone(mask_padding: bool) -> tuple[np.ndarray, np.ndarray]:
    inputs, _ = tasks.make_padded_examples("badd", 3, 7, 4, np.random.default_rng(0))  # 7 symbols, no padding
    padded = np.concatenate([inputs, np.zeros((4, 9), inputs.dtype)], axis=1)  # the same, padded to 16
    model = _model(mask_padding)
    return np.asarray(model(padded))[:, :7], np.asarray(model(inputs))


def test_masked_outputs_do_not_depend_on_the_padding():
    padded, alone = _padded_and_alone(mask_padding=True)
    np.testing.assert_allclose(padded, alone, rtol=1e-5, atol=1e-5)


def test_without_the_mask_the_padding_changes_the_outputs():
    # The unmasked model runs the tape over the padding for 16 steps instead of 7: a different result.
    padded, alone = _padded_and_alone(mask_padding=False)
    assert np.max(np.abs(padded - alone)) > 1e-3


def test_mask_padding_is_in_the_config_and_checked():
    assert NeuralGPU.from_config(_model(True).get_config()).mask_padding is True
    with pytest.raises(ValueError, match="mask_padding"):
        NeuralGPU(mask_padding=1)


def test_each_example_is_read_at_its_own_length_in_a_mixed_batch():
    # 2-bit and 3-bit additions (5 and 7 symbols) in one batch padded to 10: each row equals that example alone.
    rng = np.random.default_rng(1)
    short, _ = tasks.make_padded_examples("badd", 2, 5, 1, rng)
    long, _ = tasks.make_padded_examples("badd", 3, 7, 1, rng)
    batch = np.zeros((2, 10), short.dtype)
    batch[0, :5], batch[1, :7] = short[0], long[0]
    model = _model(mask_padding=True)
    together = np.asarray(model(batch))
    np.testing.assert_allclose(together[0, :5], np.asarray(model(short))[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(together[1, :7], np.asarray(model(long))[0], rtol=1e-5, atol=1e-5)
