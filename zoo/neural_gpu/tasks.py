"""Binary addition and multiplication examples for the Neural GPU, in numpy, reproducible by seed.

Encoding (as in the reference, with a compact vocabulary): a task of length n has two operands of k = (n - 1) // 2
bits each, written least-significant bit first; the input is `a_bits, separator, b_bits`, padded with 0 to n
symbols; the target is the result's bits, least-significant first, without leading zeros (the number 0 is one
zero bit), padded with 0 to n symbols. Symbols: 0 = padding, 1 = bit 0, 2 = bit 1, 3 = "+", 4 = "*". The
reference uses the same layout with ids 11 / 12 for the separators inside a 16-symbol decimal vocabulary.

"Length" always means this sequence length n (the reference's meaning): length 20 has 9-bit operands and length
200 has 99-bit operands.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PAD, BIT0, BIT1, PLUS, TIMES = 0, 1, 2, 3, 4
VOCAB_SIZE = 5
TASKS = ("badd", "bmul")
_SEPARATOR = {"badd": PLUS, "bmul": TIMES}
MIN_LENGTH = 3


def check_task(task: str) -> str:
    """Returns `task` if it is a known task name, else raises ValueError listing the accepted names."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}.")
    return task


def check_length(length: Any, name: str = "length") -> int:
    """Returns `length` if it is an int >= MIN_LENGTH (one bit per operand plus the separator)."""
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < MIN_LENGTH:
        raise ValueError(f"{name} must be an integer >= {MIN_LENGTH}; got {length!r}.")
    return int(length)


def operand_bits(length: int) -> int:
    """Bits per operand at sequence length `length`: (length - 1) // 2."""
    return (check_length(length) - 1) // 2


