"""The table QA generator, checked against an independent executor that reads the question text."""

from __future__ import annotations

import re

import numpy as np
import pytest

from zoo.neural_programmer import tables

# The test's own reading of the question language, written from the template descriptions, not from tables.py.
_MEANING = {
    "sum": "sum", "total": "sum", "count": "count", "tally": "count", "difference": "minus", "minus": "minus",
    "greater": ">", "larger": ">", "bigger": ">", "lesser": "<", "smaller": "<", "below": "<",
    "print": "print", "show": "print", "display": "print",
}  # fmt: skip
_NUMBER = re.compile(r"^-?\d+\.\d\d$")


def _column_index(name: str) -> int:
    return "ABCDEFGHIJ".index(name)


def execute_question(question: str, table: np.ndarray, text_table: list[list[str]]):
    """Answers a question with plain Python: returns ("scalar", value) or ("lookup", set of (row, column))."""
    tokens = question.split()
    num_rows = table.shape[0]
    cell = lambda row, column: float(table[row][column])  # noqa: E731
    conditions = []  # each a set of rows
    connective = None
    position = 0
    aggregates = []
    while position < len(tokens):
        token = tokens[position]
        meaning = _MEANING.get(token)
        if meaning in (">", "<"):
            assert _NUMBER.match(tokens[position + 1]), question
            pivot = float(tokens[position + 1])
            column = _column_index(tokens[position + 2])
            rows = set()
            for row in range(num_rows):
                value = cell(row, column)
                if (meaning == ">" and value > pivot) or (meaning == "<" and value < pivot):
                    rows.add(row)
            conditions.append(rows)
            position += 3
        elif token in ("and", "or"):
            connective = token
            position += 1
        elif position + 2 < len(tokens) and tokens[position + 1] == "is":
            column = "FGHIJ".index(token)
            word = tokens[position + 2]
            conditions.append({row for row in range(num_rows) if text_table[row][column] == word})
            position += 3
        elif meaning in ("sum", "print"):
            aggregates.append((meaning, _column_index(tokens[position + 1])))
            position += 2
        elif meaning in ("count", "minus"):
            aggregates.append((meaning, None))
            position += 1
        else:
            raise AssertionError(f"cannot read token {token!r} of {question!r}")
    selected = set(range(num_rows))
    if len(conditions) == 1:
        selected = conditions[0]
    elif len(conditions) == 2:
        selected = conditions[0] & conditions[1] if connective == "and" else conditions[0] | conditions[1]

    def value_of(aggregate):
        kind, column = aggregate
        if kind == "sum":
            return sum(cell(row, column) for row in selected)
        return float(len(selected))

    if len(aggregates) == 3:  # "sum X minus count": over the whole table
        assert aggregates[1][0] == "minus"
        return "scalar", value_of(aggregates[0]) - value_of(aggregates[2])
    ((kind, column),) = aggregates
    if kind == "print":
        return "lookup", {(row, column) for row in selected}
    return "scalar", value_of((kind, column))


@pytest.mark.parametrize(
    "sizes", [dict(num_columns=1), dict(num_columns=5), dict(num_columns=3, num_text_columns=2)], ids=str
)
def test_answers_match_independent_executor(sizes):
    examples = tables.generate_examples(400, num_rows=8, seed=3, **sizes)
    seen = set()
    for example in examples:
        kind, expected = execute_question(example.question, example.table, example.text_table)
        seen.add(example.template)
        if kind == "scalar":
            assert example.lookup is None
            assert example.answer == pytest.approx(expected, abs=1e-9), example.question
        else:
            assert example.answer is None
            assert {tuple(cell) for cell in np.argwhere(example.lookup)} == expected, example.question
    assert seen == set(tables.template_names(sizes.get("num_text_columns", 0)))


def test_generation_is_reproducible_by_seed_and_split():
    first = tables.generate_examples(20, num_columns=5, seed=7)
    again = tables.generate_examples(20, num_columns=5, seed=7)
    other_seed = tables.generate_examples(20, num_columns=5, seed=8)
    test_split = tables.generate_examples(20, num_columns=5, seed=7, split="test")
    assert [e.question for e in first] == [e.question for e in again]
    assert all(np.array_equal(a.table, b.table) for a, b in zip(first, again, strict=True))
    assert [e.question for e in first] != [e.question for e in other_seed]
    assert [e.question for e in first] != [e.question for e in test_split]


