"""The modules on one-hot and mixed inputs against integer arithmetic mod M, written out in plain Python."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from keras import ops

from zoo.nram import modules

M = 7


def _one_hot(value, size=M):
    vector = np.zeros(size, dtype=np.float32)
    vector[value] = 1.0
    return vector


# The expected results spelled out independently of modules.INTEGER_OPS.
_EXPECTED = {
    "ZERO": lambda a, b: 0,
    "ONE": lambda a, b: 1,
    "TWO": lambda a, b: 2,
    "INC": lambda a, b: a + 1 if a + 1 < M else 0,
    "DEC": lambda a, b: a - 1 if a > 0 else M - 1,
    "ADD": lambda a, b: a + b - M if a + b >= M else a + b,
    "SUB": lambda a, b: a - b + M if a < b else a - b,
    "LT": lambda a, b: 1 if a < b else 0,
    "LE": lambda a, b: 1 if a <= b else 0,
    "EQ": lambda a, b: 1 if a == b else 0,
    "MIN": lambda a, b: a if a < b else b,
    "MAX": lambda a, b: b if a < b else a,
}


def test_module_list_is_the_papers():
    assert len(modules.MODULE_NAMES) == 14
    assert set(modules.MODULE_NAMES) == set(_EXPECTED) | {"READ", "WRITE"}
    assert modules.MODULE_NAMES[-1] == "WRITE"


@pytest.mark.parametrize("name", sorted(_EXPECTED))
def test_arithmetic_modules_on_one_hot_inputs(name):
    table = modules.operation_table(name, M)
    pairs = list(itertools.product(range(M), range(M)))
    first = np.stack([_one_hot(a) for a, _ in pairs])
    second = np.stack([_one_hot(b) for _, b in pairs])
    out = ops.convert_to_numpy(modules.apply_table(table, first, second))
    expected = np.stack([_one_hot(_EXPECTED[name](a, b)) for a, b in pairs])
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("name", ["ADD", "LT", "MAX", "SUB"])
def test_arithmetic_modules_on_mixed_distributions(name):
    rng = np.random.default_rng(0)
    first = rng.dirichlet(np.ones(M), size=3).astype(np.float32)
    second = rng.dirichlet(np.ones(M), size=3).astype(np.float32)
    out = ops.convert_to_numpy(modules.apply_table(modules.operation_table(name, M), first, second))
    for row in range(3):
        expected = np.zeros(M)
        for a in range(M):
            for b in range(M):
                expected[_EXPECTED[name](a, b)] += first[row, a] * second[row, b]
        np.testing.assert_allclose(out[row], expected, atol=1e-6)
        assert abs(out[row].sum() - 1) < 1e-5


def test_read_and_write_on_one_hot_pointers():
    rng = np.random.default_rng(1)
    cells = rng.integers(0, M, size=M)
    memory = np.stack([_one_hot(v) for v in cells])[None]
    for address in range(M):
        value = ops.convert_to_numpy(modules.read(memory, _one_hot(address)[None]))[0]
        assert value.argmax() == cells[address] and value.max() == 1.0
        written = ops.convert_to_numpy(modules.write(memory, _one_hot(address)[None], _one_hot(3)[None]))[0]
        expected = cells.copy()
        expected[address] = 3
        np.testing.assert_array_equal(written.argmax(-1), expected)
        np.testing.assert_allclose(written.sum(-1), 1.0)


def test_soft_write_mixes_old_and_new_by_pointer_probability():
    memory = np.stack([_one_hot(1)] * M)[None]
    pointer = np.full((1, M), 1.0 / M, dtype=np.float32)
    written = ops.convert_to_numpy(modules.write(memory, pointer, _one_hot(4)[None]))[0]
    np.testing.assert_allclose(written[:, 1], 1 - 1 / M, atol=1e-6)
    np.testing.assert_allclose(written[:, 4], 1 / M, atol=1e-6)


def test_bad_table_arguments():
    with pytest.raises(ValueError, match="memory_size must be >= 3"):
        modules.operation_table("ADD", 2)
    with pytest.raises(ValueError, match="No operation table for module 'READ'"):
        modules.operation_table("READ", 5)
