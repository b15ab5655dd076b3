"""Synthetic table comprehension: random tables, template questions, answers by executing the program.

Follows the synthetic dataset of the Neural Programmer paper (Neelakantan, Le, Sutskever 2015, arXiv
1511.04834, section 4): a table of numbers (one column, or up to five), optionally with text columns, and a
question made of operation words, column names and numbers, e.g. "greater 17.27 A and lesser -19.21 D count".
The answer is what the question's program returns: a scalar (sum, count, difference) or a lookup (the table
cells selected by "print"). Operation words have synonyms ("greater", "larger", "bigger"), as in the paper.

Everything is numpy and reproducible by seed: `generate_examples(n, seed=...)` always returns the same
examples, and `TableQADataset` makes batch i of epoch e from (seed, e), so resumed runs see the same batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from zoo.batches import SeededBatches

NUMERIC_COLUMN_NAMES = ("A", "B", "C", "D", "E")
TEXT_COLUMN_NAMES = ("F", "G", "H", "I", "J")
TEXT_WORDS = ("red", "green", "blue", "black", "white", "gray", "pink", "brown", "gold", "teal")
SYNONYMS: dict[str, tuple[str, ...]] = {
    "sum": ("sum", "total"),
    "count": ("count", "tally"),
    "difference": ("difference", "minus"),
    "greater": ("greater", "larger", "bigger"),
    "lesser": ("lesser", "smaller", "below"),
    "print": ("print", "show", "display"),
}
CONNECTIVES = ("and", "or", "is")
PAD, UNKNOWN = "<pad>", "<unk>"
VOCABULARY: tuple[str, ...] = (
    (PAD, UNKNOWN)
    + tuple(word for words in SYNONYMS.values() for word in words)
    + CONNECTIVES
    + NUMERIC_COLUMN_NAMES
    + TEXT_COLUMN_NAMES
    + TEXT_WORDS
)
WORD_IDS: dict[str, int] = {word: index for index, word in enumerate(VOCABULARY)}

# Question templates. Slots: {sum} {count} {difference} {print} take a synonym; {cmp}, {cmp1}, {cmp2} a
# comparison word; {n}, {n1}, {n2} a number; {c}, {d}, {e} numeric column names; {t} a text column; {w} a
# word. Every template's program fits in the paper's T = 4 steps (e.g. greater, lesser, and, count).
NUMERIC_TEMPLATES: dict[str, str] = {
    "sum": "{sum} {c}",
    "count": "{count}",
    "compare_sum": "{cmp} {n} {c} {sum} {d}",
    "compare_count": "{cmp} {n} {c} {count}",
    "compare_print": "{cmp} {n} {c} {print} {d}",
    "and_sum": "{cmp1} {n1} {c} and {cmp2} {n2} {d} {sum} {e}",
    "and_count": "{cmp1} {n1} {c} and {cmp2} {n2} {d} {count}",
    "and_print": "{cmp1} {n1} {c} and {cmp2} {n2} {d} {print} {e}",
    "or_sum": "{cmp1} {n1} {c} or {cmp2} {n2} {d} {sum} {e}",
    "or_count": "{cmp1} {n1} {c} or {cmp2} {n2} {d} {count}",
    "or_print": "{cmp1} {n1} {c} or {cmp2} {n2} {d} {print} {e}",
    "difference": "{sum} {c} {difference} {count}",
}
TEXT_TEMPLATES: dict[str, str] = {
    "word_sum": "{t} is {w} {sum} {c}",
    "word_count": "{t} is {w} {count}",
    "word_print": "{t} is {w} {print} {c}",
    "word_and_compare_count": "{t} is {w} and {cmp} {n} {c} {count}",
}
MAX_QUESTION_NUMBERS = 2
VALUE_RANGE = (-100.0, 100.0)
# Scalar answers are right within this absolute + relative tolerance (float32 sums of 2-decimal numbers).
ABSOLUTE_TOLERANCE = 1e-2
RELATIVE_TOLERANCE = 1e-4
_STREAMS = {"train": 0, "validation": 1, "test": 2}


@dataclasses.dataclass
class Example:
    """One question about one table.

    Args:
        question: the question text, tokens separated by single spaces.
        table: float64 [rows, numeric columns], entries with two decimals.
        text_table: [rows][text columns] words (empty lists when the table has no text columns).
        template: the template's name (a key of NUMERIC_TEMPLATES or TEXT_TEMPLATES).
        answer: the scalar answer, or None for a lookup question.
        lookup: bool [rows, numeric + text columns], the cells a lookup question selects; None for scalars.
    """

    question: str
    table: np.ndarray
    text_table: list[list[str]]
    template: str
    answer: float | None
    lookup: np.ndarray | None


def template_names(num_text_columns: int = 0) -> list[str]:
    """The templates available for tables with `num_text_columns` text columns."""
    return list(NUMERIC_TEMPLATES) + (list(TEXT_TEMPLATES) if num_text_columns > 0 else [])


def check_sizes(num_rows: int, num_columns: int, num_text_columns: int) -> None:
    """Raises a ValueError naming the first table size out of its range."""
    if not isinstance(num_rows, int) or not 1 <= num_rows <= 1000:
        raise ValueError(f"num_rows must be an integer in [1, 1000]; got {num_rows!r}.")
    if not isinstance(num_columns, int) or not 1 <= num_columns <= len(NUMERIC_COLUMN_NAMES):
        raise ValueError(
            f"num_columns must be an integer in [1, {len(NUMERIC_COLUMN_NAMES)}]; got {num_columns!r}."
        )
    if not isinstance(num_text_columns, int) or not 0 <= num_text_columns <= len(TEXT_COLUMN_NAMES):
        raise ValueError(
            f"num_text_columns must be an integer in [0, {len(TEXT_COLUMN_NAMES)}]; got {num_text_columns!r}."
        )


def generate_examples(
    num_examples: int,
    *,
    num_rows: int = 10,
    num_columns: int = 1,
    num_text_columns: int = 0,
    templates: Sequence[str] | None = None,
    seed: int = 0,
    split: str = "train",
) -> list[Example]:
    """Random tables with template questions and their executed answers.

    Args:
        num_examples: how many examples (>= 0).
        num_rows: rows per table.
        num_columns: numeric columns per table, 1 to 5 (named A..E).
        num_text_columns: text columns per table, 0 to 5 (named F..J), entries from TEXT_WORDS.
        templates: template names to draw from uniformly; None: all of `template_names(num_text_columns)`.
        seed: the data seed.
        split: "train", "validation" or "test": independent random streams of the same seed.

    Returns:
        The examples, the same for the same arguments.
    """
    check_sizes(num_rows, num_columns, num_text_columns)
    if not isinstance(num_examples, int) or num_examples < 0:
        raise ValueError(f"num_examples must be a non-negative integer; got {num_examples!r}.")
    if split not in _STREAMS:
        raise ValueError(f"split must be one of {sorted(_STREAMS)}; got {split!r}.")
    available = template_names(num_text_columns)
    chosen = list(available if templates is None else templates)
    unknown = [name for name in chosen if name not in available]
    if unknown or not chosen:
        raise ValueError(
            f"templates {unknown or chosen!r} are not available for num_text_columns={num_text_columns}; "
            f"available: {available}."
        )
    rng = np.random.default_rng([seed, _STREAMS[split]])
    return [_generate_one(rng, chosen, num_rows, num_columns, num_text_columns) for _ in range(num_examples)]


def _number(rng: np.random.Generator) -> float:
    return round(float(rng.uniform(*VALUE_RANGE)), 2)


def _generate_one(
    rng: np.random.Generator, templates: list[str], num_rows: int, num_columns: int, num_text_columns: int
) -> Example:
    table = np.round(rng.uniform(*VALUE_RANGE, size=(num_rows, num_columns)), 2)
    text_table = [[str(rng.choice(TEXT_WORDS)) for _ in range(num_text_columns)] for _ in range(num_rows)]
    template = templates[int(rng.integers(len(templates)))]
    # One comparison is "greater", the other "lesser": the paper computes one pivot per comparison type.
    first_comparison = "greater" if rng.integers(2) == 0 else "lesser"
    second_comparison = "lesser" if first_comparison == "greater" else "greater"
    slots = {name: str(rng.choice(words)) for name, words in SYNONYMS.items()}
    slots["cmp"] = slots["cmp1"] = str(rng.choice(SYNONYMS[first_comparison]))
    slots["cmp2"] = str(rng.choice(SYNONYMS[second_comparison]))
    n1, n2 = _number(rng), _number(rng)
    slots.update(n=f"{n1:.2f}", n1=f"{n1:.2f}", n2=f"{n2:.2f}")
    columns = [int(rng.integers(num_columns)) for _ in range(3)]
    slots.update({key: NUMERIC_COLUMN_NAMES[index] for key, index in zip("cde", columns, strict=True)})
    text_column = int(rng.integers(num_text_columns)) if num_text_columns else 0
    word = str(rng.choice(TEXT_WORDS))
    slots.update(t=TEXT_COLUMN_NAMES[text_column], w=word)
    question = {**NUMERIC_TEMPLATES, **TEXT_TEMPLATES}[template].format(**slots)

    # The program, executed on row-selection vectors like the model's operations.
    c, d, e = (table[:, index] for index in columns)
    comparisons = {
        "greater": lambda column, pivot: column > pivot,
        "lesser": lambda column, pivot: column < pivot,
    }
    first = comparisons[first_comparison](c, n1)
    if template.startswith(("and_", "or_")):
        second = comparisons[second_comparison](d, n2)
        rows = first & second if template.startswith("and_") else first | second
        target_column = columns[2]
    elif template.startswith("compare_"):
        rows, target_column = first, columns[1]
    elif template.startswith("word_"):
        rows = np.array([entry[text_column] == word for entry in text_table], dtype=bool)
        if template == "word_and_compare_count":
            rows &= first
        target_column = columns[0]
    else:
        rows, target_column = np.ones(num_rows, dtype=bool), columns[0]

    answer: float | None
    lookup = None
    if template == "difference":
        answer = float(c.sum() - num_rows)
    elif template.endswith("sum"):
        answer = float(table[rows, target_column].sum())
    elif template.endswith("count"):
        answer = float(rows.sum())
    else:
        answer = None
        lookup = np.zeros((num_rows, num_columns + num_text_columns), dtype=bool)
        lookup[:, target_column] = rows
    return Example(question, table, text_table, template, answer, lookup)


def tokenize(question: str) -> tuple[list[int], list[float], list[int]]:
    """Splits a question into word ids and question numbers, as the paper's question module does.

    Numbers are taken out of the word sequence; each is remembered with the position of the word to its left,
    whose RNN state the model uses to decide which operation the number belongs to.

    Returns:
        (word ids, numbers, position in the word ids of the word left of each number).
    """
    ids: list[int] = []
    numbers: list[float] = []
    positions: list[int] = []
    for token in question.split():
        try:
            value = float(token)
        except ValueError:
            ids.append(WORD_IDS.get(token, WORD_IDS[UNKNOWN]))
            continue
        if not ids:
            raise ValueError(
                f"question {question!r} starts with a number; a number needs a word to its left."
            )
        numbers.append(value)
        positions.append(len(ids) - 1)
    return ids, numbers, positions


def encode(
    examples: Sequence[Example], max_question_length: int = 10
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Batches examples into the model's inputs and the training targets.

    Args:
        examples: examples whose tables all have the same shape.
        max_question_length: question word ids are padded with 0 to this length.

    Returns:
        (x, y). x: "question" int32 [B, Q], "question_numbers" float32 [B, K], "number_positions" int32
        [B, K], "number_mask" float32 [B, K], "table" float32 [B, M, C] (0 in text columns), "text_match" float32
        [B, M, C] (1 where a text entry is a word of the question), "column_names" int32 [B, C] (word ids),
        "column_mask" float32 [B, C]. y: "scalar" float32 [B, 2] (answer, 1) for scalar questions and (0, 0)
        for lookups; "lookup" float32 [B, M, C], the selected cells of lookup questions and -1 for scalar
        questions.
    """
    if not examples:
        raise ValueError("encode needs at least one example.")
    num_rows, num_columns = examples[0].table.shape
    num_text = len(examples[0].text_table[0]) if examples[0].text_table else 0
    total_columns = num_columns + num_text
    size = len(examples)
    x = {
        "question": np.zeros((size, max_question_length), np.int32),
        "question_numbers": np.zeros((size, MAX_QUESTION_NUMBERS), np.float32),
        "number_positions": np.zeros((size, MAX_QUESTION_NUMBERS), np.int32),
        "number_mask": np.zeros((size, MAX_QUESTION_NUMBERS), np.float32),
        "table": np.zeros((size, num_rows, total_columns), np.float32),
        "text_match": np.zeros((size, num_rows, total_columns), np.float32),
        "column_names": np.tile(
            np.array(
                [
                    WORD_IDS[name]
                    for name in NUMERIC_COLUMN_NAMES[:num_columns] + TEXT_COLUMN_NAMES[:num_text]
                ],
                np.int32,
            ),
            (size, 1),
        ),
        "column_mask": np.ones((size, total_columns), np.float32),
    }
    y = {
        "scalar": np.zeros((size, 2), np.float32),
        "lookup": np.full((size, num_rows, total_columns), -1.0, np.float32),
    }
    for index, example in enumerate(examples):
        if example.table.shape != (num_rows, num_columns):
            raise ValueError(
                f"example {index} has a {example.table.shape} table; all examples of a batch need "
                f"{(num_rows, num_columns)}."
            )
        ids, numbers, positions = tokenize(example.question)
        if len(ids) > max_question_length or len(numbers) > MAX_QUESTION_NUMBERS:
            raise ValueError(
                f"question {example.question!r} has {len(ids)} words and {len(numbers)} numbers; at most "
                f"max_question_length={max_question_length} words and {MAX_QUESTION_NUMBERS} numbers fit."
            )
        x["question"][index, : len(ids)] = ids
        x["question_numbers"][index, : len(numbers)] = numbers
        x["number_positions"][index, : len(positions)] = positions
        x["number_mask"][index, : len(numbers)] = 1.0
        x["table"][index, :, :num_columns] = example.table
        words = set(example.question.split())
        for row, entries in enumerate(example.text_table):
            for column, entry in enumerate(entries):
                x["text_match"][index, row, num_columns + column] = float(entry in words)
        if example.answer is not None:
            y["scalar"][index] = (example.answer, 1.0)
        else:
            y["lookup"][index] = example.lookup
    return x, y


