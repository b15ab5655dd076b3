"""The bAbI question-answering tasks (Weston et al. 2015, arXiv 1502.05698): parser, vocabulary, batches.

A bAbI file is a sequence of stories. Every line starts with an id; id 1 starts a new story. A statement
line is `ID text.`; a question line is `ID question?<TAB>answer<TAB>supporting ids`, where the supporting
ids name earlier lines of the same story. Several questions may follow one story, and each sees every
statement before it.

`data_folder` finds the 1k English files in a `data_dir` (the development machines have them at
`../shared/data/babi/en/`), or downloads the official v1.2 archive once and checks every extracted file
against the sha256 in babi_facts.py.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Sequence

import numpy as np

from zoo import datasets
from zoo.batches import SeededBatches
from zoo.datasets import DataError

from .babi_facts import BABI_EN_VOCABULARY, FILE_SHA256, NIL, TASK_NAMES

__all__ = [
    "BABI_EN_VOCABULARY",
    "FILE_SHA256",
    "NIL",
    "TASK_NAMES",
    "BabiBatches",
    "Example",
    "build_vocabulary",
    "data_folder",
    "load_tasks",
    "model_inputs",
    "parse_file",
    "parse_lines",
    "task_filename",
    "time_ids",
    "tokenize",
    "vectorize",
]

ARCHIVE_URLS = (
    "https://s3.amazonaws.com/text-datasets/babi_tasks_1-20_v1-2.tar.gz",
    "http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz",
)

_LINE_RE = re.compile(r"^(\d+) (.*)$")


def task_filename(task: int, split: str) -> str:
    """The official file name of a task's split, e.g. `qa1_single-supporting-fact_train.txt`."""
    _check_task(task)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    return f"qa{task}_{TASK_NAMES[task]}_{split}.txt"


@dataclasses.dataclass(frozen=True)
class Example:
    """One question with the story lines it may read.

    Args:
        task: the bAbI task number, 1..20.
        story: the statements of the story before the question, oldest first, each a tuple of tokens.
        question: the question's tokens.
        answer: the answer token (list answers such as `apple,football` are one token, as in the reference
        code).
        supporting: indices into `story` of the supporting statements, in the file's order.
        source: `path:line` of the question, for error messages.
    """

    task: int
    story: tuple[tuple[str, ...], ...]
    question: tuple[str, ...]
    answer: str
    supporting: tuple[int, ...]
    source: str


def tokenize(text: str) -> tuple[str, ...]:
    """Lower-cased words with sentence punctuation removed: 'Where is Mary? ' -> ('where', 'is', 'mary')."""
    return tuple(word.strip(".?!").lower() for word in text.split() if word.strip(".?!"))


def parse_lines(lines: Iterable[str], path: str, task: int = 0) -> list[Example]:
    """Parses the lines of one bAbI file into examples.

    Args:
        lines: the file's lines.
        path: the file's name, used in error messages.
        task: the task number stored in each example.

    Returns:
        One Example per question line, in file order.

    Raises:
        DataError: naming `path` and the line number, for a line without an id, an id that neither restarts
        the
            story at 1 nor follows the previous id, a question line without answer, or a supporting id that
            is not an earlier statement of the same story.
    """
    examples: list[Example] = []
    story: list[tuple[str, ...]] = []
    statement_of_id: dict[int, int] = {}  # line id -> index into story (question lines are not statements)
    previous_id = 0
    for line_number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\n\r")
        if not line.strip():
            continue
        where = f"{path}:{line_number}"
        match = _LINE_RE.match(line)
        if match is None:
            raise DataError(f"{where}: expected 'ID text' with a positive integer ID; got {line[:60]!r}.")
        line_id, text = int(match.group(1)), match.group(2)
        if line_id == 1:
            story, statement_of_id = [], {}
        elif line_id != previous_id + 1:
            raise DataError(
                f"{where}: line id {line_id} follows id {previous_id}; ids must count up by one within "
                f"a story and restart at 1 for a new story."
            )
        previous_id = line_id
        if "\t" not in text and text.rstrip().endswith("?"):
            raise DataError(
                f"{where}: a question line must be 'ID question?<TAB>answer<TAB>supporting ids'; this one "
                f"has no answer: {line[:80]!r}."
            )
        if "\t" not in text:
            statement_of_id[line_id] = len(story)
            story.append(tokenize(text))
            continue
        fields = text.split("\t")
        question, answer = tokenize(fields[0]), fields[1].strip().lower() if len(fields) > 1 else ""
        if not question or not answer or " " in answer:
            raise DataError(
                f"{where}: a question line must be 'ID question?<TAB>answer<TAB>supporting ids' with "
                f"a one-token answer; got {line[:80]!r}."
            )
        supporting = []
        for token in (fields[2] if len(fields) > 2 else "").split():
            if not token.isdigit() or int(token) not in statement_of_id:
                raise DataError(
                    f"{where}: supporting fact {token!r} is not the id of an earlier statement of this story "
                    f"(statement ids so far: {sorted(statement_of_id) or 'none'})."
                )
            supporting.append(statement_of_id[int(token)])
        examples.append(Example(task, tuple(story), question, answer, tuple(supporting), where))
    return examples