def make_examples(
    task: str, length: int, count: int, rng: np.random.Generator, mixed_sizes: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """`count` random examples of `task` at sequence length `length`.

    Args:
        task: "badd" (binary addition) or "bmul" (binary multiplication).
        length: sequence length n >= 3; operands have (n - 1) // 2 uniformly random bits.
        count: number of examples.
        rng: the numpy generator all randomness comes from.
        mixed_sizes: if True, half of the examples (each independently) have full-size operands and the others
            k-bit operands with k uniform in [1, (n - 1) // 2] (both operands the same k), padded to n. Training
            on such batches keeps the model from tying its algorithm to the tape length (with full-size operands
            only, the separator always sits in the middle of the tape).

    Returns:
        (inputs, targets), both int32 arrays of shape [count, length] in the encoding of the module docstring.
    """
    check_task(task)
    full_bits = operand_bits(length)
    if count < 1:
        raise ValueError(f"count must be >= 1; got {count!r}.")
    if not mixed_sizes:
        return make_padded_examples(task, full_bits, length, count, rng)
    sizes = np.where(rng.random(count) < 0.5, full_bits, rng.integers(1, full_bits + 1, size=count))
    inputs = np.zeros((count, length), dtype=np.int32)
    targets = np.zeros((count, length), dtype=np.int32)
    for bits in np.unique(sizes):
        rows = np.flatnonzero(sizes == bits)
        inputs[rows], targets[rows] = make_padded_examples(task, int(bits), length, len(rows), rng)
    return inputs, targets


def make_padded_examples(
    task: str, bits: int, length: int, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`count` examples with `bits`-bit operands, padded to sequence length `length` (needs 2 * bits + 1 <= length).

    Separates the two ways an input can be longer than in training: a longer tape (more padding) and longer
    operands (`benchmarks/neural_gpu_generalization.py` sweeps both).
    """
    check_task(task)
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1 or 2 * bits + 1 > length:
        raise ValueError(
            f"bits must be an integer in [1, (length - 1) // 2 = {(length - 1) // 2}]; got {bits!r}."
        )
    operands = rng.integers(0, 2, size=(count, 2, bits), dtype=np.int64)
    inputs = np.zeros((count, length), dtype=np.int32)
    inputs[:, :bits] = operands[:, 0] + BIT0
    inputs[:, bits] = _SEPARATOR[task]
    inputs[:, bits + 1 : 2 * bits + 1] = operands[:, 1] + BIT0
    if task == "badd":
        result = _add_lsb_first(operands[:, 0], operands[:, 1])
    else:
        result = _multiply_lsb_first(operands[:, 0], operands[:, 1])
    targets = np.zeros((count, length), dtype=np.int32)
    # Number of significant bits of each result (at least one, for the number 0).
    significant = np.maximum(1, result.shape[1] - np.argmax(result[:, ::-1] > 0, axis=1))
    significant[~result.any(axis=1)] = 1
    positions = np.arange(result.shape[1])
    keep = positions[None, :] < significant[:, None]
    width = min(result.shape[1], length)
    targets[:, :width] = np.where(keep, result + BIT0, PAD)[:, :width]
    return inputs, targets


def _add_lsb_first(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ripple-carry sum of LSB-first bit arrays [count, k] -> [count, k + 1], vectorized over examples."""
    count, bits = a.shape
    out = np.zeros((count, bits + 1), dtype=np.int64)
    carry = np.zeros(count, dtype=np.int64)
    for i in range(bits):
        total = a[:, i] + b[:, i] + carry
        out[:, i] = total & 1
        carry = total >> 1
    out[:, bits] = carry
    return out


def _multiply_lsb_first(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Schoolbook product of LSB-first bit arrays [count, k] -> [count, 2k], with carries propagated."""
    count, bits = a.shape
    columns = np.zeros((count, 2 * bits + 1), dtype=np.int64)
    for i in range(bits):
        columns[:, i : i + bits] += a[:, i : i + 1] * b
    out = np.zeros((count, 2 * bits), dtype=np.int64)
    carry = np.zeros(count, dtype=np.int64)
    for i in range(2 * bits):
        total = columns[:, i] + carry
        out[:, i] = total & 1
        carry = total >> 1
    return out


def decode_number(symbols: Any) -> int:
    """The integer written by LSB-first bit symbols (BIT0/BIT1), stopping at the first non-bit symbol."""
    value = 0
    for position, symbol in enumerate(int(s) for s in symbols):
        if symbol not in (BIT0, BIT1):
            break
        value |= (symbol - BIT0) << position
    return value


def errors(predicted: np.ndarray, targets: np.ndarray) -> tuple[int, int, int]:
    """Counts (wrong bits, scored bits, wrong sequences) over non-padding target positions.

    Args:
        predicted: int symbols [count, length] (argmax of the model's logits).
        targets: int symbols [count, length].

    Returns:
        (number of wrong non-padding positions, number of non-padding positions, number of examples with any wrong
        non-padding position).
    """
    wrong, scored = _wrong_and_scored(predicted, targets)
    return int(wrong.sum()), int(scored.sum()), int(wrong.any(axis=1).sum())


def errors_by_position(predicted: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per result position: (wrong non-padding predictions, non-padding targets), each an int array [length].

    Position i is the result's bit i (least significant first). For addition it depends only on operand bits
    0..i, so errors at low positions of long numbers point at the distance operand b's bits travel along the
    tape (k + 1 cells for k-bit operands), not at the number of result bits.
    """
    wrong, scored = _wrong_and_scored(predicted, targets)
    return wrong.sum(axis=0).astype(np.int64), scored.sum(axis=0).astype(np.int64)


def _wrong_and_scored(predicted: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks [count, length]: wrong non-padding positions, and non-padding (scored) positions."""
    scored = targets > PAD
    return (predicted != targets) & scored, scored


def measure_error(
    model: Any,
    task: str,
    length: int,
    count: int,
    seed: int,
    batch_size: int = 32,
    bits: int | None = None,
    by_position: bool = False,
) -> dict[str, Any]:
    """Per-bit and per-sequence error of `model` on `count` fresh examples of `task` at `length`.

    Args:
        model: a callable keras model mapping int symbols [b, n] to logits [b, n, vocab].
        task: "badd" or "bmul".
        length: sequence length.
        count: number of examples.
        seed: seeds the example generator (independent of any training data stream).
        batch_size: examples per forward pass.
        bits: operand size; None means full size, (length - 1) // 2.
        by_position: also return "position_error", the per-bit error at each result position (NaN where no
            example has a result bit), as a list of floats.

    Returns:
        {"bit_error": ..., "sequence_error": ..., "examples": count} (plus "position_error" if asked).
    """
    rng = np.random.default_rng([seed, length, 7919] if bits is None else [seed, length, 7919, bits])
    if bits is None:
        inputs, targets = make_examples(task, length, count, rng)
    else:
        inputs, targets = make_padded_examples(task, bits, length, count, rng)
    wrong_bits = scored_bits = wrong_sequences = 0
    wrong_at = np.zeros(length, dtype=np.int64)
    scored_at = np.zeros(length, dtype=np.int64)
    for start in range(0, count, batch_size):
        batch_targets = targets[start : start + batch_size]
        predicted = np.argmax(np.asarray(model.predict_on_batch(inputs[start : start + batch_size])), axis=-1)
        w, s, q = errors(predicted, batch_targets)
        wrong_bits, scored_bits, wrong_sequences = wrong_bits + w, scored_bits + s, wrong_sequences + q
        if by_position:
            position_wrong, position_scored = errors_by_position(predicted, batch_targets)
            wrong_at, scored_at = wrong_at + position_wrong, scored_at + position_scored
    result: dict[str, Any] = {
        "bit_error": wrong_bits / max(scored_bits, 1),
        "sequence_error": wrong_sequences / count,
        "examples": float(count),
    }
    if by_position:
        with np.errstate(invalid="ignore", divide="ignore"):
            result["position_error"] = (wrong_at / scored_at).tolist()
    return result
