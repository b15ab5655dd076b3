"""Turns a finished NRAM run into a pretrained preset: saved_models/nram/<preset>.keras and <preset>.json.

    python -m zoo.nram.preset --workdir=runs/nram_access --preset=access \
        --command="python train.py --model=nram --config=access --workdir=runs/nram_access"

The metadata records the exact training command, the run's config and final metrics, the accuracy re-measured
here on `--examples` fresh examples at the config's difficulty (seeded by RECHECK_SEED, apart from every
training and test stream), the sha256 of the copied .keras file, the Keras version, the date and the machine.
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
    define_export_flags("nram", None)
    flags.DEFINE_integer("examples", 2000, "Fresh examples of the re-measurement.")


RECHECK_SEED = 31_337


def remeasure(
    model: Any, config: dict[str, Any], examples: int, seed: int = RECHECK_SEED
) -> dict[str, float]:
    """Cell and example accuracy of `model` on fresh examples of the run's task at its final difficulty.

    Args:
        model: a loaded NRAM.
        config: the run's TrainConfig as a dict (results.json "config").
        examples: number of fresh examples.
        seed: seeds them.

    Returns:
        {"cell_accuracy", "example_accuracy", "examples", "seed", "task", "difficulty"}.
    """
    from zoo.config import TrainConfig
    from zoo.nram import data_settings
    from zoo.nram.curriculum import measure

    settings = data_settings(TrainConfig(**config))
    result = measure(model, settings["task"], settings["difficulty"], settings["memory_size"], examples, seed)
    return {
        **result,
        "examples": examples,
        "seed": seed,
        "task": settings["task"],
        "difficulty": settings["difficulty"],
    }


def export(workdir: str, preset: str, command: str, saved_models: str, examples: int) -> dict[str, Any]:
    """Copies `workdir`/model.keras to the preset folder and writes its metadata; returns the metadata."""
    import keras

    import keras_gradnoise  # noqa: F401 (registers the noisy optimizers for loading)
    import zoo.nram  # noqa: F401 (registers the NRAM classes for loading)
    from zoo.datasets import sha256_file

    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    folder = os.path.join(saved_models, "nram")
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{preset}.keras")
    shutil.copyfile(os.path.join(workdir, "model.keras"), target)
    model = keras.saving.load_model(target)
    metadata = {
        "model": "nram",
        "preset": preset,
        "file": f"{preset}.keras",
        "sha256": sha256_file(target),
        "command": command,
        "config": results["config"],
        "data": {"generated": "numpy task generators of zoo/nram/tasks.py; no dataset files"},
        "metrics": results["metrics"],
        "remeasured": remeasure(model, results["config"], examples),
        **provenance(results),
    }
    write_metadata(folder, preset, metadata)
    return metadata


def main(argv: list[str]) -> None:
    del argv
    if not FLAGS.workdir or not FLAGS.command or not FLAGS.preset:
        raise app.UsageError("--workdir, --preset and --command are required.")
    metadata = export(FLAGS.workdir, FLAGS.preset, FLAGS.command, FLAGS.saved_models, FLAGS.examples)
    print(json.dumps({k: metadata[k] for k in ("file", "sha256", "remeasured")}, indent=2))


if __name__ == "__main__":
    _define_flags()
    app.run(main)
