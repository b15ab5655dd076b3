"""Turns a finished deep_mlp run into a pretrained preset: saved_models/deep_mlp/<preset>.keras and .json.

    python -m zoo.deep_mlp.preset --workdir=runs/deep_mlp_pretrained --preset=default \
        --command="python train.py --model=deep_mlp --config=default --epochs=20 ..."

The metadata records the exact training command, the data's checksums, the run's final metrics, the accuracy
re-measured here on the shipped 100-image test fixture (which the preset test compares against), the sha256 of
the copied .keras file, the Keras version, the date and the machine.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from absl import app, flags

from zoo.pretrained import define_export_flags, provenance, write_metadata

FLAGS = flags.FLAGS


def _define_flags() -> None:
    """Defined only when run as a script, so importing this module (tests do) defines no global flags."""
    define_export_flags("deep_mlp", "default")


def fixture_accuracy(model: Any) -> float:
    """Accuracy of `model` on the 100 test images of tests/fixtures/mnist_tiny.npz."""
    from zoo.datasets import read_mnist_npz
    from zoo.deep_mlp.data import FIXTURE_PATH, accuracy

    arrays = read_mnist_npz(os.path.normpath(FIXTURE_PATH))
    return accuracy(model, arrays["x_test"], arrays["y_test"])


def export(workdir: str, preset: str, command: str, saved_models: str) -> dict[str, Any]:
    """Copies `workdir`/model.keras to the preset folder and writes its metadata; returns the metadata."""
    import keras

    import keras_gradnoise  # noqa: F401 (registers the noisy optimizers for loading)
    from zoo.datasets import sha256_file

    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    folder = os.path.join(saved_models, "deep_mlp")
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{preset}.keras")
    shutil.copyfile(os.path.join(workdir, "model.keras"), target)
    model = keras.saving.load_model(target)
    info = results.get("data_info", {})
    metadata = {
        "model": "deep_mlp",
        "preset": preset,
        "file": f"{preset}.keras",
        "sha256": sha256_file(target),
        "command": command,
        "config": results["config"],
        "data": {
            "dataset": info.get("dataset", "MNIST"),
            "checksum": "md5 of each array's IDX encoding (equal to the official IDX files' md5s)",
            "content_md5": info.get("content_md5"),
            "train_examples": info.get("train_examples"),
            "test_examples": info.get("test_examples"),
        },
        "metrics": results["metrics"],
        "fixture_test_accuracy": fixture_accuracy(model),
        **provenance(results),
    }
    write_metadata(folder, preset, metadata)
    return metadata


def main(argv: list[str]) -> None:
    del argv
    if not FLAGS.workdir or not FLAGS.command:
        raise app.UsageError("--workdir and --command are required.")
    metadata = export(FLAGS.workdir, FLAGS.preset, FLAGS.command, FLAGS.saved_models)
    print(json.dumps({k: metadata[k] for k in ("file", "sha256", "fixture_test_accuracy")}, indent=2))


if __name__ == "__main__":
    _define_flags()
    app.run(main)