def answers_correct(scalar: np.ndarray, lookup: np.ndarray, y: dict[str, np.ndarray]) -> np.ndarray:
    """Which predictions are right, from hard-selection outputs.

    A scalar question is right when the final step's operation is not "print" (the lookup output is all zero)
    and the scalar is within tolerance; a lookup question when the lookup output equals the selected cells
    exactly.

    Args:
        scalar: [B] or [B, 1] predicted scalars.
        lookup: [B, M, C] predicted lookups (0/1 under hard selection).
        y: the targets from `encode`.

    Returns:
        bool [B].
    """
    scalar = np.asarray(scalar, np.float64).reshape(-1)
    lookup = np.asarray(lookup) > 0.5
    is_scalar = y["scalar"][:, 1] > 0.5
    target = y["scalar"][:, 0].astype(np.float64)
    scalar_ok = np.abs(scalar - target) <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * np.abs(target)
    # A lookup question is right when the predicted cells equal the selected ones; when no row is selected,
    # that is an all-zero lookup output. A scalar question is wrong if the model printed any cell.
    lookup_ok = np.all(lookup == (y["lookup"] > 0.5), axis=(1, 2))
    return np.where(is_scalar, scalar_ok & ~lookup.any(axis=(1, 2)), lookup_ok)


class TableQADataset(SeededBatches):
    """A fixed training set of `num_examples` generated examples, served in batches, reshuffled every epoch.

    The paper trains on a fixed set of generated examples. Batch i of epoch e is a pure function of the
    arguments and e (the zoo harness calls `set_epoch(e)` before each epoch), so a resumed run sees exactly
    the batches of an uninterrupted one.
    """

    def __init__(
        self,
        num_examples: int,
        batch_size: int,
        *,
        seed: int,
        max_question_length: int = 10,
        **generator_kwargs,
    ):
        super().__init__(batch_size, seed)
        if not isinstance(num_examples, int) or num_examples < 1:
            raise ValueError(f"num_train must be a positive integer; got {num_examples!r}.")
        examples = generate_examples(num_examples, seed=seed, split="train", **generator_kwargs)
        self.x, self.y = encode(examples, max_question_length)
        self.templates = [example.template for example in examples]
        self.num_examples = num_examples

    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        # The shuffle's own stream, after the generator's (`_STREAMS`).
        part = self.batch_rows(index, 1 + len(_STREAMS))
        return {key: value[part] for key, value in self.x.items()}, {
            key: value[part] for key, value in self.y.items()
        }
