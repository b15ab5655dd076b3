"""The Neural Programmer: hard selection runs the argmax program, deterministically; the losses; saving."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

import keras_gradnoise
from zoo.neural_programmer import tables
from zoo.neural_programmer.model import (
    OPERATIONS,
    TEXT_OPERATIONS,
    LookupAnswerLoss,
    NeuralProgrammer,
    ScalarAnswerLoss,
)


def _batch(num_examples=64, seed=0, **sizes):
    sizes = {"num_rows": 6, "num_columns": 3, "num_text_columns": 2, **sizes}
    return tables.encode(tables.generate_examples(num_examples, seed=seed, **sizes))


def _diverse_model(seed: int, text_match: bool = True) -> NeuralProgrammer:
    """A random model whose selectors are sharp enough that different questions pick different programs."""
    model = NeuralProgrammer(len(tables.VOCABULARY), 16, text_match=text_match, seed=seed)
    x, _ = _batch(2)
    model(x)
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(0.0, 1.5, size=weight.shape).astype("float32"))
    return model


def run_program(operations, columns, pivots, table, text_match):
    """Executes one example's program with plain numpy, following the paper's operation definitions."""
    num_rows = table.shape[0]
    rows_1 = rows_2 = np.ones(num_rows)
    scalar_1 = scalar_2 = scalar_3 = 0.0
    lookup = np.zeros_like(table)
    for operation, column in zip(operations, columns, strict=True):
        rows = np.zeros(num_rows)
        scalar = 0.0
        lookup = np.zeros_like(table)
        if operation == "sum":
            scalar = float(np.sum(rows_1 * table[:, column].astype(np.float64)))
        elif operation == "count":
            scalar = float(rows_1.sum())
        elif operation == "difference":
            scalar = scalar_3 - scalar_1
        elif operation == "greater":
            rows = (table[:, column] > pivots[0]).astype(float)
        elif operation == "lesser":
            rows = (table[:, column] < pivots[1]).astype(float)
        elif operation == "and":
            rows = np.minimum(rows_1, rows_2)
        elif operation == "or":
            rows = np.maximum(rows_1, rows_2)
        elif operation == "reset":
            rows = np.ones(num_rows)
        elif operation == "text_match":
            rows = text_match[:, column].astype(float)
        elif operation == "print":
            lookup[:, column] = rows_1
        rows_1, rows_2 = rows, rows_1
        scalar_1, scalar_2, scalar_3 = scalar, scalar_1, scalar_2
    return scalar_1, lookup


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hard_selection_executes_the_argmax_program(seed):
    x, _ = _batch(64, seed=seed)
    model = _diverse_model(seed)
    outputs = {
        k: keras.ops.convert_to_numpy(v) for k, v in model(x, training=False, return_program=True).items()
    }
    # Test-time selections are one-hot.
    for key in ("operations", "columns"):
        assert set(np.unique(outputs[key])) <= {0.0, 1.0}
        np.testing.assert_array_equal(outputs[key].sum(-1), 1.0)
    used = set()
    for index in range(64):
        operations = [TEXT_OPERATIONS[i] for i in outputs["operations"][index].argmax(-1)]
        columns = outputs["columns"][index].argmax(-1)
        used.update(operations)
        pivots = outputs["pivots"][index]
        numbers = x["question_numbers"][index][x["number_mask"][index] > 0]
        assert set(pivots.tolist()) <= set(numbers.tolist()) | ({0.0} if len(numbers) == 0 else set())
        scalar, lookup = run_program(operations, columns, pivots, x["table"][index], x["text_match"][index])
        assert outputs["scalar"][index, 0] == pytest.approx(scalar, rel=1e-5, abs=1e-3)
        np.testing.assert_array_equal(outputs["lookup"][index], lookup)
    assert len(used) >= 4, used


def test_hard_selection_is_deterministic():
    x, _ = _batch(32, seed=4)
    model = NeuralProgrammer(len(tables.VOCABULARY), 16, text_match=True, dropout=0.5, seed=3)
    first = model(x, training=False, return_program=True)
    second = model(x, training=False, return_program=True)
    for key in first:
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(first[key]), keras.ops.convert_to_numpy(second[key])
        )


def test_soft_selection_is_a_distribution_and_rows_stay_in_unit_interval():
    x, _ = _batch(32, seed=5)
    model = _diverse_model(5)
    outputs = {
        k: keras.ops.convert_to_numpy(v) for k, v in model(x, training=True, return_program=True).items()
    }
    np.testing.assert_allclose(outputs["operations"].sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(outputs["columns"].sum(-1), 1.0, rtol=1e-5)
    assert ((outputs["operations"] > 0) & (outputs["operations"] < 1)).any()
    assert outputs["lookup"].min() >= 0.0 and outputs["lookup"].max() <= 1.0 + 1e-6
    assert np.isfinite(outputs["scalar"]).all()


def test_masked_columns_are_never_selected():
    x, _ = _batch(32, seed=6)
    x["column_mask"][:, 1:] = 0.0
    outputs = _diverse_model(6)(x, training=False, return_program=True)
    columns = keras.ops.convert_to_numpy(outputs["columns"])
    assert np.all(columns[..., 1:] == 0.0)


def test_losses_match_hand_computation():
    y_true = np.array([[3.0, 1.0], [100.0, 1.0], [7.0, 0.0]], np.float32)
    y_pred = np.array([[5.0], [60.0], [-1000.0]], np.float32)
    loss = keras.ops.convert_to_numpy(ScalarAnswerLoss(delta=10.0).call(y_true, y_pred))
    # |a| <= delta: a^2 / 2; above: delta * (|a| - delta / 2); lookup questions contribute nothing.
    np.testing.assert_allclose(loss, [2.0, 10.0 * (40.0 - 5.0), 0.0], rtol=1e-6)

    target = np.array([[[1.0, 0.0], [0.0, 0.0]], [[-1.0, -1.0], [-1.0, -1.0]]], np.float32)
    prediction = np.array([[[0.9, 0.2], [0.1, 0.0]], [[0.5, 0.5], [0.5, 0.5]]], np.float32)
    eps = 1e-6
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.9) + np.log(1 - eps)) / 4
    loss = keras.ops.convert_to_numpy(LookupAnswerLoss(epsilon=eps).call(target, prediction))
    np.testing.assert_allclose(loss, [expected, 0.0], rtol=1e-5)


def test_constructor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="embedding_dim"):
        NeuralProgrammer(10, embedding_dim=0)
    with pytest.raises(ValueError, match="dropout"):
        NeuralProgrammer(10, dropout=1.0)
    with pytest.raises(ValueError, match="huber_delta"):
        NeuralProgrammer(10, huber_delta=0.0)
    assert NeuralProgrammer(10).operations == OPERATIONS


def test_keras_round_trip_keeps_outputs_and_optimizer_state(tmp_path):
    x, y = _batch(32, seed=7, num_text_columns=0)
    model = NeuralProgrammer(len(tables.VOCABULARY), 16, dropout=0.1, seed=1, comparison_temperature=2.0)
    model.compile(
        optimizer=keras_gradnoise.NoisyAdam(learning_rate=0.01, eta=1.0, seed=3, global_clipnorm=1.0),
        loss={"scalar": ScalarAnswerLoss(10.0), "lookup": LookupAnswerLoss()},
        loss_weights={"scalar": 1.0, "lookup": 50.0},
    )
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    path = os.path.join(tmp_path, "np.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config() == model.get_config()
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 2
    for key, value in model(x).items():
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(value), keras.ops.convert_to_numpy(loaded(x)[key])
        )
