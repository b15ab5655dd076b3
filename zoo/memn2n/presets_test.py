"""The shipped MemN2N preset beyond the checks of every preset (zoo/pretrained_test.py): its vocabulary and data
checksums, the fixture metric recounted from the answers in the fixture's text, and (where ../shared/data holds
the official bAbI test sets) its recorded per-task errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from zoo import pretrained
from zoo.memn2n import babi
from zoo.memn2n.babi import BABI_EN_VOCABULARY, FILE_SHA256
from zoo.memn2n.data import FIXTURE_DIR, task_errors
from zoo.memn2n.presets import SAMPLE_QUESTIONS, fixture_error

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
SHARED_BABI = os.path.join(REPO, "..", "shared", "data", "babi", "en")
# Round-off on another CPU may flip a borderline question: allow 2 of each task's 1,000 test questions to differ
# from the recorded measurement.
TASK_TOLERANCE = 0.002


@pytest.fixture(scope="module")
def metadata() -> dict:
    return pretrained.read_metadata("memn2n", "joint")


@pytest.fixture(scope="module")
def model():
    return pretrained.load_pretrained("memn2n", "joint")


def test_preset_records_its_vocabulary_and_the_official_files(metadata, model):
    assert metadata["vocabulary"] == list(BABI_EN_VOCABULARY)
    assert metadata["data"]["official_files"] is True
    assert metadata["data"]["sha256"] == FILE_SHA256
    assert model.get_layer("memn2n").get_config()["embedding_dim"] == 20
    assert float(model.get_layer("memn2n").use_softmax) == 1.0  # trained past the linear start


def test_the_fixture_metric_agrees_with_the_answers_in_the_fixture_text(metadata, model):
    answers = []
    for split in ("train", "test"):
        with open(os.path.join(FIXTURE_DIR, f"qa1_single-supporting-fact_{split}.txt")) as f:
            answers += [line.split("\t")[1] for line in f if "\t" in line]
    layer = model.get_layer("memn2n")
    examples = [e for split in ("train", "test") for e in babi.load_tasks([1], split, FIXTURE_DIR)[1]]
    arrays = babi.vectorize(examples, BABI_EN_VOCABULARY, layer.memory_size, layer.sentence_size)
    logits = model.predict(
        babi.model_inputs(arrays, babi.time_ids(arrays["num_sentences"], layer.memory_size))
    )
    said = [metadata["vocabulary"][i] for i in np.argmax(logits, axis=-1)]
    assert len(said) == len(answers) == SAMPLE_QUESTIONS  # 90 training and 15 test questions
    by_hand = float(np.mean([a != b for a, b in zip(said, answers)]))
    assert fixture_error(model, pretrained.run_config(metadata)) == pytest.approx(by_hand)


@pytest.mark.skipif(not os.path.isdir(SHARED_BABI), reason="needs the bAbI copy in ../shared/data/babi/en")
def test_preset_remeasures_on_the_full_test_sets(metadata, model):
    recorded = metadata["remeasured_test_error"]
    layer = model.get_layer("memn2n")
    tasks = list(range(1, 21))
    examples = babi.load_tasks(tasks, "test", SHARED_BABI)
    arrays = babi.vectorize(
        [e for t in tasks for e in examples[t]], BABI_EN_VOCABULARY, layer.memory_size, layer.sentence_size
    )
    for task, error in task_errors(model, arrays).items():
        assert abs(error - recorded[f"qa{task}"]) <= TASK_TOLERANCE, task
