"""Turns a finished Neural Programmer run into a pretrained preset: saved_models/neural_programmer/<preset>.*

    python -m zoo.neural_programmer.preset --workdir=runs/neural_programmer/single_noise/restart_000 \
        --preset=single_column --command="python reproduce.py --model=neural_programmer ..."

The metadata records the exact training command, the run's config and final metrics, the accuracy re-measured
here on freshly generated examples (seed FRESH_SEED, which the preset test regenerates and re-measures) with the
sha256 of those examples' arrays, the sha256 of the copied .keras file, the Keras version, date and machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Any

from absl import app, flags

from zoo.pretrained import define_export_flags, provenance, write_metadata

NAME = "neural_programmer"
FRESH_SEED = 20151116  # the Neural Programmer paper's arXiv date; any seed no training run uses
FRESH_EXAMPLES = 1000

FLAGS = flags.FLAGS


def _define_flags() -> None:
    """Defined only when run as a script, so importing this module (tests do) defines no global flags."""
    define_export_flags("neural_programmer", "single_column")


def fresh_examples(data_kwargs: dict[str, Any], seed: int = FRESH_SEED, num_examples: int = FRESH_EXAMPLES):
    """(x, y, templates) of `num_examples` newly generated test examples shaped like the run's tables."""
    from zoo.neural_programmer import tables

    sizes = {
        key: data_kwargs[key] for key in ("num_rows", "num_columns", "num_text_columns") if key in data_kwargs
    }
    examples = tables.generate_examples(num_examples, seed=seed, split="test", **sizes)
    x, y = tables.encode(examples, data_kwargs.get("max_question_length", 10))
    return x, y, [example.template for example in examples]


def arrays_sha256(*dicts: dict[str, Any]) -> str:
    """sha256 over the arrays of the given dicts (keys sorted), to pin the generated data."""
    digest = hashlib.sha256()
    for arrays in dicts:
        for key in sorted(arrays):
            digest.update(key.encode())
            digest.update(arrays[key].tobytes())
    return digest.hexdigest()


def export(workdir: str, preset: str, command: str, saved_models: str) -> dict[str, Any]:
    """Copies `workdir`/model.keras into the preset folder and writes its metadata; returns the metadata."""
    import keras

    import keras_gradnoise  # noqa: F401 (registers the noisy optimizers for loading)
    from zoo.datasets import sha256_file
    from zoo.neural_programmer.task import evaluate_answers

    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    folder = os.path.join(saved_models, NAME)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{preset}.keras")
    shutil.copyfile(os.path.join(workdir, "model.keras"), target)
    model = keras.saving.load_model(target)
    data_kwargs = results["config"]["data_kwargs"]
    x, y, templates = fresh_examples(data_kwargs)
    fresh = evaluate_answers(model, x, y, templates, prefix="")
    metadata = {
        "model": NAME,
        "preset": preset,
        "file": f"{preset}.keras",
        "sha256": sha256_file(target),
        "command": command,
        "config": results["config"],
        "data": {
            "generator": "zoo.neural_programmer.tables.generate_examples (synthetic)",
            "training": f"seed {results['config']['seed']}, split 'train', {data_kwargs.get('num_train')} examples",
            "fresh_test": f"seed {FRESH_SEED}, split 'test', {FRESH_EXAMPLES} examples",
            "fresh_test_sha256": arrays_sha256(x, y),
        },
        "metrics": results["metrics"],
        "fresh_test_accuracy": fresh["accuracy"],
        "fresh_test_accuracy_by_template": {
            k[len("accuracy_") :]: v for k, v in fresh.items() if k != "accuracy"
        },
        **provenance(results),
    }
    write_metadata(folder, preset, metadata)
    return metadata


def main(argv: list[str]) -> None:
    del argv
    if not FLAGS.workdir or not FLAGS.command:
        raise app.UsageError("--workdir and --command are required.")
    metadata = export(FLAGS.workdir, FLAGS.preset, FLAGS.command, FLAGS.saved_models)
    print(json.dumps({k: metadata[k] for k in ("file", "sha256", "fresh_test_accuracy")}, indent=2))


if __name__ == "__main__":
    _define_flags()
    app.run(main)