def test_tables_hold_two_decimal_numbers_in_range():
    examples = tables.generate_examples(50, num_rows=6, num_columns=4, seed=1)
    values = np.concatenate([example.table.ravel() for example in examples])
    assert values.min() >= -100 and values.max() <= 100
    np.testing.assert_allclose(values * 100, np.round(values * 100), atol=1e-6)


def test_tokenize_takes_numbers_out_and_remembers_the_left_word():
    ids, numbers, positions = tables.tokenize("greater 17.27 A and lesser -19.21 D count")
    words = [tables.VOCABULARY[i] for i in ids]
    assert words == ["greater", "A", "and", "lesser", "D", "count"]
    assert numbers == [17.27, -19.21]
    assert [words[p] for p in positions] == ["greater", "lesser"]
    assert tables.tokenize("frobnicate A")[0][0] == tables.WORD_IDS[tables.UNKNOWN]
    with pytest.raises(ValueError, match="starts with a number"):
        tables.tokenize("3.5 A")


def test_encode_targets_and_text_match():
    examples = tables.generate_examples(60, num_rows=6, num_columns=2, num_text_columns=2, seed=5)
    x, y = tables.encode(examples)
    assert x["table"].shape == (60, 6, 4) and x["column_names"].shape == (60, 4)
    for index, example in enumerate(examples):
        np.testing.assert_allclose(x["table"][index, :, :2], example.table, rtol=1e-6)
        assert not x["table"][index, :, 2:].any()
        question_words = example.question.split()
        for row in range(6):
            for column in range(2):
                expected = example.text_table[row][column] in question_words
                assert x["text_match"][index, row, 2 + column] == float(expected)
        assert not x["text_match"][index, :, :2].any()
        if example.answer is None:
            assert y["scalar"][index, 1] == 0 and set(np.unique(y["lookup"][index])) <= {0.0, 1.0}
        else:
            assert y["scalar"][index, 1] == 1 and np.all(y["lookup"][index] == -1)
            assert y["scalar"][index, 0] == pytest.approx(example.answer, abs=1e-3)
    assert [tables.VOCABULARY[i] for i in x["column_names"][0]] == ["A", "B", "F", "G"]


def test_answers_correct_rules():
    y = {
        "scalar": np.array([[5.0, 1.0], [0.0, 0.0], [0.0, 0.0], [3.0, 1.0]], np.float32),
        "lookup": -np.ones((4, 2, 1), np.float32),
    }
    y["lookup"][1] = [[1.0], [0.0]]
    y["lookup"][2] = [[0.0], [0.0]]
    scalar = np.array([5.001, 0.0, 0.0, 3.0])
    lookup = np.zeros((4, 2, 1))
    lookup[1] = [[1.0], [0.0]]
    lookup[3] = [[1.0], [0.0]]  # a "print" answer to a scalar question is wrong even if the scalar matches
    assert tables.answers_correct(scalar, lookup, y).tolist() == [True, True, True, False]
    assert not tables.answers_correct(np.array([5.1, 0, 0, 3]), lookup, y)[0]


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="num_columns"):
        tables.generate_examples(1, num_columns=6)
    with pytest.raises(ValueError, match="num_text_columns"):
        tables.generate_examples(1, num_text_columns=-1)
    with pytest.raises(ValueError, match="word_sum"):
        tables.generate_examples(1, templates=["word_sum"])
    with pytest.raises(ValueError, match="split"):
        tables.generate_examples(1, split="dev")
    with pytest.raises(ValueError, match="max_question_length"):
        tables.encode(tables.generate_examples(3, templates=["and_sum"]), max_question_length=4)


def test_dataset_batches_are_a_function_of_seed_and_epoch():
    first = tables.TableQADataset(30, 8, seed=2, num_rows=4, num_columns=2)
    second = tables.TableQADataset(30, 8, seed=2, num_rows=4, num_columns=2)
    assert len(first) == 4 and first[3][0]["table"].shape[0] == 6
    second.set_epoch(1)
    second.set_epoch(0)
    for index in range(4):
        np.testing.assert_array_equal(first[index][0]["table"], second[index][0]["table"])
    first.set_epoch(1)
    assert not np.array_equal(first[0][0]["table"], second[0][0]["table"])
    # Every epoch serves every example once.
    tables_epoch1 = np.concatenate([first[i][0]["table"] for i in range(4)])
    assert sorted(map(bytes, tables_epoch1)) == sorted(map(bytes, first.x["table"]))
