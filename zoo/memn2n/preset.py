"""Turns a finished MemN2N run into a pretrained preset: saved_models/memn2n/<preset>.keras and .json.

    python -m zoo.memn2n.preset --workdir=runs/memn2n/two_stage_noise_eta1/restart_000 --preset=joint \
        --command="python reproduce.py --model=memn2n --config=joint_cpu ..." --data_dir=../shared/data/babi/en

The metadata records the exact command, the bAbI files' sha256, the run's final metrics, the per-task test
errors re-measured here from the copied file (which the preset test compares against), the error on the
shipped fixture questions, the vocabulary, the sha256 of the .keras file, the Keras version, date and machine.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import numpy as np
from absl import app, flags

from zoo.pretrained import define_export_flags, provenance, write_metadata

FLAGS = flags.FLAGS


def _define_flags() -> None:
    """Defined only when run as a script, so importing this module (tests do) defines no global flags."""
    define_export_flags("memn2n", "joint")
    flags.DEFINE_string("data_dir", None, "The bAbI files the run used, to re-measure the test errors.")


def measure_test_errors(model: Any, tasks: list[int], folder: str) -> dict[int, float]:
    """task -> test error of `model` on the test file of that task in `folder` (no time noise)."""
    from zoo.memn2n import babi, task_errors

    layer = model.get_layer("memn2n")
    examples = babi.load_tasks(tasks, "test", folder)
    arrays = babi.vectorize(
        [e for t in tasks for e in examples[t]],
        babi.BABI_EN_VOCABULARY,
        layer.memory_size,
        layer.sentence_size,
    )
    return task_errors(model, arrays)


def export(workdir: str, preset: str, command: str, data_dir: str, saved_models: str) -> dict[str, Any]:
    """Copies `workdir`/model.keras into the preset folder and writes its metadata; returns the metadata."""
    import keras

    import keras_gradnoise  # noqa: F401 (registers the noisy optimizers for loading)
    from zoo.datasets import sha256_file
    from zoo.memn2n import FIXTURE_DIR, babi

    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    tasks = results["data_info"]["tasks"]
    folder = os.path.join(saved_models, "memn2n")
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{preset}.keras")
    shutil.copyfile(os.path.join(workdir, "model.keras"), target)
    model = keras.saving.load_model(target)
    remeasured = measure_test_errors(model, tasks, babi.data_folder(tasks, data_dir))
    metadata = {
        "model": "memn2n",
        "preset": preset,
        "file": f"{preset}.keras",
        "sha256": sha256_file(target),
        "command": command,
        "config": results["config"],
        "data": {
            "dataset": "bAbI v1.2, English, 1k",
            "tasks": tasks,
            "sha256": results["data_info"]["sha256"],
            "official_files": results["data_info"]["official_files"],
            "num_train": results["data_info"]["num_train"],
            "num_val": results["data_info"]["num_val"],
            "num_test": results["data_info"]["num_test"],
        },
        "vocabulary": list(babi.BABI_EN_VOCABULARY),
        "metrics": results["metrics"],
        "remeasured_test_error": {f"qa{t}": e for t, e in remeasured.items()},
        "remeasured_mean_test_error": float(np.mean(list(remeasured.values()))),
        "fixture_test_error_qa1": measure_test_errors(model, [1], FIXTURE_DIR)[1],
        **provenance(results),
    }
    write_metadata(folder, preset, metadata)
    return metadata


def main(argv: list[str]) -> None:
    del argv
    if not FLAGS.workdir or not FLAGS.command or not FLAGS.data_dir:
        raise app.UsageError("--workdir, --command and --data_dir are required.")
    metadata = export(FLAGS.workdir, FLAGS.preset, FLAGS.command, FLAGS.data_dir, FLAGS.saved_models)
    keys = ("file", "sha256", "remeasured_mean_test_error", "fixture_test_error_qa1")
    print(json.dumps({k: metadata[k] for k in keys}, indent=2))


if __name__ == "__main__":
    _define_flags()
    app.run(main)
