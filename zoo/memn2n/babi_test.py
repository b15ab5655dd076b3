"""Tests of the bAbI parser, vocabulary, arrays, time ids and batches against hand-derived truth."""

from __future__ import annotations

import io
import math
import os
import tarfile

import numpy as np
import pytest

from zoo import datasets
from zoo.datasets import DataError
from zoo.memn2n import babi
from zoo.memn2n.babi_facts import REFERENCE_MEMORY_SIZE
from zoo.memn2n.data import FIXTURE_DIR

TRICKY = os.path.join(FIXTURE_DIR, "tricky.txt")
SHARED_BABI = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "babi", "en")


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def test_parser_on_tricky_fixture():
    examples = babi.parse_file(TRICKY, task=7)
    # Expected values read off tricky.txt by hand.
    s1 = [
        words("mary got the football there"),
        words("john moved to the bedroom"),
        words("mary picked up the apple there"),
        words("mary went to the kitchen"),
        words("daniel went back to the hallway"),
    ]
    expected = [
        (s1[:2], "what is mary carrying", "football", (0,), 3),
        (s1[:4], "what is mary carrying", "apple,football", (2, 0), 6),  # unsorted list "4 1"
        (s1[:4], "where is mary", "kitchen", (3,), 7),  # a third question on the same story
        (s1[:5], "is daniel in the hallway", "yes", (4,), 9),
        ([words("sandra journeyed to the garden")], "where is sandra", "garden", (0,), 11),  # reset at id 1
        (
            [
                words("john went to the office"),
                words("mary went to the garden"),
                words("john travelled to the kitchen"),
            ],
            "where is john",
            "kitchen",
            (2,),
            15,
        ),
    ]
    assert len(examples) == len(expected)
    for example, (story, question, answer, supporting, line) in zip(examples, expected, strict=True):
        assert example.story == tuple(story)
        assert example.question == words(question)
        assert example.answer == answer
        assert example.supporting == supporting
        assert example.source == f"{TRICKY}:{line}"
        assert example.task == 7


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("1 Mary went to the office.\n3 John went to the garden.\n", 2, "follows id 1"),
        ("1 Mary went to the office.\n2 Where is Mary?\n", 2, "question line"),
        ("1 Mary went to the office.\n2 Where is Mary? \toffice\t3\n", 2, "supporting fact '3'"),
        ("1 Mary went.\n2 Where is Mary? \toffice\t1\n3 Where? \toffice\t2\n", 3, "supporting fact '2'"),
        ("Mary went to the office.\n", 1, "ID text"),
        ("1 Mary went to the office.\n2 Where is Mary? \toffice hallway\t1\n", 2, "one-token answer"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "qa1_bad.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"{path}:{line}: .*{message}"):
        babi.parse_file(str(path))


def test_file_without_questions_is_an_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("1 Mary went to the office.\n")
    with pytest.raises(DataError, match="no question lines"):
        babi.parse_file(str(path))


def test_tokenize_and_vocabulary():
    assert babi.tokenize("Where is Mary? ") == ("where", "is", "mary")
    assert babi.tokenize("Mary moved to the bathroom.") == ("mary", "moved", "to", "the", "bathroom")
    vocabulary = babi.build_vocabulary(babi.parse_file(TRICKY))
    assert vocabulary[0] == babi.NIL and vocabulary[1:] == sorted(vocabulary[1:])
    assert "apple,football" in vocabulary and "football" in vocabulary
    # The fixed English vocabulary covers the fixture and is sorted the same way.
    assert set(vocabulary) <= set(babi.BABI_EN_VOCABULARY)
    assert list(babi.BABI_EN_VOCABULARY[1:]) == sorted(babi.BABI_EN_VOCABULARY[1:])


def test_vectorize_keeps_the_last_statements():
    examples = babi.parse_file(TRICKY)
    vocabulary = babi.BABI_EN_VOCABULARY
    index = {w: i for i, w in enumerate(vocabulary)}
    arrays = babi.vectorize(examples, vocabulary, memory_size=3, sentence_size=7)
    # Question at line 9 has 5 statements; memory 3 keeps statements 3..5 oldest first.
    row = 3
    assert arrays["num_sentences"].tolist() == [2, 3, 3, 3, 1, 3]
    kept = ["mary picked up the apple there", "mary went to the kitchen", "daniel went back to the hallway"]
    for slot, sentence in enumerate(kept):
        ids = [index[w] for w in sentence.split()]
        assert arrays["story"][row, slot].tolist() == ids + [0] * (7 - len(ids))
    assert arrays["query"][row].tolist()[:5] == [index[w] for w in "is daniel in the hallway".split()]
    assert arrays["query"][row, 5:].tolist() == [0, 0]
    assert arrays["answer"][1] == index["apple,football"]
    # Unused memory slots are all nil.
    assert not arrays["story"][4, 1:].any()
    with pytest.raises(DataError, match="sentence_size=4"):
        babi.vectorize(examples, vocabulary, memory_size=3, sentence_size=4)
    with pytest.raises(DataError, match="not in the vocabulary"):
        babi.vectorize(examples, [babi.NIL, "mary"], memory_size=3, sentence_size=7)


def test_time_ids_without_noise():
    times = babi.time_ids(np.array([3, 0, 4]), memory_size=4)
    assert times.tolist() == [[3, 2, 1, 0], [0, 0, 0, 0], [4, 3, 2, 1]]


def test_time_noise_is_capped_at_the_memory_size():
    rng = np.random.default_rng(1)
    rows = babi.time_ids(np.full(200, 30), memory_size=30, rng=rng, noise=0.1)
    assert rows.max() == 30 and rows.min() >= 1
    assert (np.diff(rows, axis=1) <= 0).all()


def test_time_noise_inserts_up_to_ten_percent_blanks():
    rng = np.random.default_rng(0)
    n, memory = 30, 50
    blanks = []
    for _ in range(400):
        row = babi.time_ids(np.array([n]), memory, rng, noise=0.1)[0]
        times = row[:n]
        assert (np.diff(times) < 0).all(), "older statements must get larger times"
        assert times.min() >= 1 and (row[n:] == 0).all()
        blanks.append(times.max() - n)  # largest time used beyond n: at most the number of inserted blanks
        assert 0 <= blanks[-1] <= math.ceil(0.1 * n) - 1
    # nblank ~ U{0..2}: every value occurs, and times beyond n are sometimes used.
    assert set(blanks) == {0, 1, 2}


@pytest.mark.parametrize(("blanks", "support"), [("exclusive", {0}), ("inclusive", {0, 1})])
def test_time_noise_blank_count_for_a_short_story(blanks, support):
    """n = 10, noise 0.1: the reference's randi([0, ceil(1.0)]) draws 0 or 1 blank, each half the time; the
    exclusive draw never inserts one. With a blank the 10 statements take 10 of the times 1..11, the one left
    out uniform, so the oldest statement's time is 11 with probability 10/11: P(time 11) = 1/2 * 10/11."""
    rng = np.random.default_rng(5)
    rows = babi.time_ids(np.full(4000, 10), 50, rng, noise=0.1, blanks=blanks)
    beyond = rows[:, 0] - 10  # slot 0 holds the oldest statement, the largest time
    assert set(np.unique(beyond)) == support
    if blanks == "inclusive":
        # Binomial(4000, 5/11): mean 1818.2, sd 31.5; 4 sd.
        assert abs(int(np.sum(beyond)) - 4000 * 5 / 11) < 126


def test_time_noise_blanks_option_is_checked():
    with pytest.raises(ValueError, match=r"blanks must be one of \('exclusive', 'inclusive'\)"):
        babi.time_ids(np.array([3]), 5, np.random.default_rng(0), noise=0.1, blanks="both")


def test_batches_depend_only_on_seed_epoch_index():
    arrays = babi.vectorize(babi.parse_file(TRICKY), babi.BABI_EN_VOCABULARY, 50, 11)
    first = babi.BabiBatches(arrays, batch_size=4, memory_size=50, seed=3, time_noise=0.5)
    second = babi.BabiBatches(arrays, batch_size=4, memory_size=50, seed=3, time_noise=0.5)
    first.set_epoch(2)
    a = first[1]
    second.set_epoch(5)
    second[0]  # other epochs and indices drawn first must not matter
    second.set_epoch(2)
    b = second[1]
    for key in ("story", "query", "time"):
        np.testing.assert_array_equal(a[0][key], b[0][key])
    np.testing.assert_array_equal(a[1], b[1])
    # One epoch covers every example exactly once.
    answers = np.concatenate([first[i][1] for i in range(len(first))])
    assert sorted(answers.tolist()) == sorted(arrays["answer"].tolist())
    assert len(first) == 2


def test_data_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        babi.data_folder([1], str(tmp_path / "missing"))
    with pytest.raises(DataError, match="qa2_two-supporting-facts_train.txt"):
        babi.data_folder([2], FIXTURE_DIR)
    with pytest.raises(ValueError, match="1..20"):
        babi.data_folder([21], FIXTURE_DIR)


def _tar_of(folder: str, names: list[str], path: str) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            data = open(os.path.join(folder, name), "rb").read()
            info = tarfile.TarInfo(f"tasks_1-20_v1-2/en/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_download_rejects_an_archive_with_wrong_content(tmp_path, monkeypatch):
    # The fixture files carry the official names but not the official content: the checksum check must fail
    # and leave no unpacked folder behind.
    fake = tmp_path / "fake"
    fake.mkdir()
    content = open(os.path.join(FIXTURE_DIR, babi.task_filename(1, "train")), "rb").read()
    for name in babi.FILE_SHA256:
        (fake / name).write_bytes(content)
    archive = _tar_of(str(fake), sorted(babi.FILE_SHA256), str(tmp_path / "fake.tar.gz"))
    monkeypatch.setattr(datasets, "download", lambda *args, **kwargs: archive)
    with pytest.raises(DataError, match="corrupt or not the expected bAbI file"):
        babi.data_folder([1], None, cache_dir=str(tmp_path))
    assert not os.path.exists(tmp_path / "babi_tasks_1-20_v1-2_en")
    # An archive lacking some of the files is refused too.
    partial = _tar_of(str(fake), [babi.task_filename(1, "train")], str(tmp_path / "partial.tar.gz"))
    monkeypatch.setattr(datasets, "download", lambda *args, **kwargs: partial)
    with pytest.raises(DataError, match="lacks en/"):
        babi.data_folder([1], None, cache_dir=str(tmp_path))


@pytest.mark.skipif(not os.path.isdir(SHARED_BABI), reason="needs the bAbI copy in ../shared/data/babi/en")
def test_download_unpacks_and_verifies_the_official_files(tmp_path, monkeypatch):
    archive = _tar_of(SHARED_BABI, sorted(babi.FILE_SHA256), str(tmp_path / "babi.tar.gz"))
    monkeypatch.setattr(datasets, "download", lambda *args, **kwargs: archive)
    folder = babi.data_folder([3], None, cache_dir=str(tmp_path / "cache"))
    assert sorted(os.listdir(folder)) == sorted(babi.FILE_SHA256)
    assert len(babi.load_tasks([3], "test", folder)[3]) == 1000


@pytest.mark.skipif(not os.path.isdir(SHARED_BABI), reason="needs the bAbI copy in ../shared/data/babi/en")
def test_reference_memory_sizes_recounted_from_the_raw_files():
    """config_babi.m's memory size per task, recounted from the text without the parser: a line numbered 1 starts
    a story, a line with a tab (question, answer, supporting facts) is not a statement."""
    for task in REFERENCE_MEMORY_SIZE:
        longest = statements = 0
        with open(os.path.join(SHARED_BABI, babi.task_filename(task, "train"))) as f:
            for line in f:
                if line.split(" ", 1)[0] == "1":
                    statements = 0
                if "\t" not in line:
                    statements += 1
                    longest = max(longest, statements)
        assert REFERENCE_MEMORY_SIZE[task] == min(50, longest), task
