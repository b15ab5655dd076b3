"""The 14 NRAM modules, acting on probability distributions over the integers {0, ..., M-1}.

Kurach, Andrychowicz & Sutskever 2015, "Neural Random-Access Machines" (arXiv 1511.06392), sections 3 and 4.3
(the module list, in the paper's order; the paper's optional repetition of the whole list is not implemented). Every
register and memory cell holds a distribution over {0..M-1}. A two-argument module m turns argument
distributions A, B into out[c] = sum_{a,b} A[a] B[b] [m(a, b) = c]; here each such module is a fixed M x M x M
one-hot table contracted with einsum, so its output is exact and differentiable. READ and WRITE act on the
memory tape, a (batch, M cells, M values) tensor whose rows are distributions.

Everything is written with keras.ops so it runs on the TensorFlow and the JAX backends.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from keras import ops

# The paper's module list, in the order the controller wires them: a module may take as argument any register
# or the output of a module earlier in this list. WRITE comes last so every value it can store is available.
MODULE_NAMES: tuple[str, ...] = (
    "READ",
    "ZERO",
    "ONE",
    "TWO",
    "INC",
    "ADD",
    "SUB",
    "DEC",
    "LT",
    "LE",
    "EQ",
    "MIN",
    "MAX",
    "WRITE",
)

# Number of arguments each module reads. The constants need none; the controller gets no selection for them.
ARITY: dict[str, int] = {
    "READ": 1,
    "ZERO": 0,
    "ONE": 0,
    "TWO": 0,
    "INC": 1,
    "ADD": 2,
    "SUB": 2,
    "DEC": 1,
    "LT": 2,
    "LE": 2,
    "EQ": 2,
    "MIN": 2,
    "MAX": 2,
    "WRITE": 2,
}

# The integer semantics of the arithmetic modules, mod M. Tests check the distribution-level modules against
# exactly these functions on one-hot inputs.
INTEGER_OPS: dict[str, Callable[[int, int, int], int]] = {
    "ZERO": lambda a, b, m: 0,
    "ONE": lambda a, b, m: 1 % m,
    "TWO": lambda a, b, m: 2 % m,
    "INC": lambda a, b, m: (a + 1) % m,
    "ADD": lambda a, b, m: (a + b) % m,
    "SUB": lambda a, b, m: (a - b) % m,
    "DEC": lambda a, b, m: (a - 1) % m,
    "LT": lambda a, b, m: int(a < b),
    "LE": lambda a, b, m: int(a <= b),
    "EQ": lambda a, b, m: int(a == b),
    "MIN": lambda a, b, m: min(a, b),
    "MAX": lambda a, b, m: max(a, b),
}


def operation_table(name: str, memory_size: int) -> np.ndarray:
    """The one-hot table T[a, b, c] = [op(a, b) = c] of an arithmetic module.

    Args:
        name: a key of `INTEGER_OPS`.
        memory_size: M, the number of integer values (and memory cells).

    Returns:
        float32 array of shape (M, M, M).
    """
    if name not in INTEGER_OPS:
        raise ValueError(f"No operation table for module {name!r}; tables exist for {sorted(INTEGER_OPS)}.")
    if memory_size < 3:
        raise ValueError(f"memory_size must be >= 3 (the constants 0, 1, 2 must exist); got {memory_size}.")
    op = INTEGER_OPS[name]
    table = np.zeros((memory_size,) * 3, dtype=np.float32)
    for a in range(memory_size):
        for b in range(memory_size):
            table[a, b, op(a, b, memory_size)] = 1.0
    return table


def constant(value: int, batch_size, memory_size: int):
    """The point distribution on `value`, repeated over the batch: shape (batch, M)."""
    one_hot = ops.one_hot(ops.convert_to_tensor([value % memory_size], dtype="int32"), memory_size)
    return ops.repeat(ops.cast(one_hot, keras.config.floatx()), batch_size, axis=0)


def apply_table(table, first, second):
    """out[c] = sum_{a,b} first[a] second[b] table[a, b, c] for a batch of argument distributions.

    Args:
        table: (M, M, M) one-hot operation table from `operation_table`.
        first: (batch, M) distribution of the first argument.
        second: (batch, M) distribution of the second argument (ignored by one-argument tables, which are
            constant along b; pass any distribution).

    Returns:
        (batch, M) output distribution.
    """
    return ops.einsum("ba,bc,acd->bd", first, second, table)


def read(memory, pointer):
    """READ: the distribution of the value stored at a random address drawn from `pointer`.

    Args:
        memory: (batch, M cells, M values).
        pointer: (batch, M) distribution over addresses.

    Returns:
        (batch, M): sum_i pointer[i] * memory[i, :].
    """
    return ops.einsum("bi,biv->bv", pointer, memory)


def write(memory, pointer, value):
    """WRITE: cell i becomes (1 - pointer[i]) * memory[i] + pointer[i] * value (the paper's footnote 2).

    Args:
        memory: (batch, M cells, M values).
        pointer: (batch, M) distribution over addresses.
        value: (batch, M) distribution of the value written.

    Returns:
        The new memory, same shape. The module's output seen by the circuit is the value written (appendix C
        of the paper; `NRAMCore(write_output=...)` chooses it, "zero" for models saved before this was checked).
    """
    keep = 1.0 - ops.expand_dims(pointer, -1)
    return keep * memory + ops.expand_dims(pointer, -1) * ops.expand_dims(value, 1)
