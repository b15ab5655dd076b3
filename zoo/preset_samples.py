"""Measures a shipped preset on the sample data this repository ships, and records the number in its metadata.

    python -m zoo.preset_samples --model=memn2n --preset=joint --write
    python -m zoo.preset_samples --model=resnet34 --preset=default --write

The samples are the test fixtures, so the check runs everywhere, without ../shared/data:

- memn2n: every qa1 question of tests/fixtures/babi (the first 90 training and 15 test questions of the official
  qa1 files); the metric is the error (fraction of wrong answers).
- resnet34: every image of tests/fixtures/cifar10_tiny.npz (64 training and 32 test images of CIFAR-10); the
  metric is the accuracy.

With `--write` the measurement goes into saved_models/<model>/<preset>.json as "shipped_sample" (data, examples,
metric, value, the command, date, Keras version, machine); the .keras file is not touched. It is measured once,
when a preset is made or replaced. The preset tests re-measure the preset on the same sample by hand and compare,
and show that an untrained model of the preset's config fails the same comparison.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
BABI_FIXTURE = os.path.join(FIXTURES, "babi")
CIFAR_FIXTURE = os.path.join(FIXTURES, "cifar10_tiny.npz")


def memn2n_sample_error(model: Any) -> tuple[float, int]:
    """(error, questions) of a MemN2N model on all qa1 questions of the bAbI fixture (train and test files)."""
    from zoo.memn2n import babi, task_errors

    layer = model.get_layer("memn2n")
    examples = [
        example for split in ("train", "test") for example in babi.load_tasks([1], split, BABI_FIXTURE)[1]
    ]
    arrays = babi.vectorize(examples, babi.BABI_EN_VOCABULARY, layer.memory_size, layer.sentence_size)
    return task_errors(model, arrays)[1], len(examples)


def resnet34_sample_accuracy(model: Any) -> tuple[float, int]:
    """(accuracy, images) of a CIFAR-10 classifier on all images of the CIFAR-10 fixture (train and test)."""
    with np.load(CIFAR_FIXTURE) as data:
        images = np.concatenate([data["x_train"], data["x_test"]]).astype("float32")
        labels = np.concatenate([data["y_train"], data["y_test"]]).astype(int).ravel()
    predicted = np.argmax(model.predict(images, batch_size=32, verbose=0), axis=1)
    return float(np.mean(predicted == labels)), len(labels)


def tolerance(examples: int) -> float:
    """How far a re-measurement on the same sample may move: 1 % of its examples, at least one.

    The sample and the weights are fixed, so only float round-off on another CPU or BLAS can change the result, by
    flipping an example whose two best answers are nearly tied; a few such examples in a hundred is already a
    lot. Returned as a fraction of the sample.
    """
    return max(1, -(-examples // 100)) / examples


# model -> (metric name, what the sample is, measuring function)
SAMPLES: dict[str, tuple[str, str, Callable[[Any], tuple[float, int]]]] = {
    "memn2n": (
        "error",
        "tests/fixtures/babi: all qa1 questions (the first 90 training and 15 test questions of the official "
        "files; the training ones were in the preset's training set)",
        memn2n_sample_error,
    ),
    "resnet34": (
        "accuracy",
        "tests/fixtures/cifar10_tiny.npz: all 96 images (64 from CIFAR-10's training split, 32 from its test "
        "split)",
        resnet34_sample_accuracy,
    ),
}


def measure(model_name: str, preset: str) -> dict[str, Any]:
    """The "shipped_sample" record of a preset: the metric measured now on its model's shipped sample."""
    import keras

    from zoo.pretrained import load_pretrained

    metric, data, function = SAMPLES[model_name]
    value, examples = function(load_pretrained(model_name, preset))
    return {
        "data": data,
        "examples": examples,
        "metric": metric,
        "value": value,
        "command": f"python -m zoo.preset_samples --model={model_name} --preset={preset} --write",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "keras_version": keras.__version__,
        "machine": f"{platform.node()} {platform.machine()} ({os.cpu_count()} CPUs)",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, choices=sorted(SAMPLES))
    parser.add_argument("--preset", required=True)
    parser.add_argument(
        "--write", action="store_true", help="record it in saved_models/<model>/<preset>.json"
    )
    args = parser.parse_args(argv)
    record = measure(args.model, args.preset)
    print(json.dumps(record, indent=2))
    if args.write:
        from zoo.pretrained import read_metadata, saved_models_dir, write_metadata

        metadata = read_metadata(args.model, args.preset)
        metadata["shipped_sample"] = record
        write_metadata(os.path.join(saved_models_dir(), args.model), args.preset, metadata)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
