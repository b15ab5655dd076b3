"""How far the gradient noise moved each parameter group of a ResNet: two finished runs of the same seed compared.

    python benchmarks/resnet_displacement.py --plain=RUNS/baseline_no_noise/restart_000 \
        --noisy=RUNS/eta0.05_noise/restart_000 [--noisy=RUNS/eta0.05_noise_nobn/restart_000 ...] [--json=OUT]

Both runs start from the same initialization and see the same batches (same seed), so the difference of their
final weights is what the noise (and the different trajectory it causes) did. For each group (conv kernels,
BatchNorm gamma, BatchNorm beta, classifier kernel, classifier bias) it prints the RMS of that difference beside
the RMS of the plain run's weights. Reads the runs' model.keras files; trains nothing.
"""

from __future__ import annotations

import json
import os

import numpy as np
from absl import app, flags

GROUPS = {
    "conv kernels": lambda path: path.endswith("_conv/kernel"),
    "BatchNorm gamma": lambda path: path.endswith("/gamma"),
    "BatchNorm beta": lambda path: path.endswith("/beta"),
    "classifier kernel": lambda path: path == "logits/kernel",
    "classifier bias": lambda path: path == "logits/bias",
}


def weights_by_path(workdir: str) -> dict[str, np.ndarray]:
    """The trainable weights of a run's model.keras, by variable path."""
    import keras

    import zoo

    with open(os.path.join(workdir, "config.json")) as f:
        zoo.get(json.load(f)["model"])  # registers the model's classes
    model = keras.saving.load_model(os.path.join(workdir, "model.keras"), compile=False)
    return {v.path: keras.ops.convert_to_numpy(v) for v in model.trainable_variables}


def displacement(plain: dict[str, np.ndarray], noisy: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per group: RMS of (noisy - plain), RMS of plain, and the group's parameter count."""
    if set(plain) != set(noisy):
        raise ValueError("The two runs have different variables; compare runs of the same config and model.")
    table = {}
    for group, member in GROUPS.items():
        paths = [path for path in plain if member(path)]
        if not paths:
            continue
        difference = np.concatenate([(noisy[p] - plain[p]).ravel() for p in paths])
        reference = np.concatenate([plain[p].ravel() for p in paths])
        table[group] = {
            "rms_difference": float(np.sqrt(np.mean(difference**2))),
            "rms_plain": float(np.sqrt(np.mean(reference**2))),
            "parameters": int(difference.size),
        }
    return table


FLAGS = flags.FLAGS


def define_flags() -> None:
    """The benchmark's flags (absl, as the scripts')."""
    flags.DEFINE_string("plain", None, "Workdir of the run without noise.", required=True)
    flags.DEFINE_multi_string(
        "noisy", None, "Workdir(s) of noisy runs, same seed (repeatable).", required=True
    )
    flags.DEFINE_string("json", None, "Also write the numbers to this JSON file.")


def main(argv: list[str]) -> None:
    """Prints the per-group displacement of each noisy run from the plain one."""
    del argv
    plain = weights_by_path(FLAGS.plain)
    results = {}
    for noisy in FLAGS.noisy:
        results[noisy] = displacement(plain, weights_by_path(noisy))
        print(f"\n{noisy} vs {FLAGS.plain}")
        print(
            "| group | parameters | RMS of the difference | RMS of the plain run's weights |\n|---|---|---|---|"
        )
        for group, row in results[noisy].items():
            print(f"| {group} | {row['parameters']} | {row['rms_difference']:.4g} | {row['rms_plain']:.4g} |")
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump({"plain": FLAGS.plain, "noisy": results}, f, indent=1)


if __name__ == "__main__":
    define_flags()
    app.run(main)