def parse_file(path: str, task: int = 0) -> list[Example]:
    """Parses one bAbI file (see `parse_lines`); a file without questions is a DataError."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte {raw[error.start : error.start + 1]!r} at offset {error.start}: "
            f"{error.reason}); expected a bAbI task file of 'ID text' lines."
        ) from None
    examples = parse_lines(io.StringIO(text, newline=None), path, task)  # universal newlines, like open()
    if not examples:
        raise DataError(f"{path}: no question lines found; is this a bAbI task file?")
    return examples


def data_folder(tasks: Sequence[int], data_dir: str | None = None, cache_dir: str | None = None) -> str:
    """The folder holding the task files: found in data_dir, or the unpacked, verified official download.

    Args:
        tasks: task numbers, each in 1..20 (the first one's train file locates the folder).
        data_dir: a folder with the task files directly (`qa1_single-supporting-fact_train.txt`, ...) or in
            the archive's layout (`en/...`, `tasks_1-20_v1-2/en/...`). None downloads the archive.
        cache_dir: where a download goes (default: zoo.datasets.default_cache_dir()).
    """
    for task in tasks:
        _check_task(task)
    if data_dir is None:
        return _download_folder(cache_dir)
    name = task_filename(tasks[0], "train")
    candidates = [name, os.path.join("en", name), os.path.join("tasks_1-20_v1-2", "en", name)]
    return os.path.dirname(datasets.find_file(data_dir, candidates, f"bAbI file {name}"))


def load_tasks(tasks: Sequence[int], split: str, folder: str) -> dict[int, list[Example]]:
    """task number -> its examples of `split` ("train" or "test"), in file order, read from `folder`."""
    result = {}
    for task in tasks:
        path = os.path.join(folder, task_filename(task, split))
        if not os.path.exists(path):
            raise DataError(f"{path} is missing: expected the bAbI task {task} {split} file.")
        result[task] = parse_file(path, task)
    return result


def build_vocabulary(examples: Iterable[Example]) -> list[str]:
    """Every token of the stories, questions and answers, sorted, after the nil word at index 0."""
    words: set[str] = set()
    for example in examples:
        for sentence in example.story:
            words.update(sentence)
        words.update(example.question)
        words.add(example.answer)
    return [NIL, *sorted(words)]


def vectorize(
    examples: Sequence[Example], vocabulary: Sequence[str], memory_size: int, sentence_size: int
) -> dict[str, np.ndarray]:
    """Word-id arrays of examples; only the last `memory_size` statements before each question are kept.

    Args:
        examples: the examples.
        vocabulary: the word list (index 0 is the nil word, which pads).
        memory_size: the number of memory slots M.
        sentence_size: the number of word slots S per sentence and question.

    Returns:
        "story": (N, M, S) int32, statements oldest first in slots 0..n-1, nil padded; "query": (N, S) int32;
        "num_sentences": (N,) int32, n; "answer": (N,) int32; "task": (N,) int32.

    Raises:
        DataError: a word outside the vocabulary, or a sentence longer than sentence_size.
    """
    index = {word: i for i, word in enumerate(vocabulary)}
    n = len(examples)
    story = np.zeros((n, memory_size, sentence_size), np.int32)
    query = np.zeros((n, sentence_size), np.int32)
    num_sentences = np.zeros((n,), np.int32)
    answer = np.zeros((n,), np.int32)
    task = np.zeros((n,), np.int32)

    def ids(tokens: Sequence[str], source: str) -> list[int]:
        if len(tokens) > sentence_size:
            raise DataError(
                f"{source}: a sentence has {len(tokens)} words, more than "
                f"sentence_size={sentence_size}; raise model_kwargs['sentence_size']."
            )
        try:
            return [index[t] for t in tokens]
        except KeyError as error:
            raise DataError(f"{source}: word {error.args[0]!r} is not in the vocabulary.") from None

    for row, example in enumerate(examples):
        kept = example.story[-memory_size:]
        for slot, sentence in enumerate(kept):
            word_ids = ids(sentence, example.source)
            story[row, slot, : len(word_ids)] = word_ids
        query_ids = ids(example.question, example.source)
        query[row, : len(query_ids)] = query_ids
        num_sentences[row] = len(kept)
        answer[row] = ids((example.answer,), example.source)[0]
        task[row] = example.task
    return {"story": story, "query": query, "num_sentences": num_sentences, "answer": answer, "task": task}


TIME_NOISE_BLANKS = ("exclusive", "inclusive")


def time_ids(
    num_sentences: np.ndarray,
    memory_size: int,
    rng: np.random.Generator | None = None,
    noise: float = 0.0,
    blanks: str = "exclusive",
) -> np.ndarray:
    """Temporal-encoding ids of each memory slot: 0 for an empty slot, 1 for the newest statement, 2 the one
    before...

    With `noise` > 0 (the paper's random time noise, 0.1), each story of n statements gets nblank empty memories
    inserted at random places in time: the n statements take n distinct, order-preserving times out of
    1..n+nblank, capped at memory_size, so the model cannot rely on exact time gaps. nblank is uniform on
    {0, ..., ceil(noise*n)} with `blanks="inclusive"` (the reference code: train.m's randi([0, ceil(n*0.1)]))
    or on {0, ..., ceil(noise*n) - 1} with "exclusive" (a public Python port's draw, and every MemN2N run here
    before the option existed): then a story of at most 10 statements gets no blank.

    Args:
        num_sentences: (N,) number of statements n in each example.
        memory_size: M; ids are capped at M.
        rng: the generator of the noise; required when noise > 0.
        noise: the fraction of inserted empty memories (0 disables).
        blanks: "exclusive" or "inclusive", the upper end of nblank's range (above).

    Returns:
        (N, M) int32; slot i < n of a row holds statement i (oldest first).
    """
    if blanks not in TIME_NOISE_BLANKS:
        raise ValueError(f"blanks must be one of {TIME_NOISE_BLANKS}; got {blanks!r}.")
    extra = 1 if blanks == "inclusive" else 0
    out = np.zeros((len(num_sentences), memory_size), np.int32)
    for row, n in enumerate(num_sentences):
        n = int(n)
        if n == 0:
            continue
        if noise > 0:
            nblank = int(rng.integers(max(1, math.ceil(n * noise) + extra)))
            times = np.sort(rng.permutation(n + nblank)[:n])[::-1] + 1
        else:
            times = np.arange(n, 0, -1)
        out[row, :n] = np.minimum(times, memory_size)
    return out


def model_inputs(arrays: dict[str, np.ndarray], times: np.ndarray) -> dict[str, np.ndarray]:
    """The model's input dict from `vectorize` arrays and time ids."""
    return {"story": arrays["story"], "query": arrays["query"], "time": times}


class BabiBatches(SeededBatches):
    """Training batches with fresh random time noise: batch i of epoch e depends on (seed, e, i) alone.

    The trainer (zoo.training) calls `set_epoch` before drawing an epoch's batches, so a resumed run sees the
    same batches as an uninterrupted one.

    Args:
        arrays: `vectorize` output.
        batch_size: examples per batch; the last partial batch is kept.
        memory_size: M.
        seed: seeds the per-epoch shuffle and the time noise.
        time_noise: the random time noise fraction (0 disables).
        time_noise_blanks: `time_ids`' blanks, "exclusive" or "inclusive".
    """

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        batch_size: int,
        memory_size: int,
        seed: int,
        time_noise: float,
        time_noise_blanks: str = "exclusive",
    ) -> None:
        super().__init__(batch_size, seed)
        self.arrays = arrays
        self.num_examples = len(arrays["answer"])
        self.memory_size = memory_size
        self.time_noise = time_noise
        self.time_noise_blanks = time_noise_blanks

    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        rows = self.batch_rows(index)
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        times = time_ids(
            self.arrays["num_sentences"][rows], self.memory_size, rng, self.time_noise, self.time_noise_blanks
        )
        return {"story": self.arrays["story"][rows], "query": self.arrays["query"][rows], "time": times}, (
            self.arrays["answer"][rows]
        )


def _check_task(task: int) -> None:
    if isinstance(task, bool) or not isinstance(task, int) or task not in TASK_NAMES:
        raise ValueError(f"bAbI task must be an integer in 1..20; got {task!r}.")


def _download_folder(cache_dir: str | None) -> str:
    """Downloads and unpacks the official archive once; every English 1k file must match FILE_SHA256."""
    cache_dir = cache_dir or datasets.default_cache_dir()
    folder = os.path.join(cache_dir, "babi_tasks_1-20_v1-2_en")
    if os.path.isdir(folder):
        return folder
    archive, errors = None, []
    for url in ARCHIVE_URLS:
        try:
            # No published checksum exists for the archive itself; its content is verified file by file below.
            archive = datasets.download(
                url, "babi_tasks_1-20_v1-2.tar.gz", None, "bAbI v1.2 archive", cache_dir
            )
            break
        except DataError as error:
            errors.append(str(error))
    if archive is None:
        raise DataError(" ".join(errors))
    os.makedirs(cache_dir, exist_ok=True)
    staging = tempfile.mkdtemp(dir=cache_dir, prefix=".babi_en.")
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = member.name.split("/")
                if member.isfile() and len(parts) >= 2 and parts[-2] == "en" and parts[-1] in FILE_SHA256:
                    with tar.extractfile(member) as src, open(os.path.join(staging, parts[-1]), "wb") as dst:
                        shutil.copyfileobj(src, dst)
        for name, expected in FILE_SHA256.items():
            path = os.path.join(staging, name)
            if not os.path.exists(path):
                raise DataError(f"{archive} lacks en/{name}; delete it and retry, or pass --data_dir.")
            datasets.verify_sha256(path, expected, f"bAbI file {name}")
        os.replace(staging, folder)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)
    return folder
