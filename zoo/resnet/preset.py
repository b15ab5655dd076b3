"""Turns a finished resnet34 run into the pretrained preset saved_models/resnet34/<preset>.keras + .json.

    python -m zoo.resnet.preset --workdir=RUN_DIR --preset=default --command="python reproduce.py ..."

The metadata holds the exact command that trained the run, the sha256 of the CIFAR-10 file it trained on, the
run's final metrics, the predictions re-measured here on the real-pixel fixture tests/fixtures/cifar10_tiny.npz
(which the preset test compares against), the sha256 of the copied .keras file, the Keras version, the date and
the machine.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import numpy as np
from absl import app, flags

from zoo.pretrained import define_export_flags, provenance, write_metadata

FIXTURE_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "cifar10_tiny.npz")

FLAGS = flags.FLAGS


def _define_flags() -> None:
    """Defined only when run as a script, so importing this module (tests do) defines no global flags."""
    define_export_flags("resnet", "default")


def fixture_predictions(model: Any) -> list[int]:
    """The model's predicted classes for the 32 test images of the CIFAR-10 fixture."""
    with np.load(os.path.normpath(FIXTURE_PATH)) as data:
        images = data["x_test"].astype("float32")
    return [int(c) for c in np.argmax(model.predict(images, batch_size=32, verbose=0), axis=1)]


def export(workdir: str, preset: str, command: str, saved_models: str) -> dict[str, Any]:
    """Copies `workdir`/model.keras into saved_models/resnet34/ and writes its metadata.

    Args:
        workdir: the finished run (model.keras and results.json).
        preset: the preset name.
        command: the exact command that trained the run.
        saved_models: the saved_models folder.

    Returns:
        The metadata written to `<preset>.json`.
    """
    import keras

    import keras_gradnoise  # noqa: F401 (registers the noisy optimizers for loading)
    from zoo.datasets import sha256_file

    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    folder = os.path.join(saved_models, "resnet34")
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{preset}.keras")
    shutil.copyfile(os.path.join(workdir, "model.keras"), target)
    model = keras.saving.load_model(target)
    predictions = fixture_predictions(model)
    with np.load(os.path.normpath(FIXTURE_PATH)) as data:
        labels = data["y_test"].astype(int)
    metadata = {
        "model": "resnet34",
        "preset": preset,
        "file": f"{preset}.keras",
        "sha256": sha256_file(target),
        "command": command,
        "config": results["config"],
        "data": results.get("data_info", {}),
        "metrics": results["metrics"],
        "parameters": model.count_params(),
        "fixture_predictions": predictions,
        "fixture_test_accuracy": float(np.mean(np.array(predictions) == labels)),
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
