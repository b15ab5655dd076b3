"""Pretrained zoo models: `zoo.load_pretrained("deep_mlp")` loads `saved_models/deep_mlp/<preset>.keras`.

Each preset is a `.keras` file (model and optimizer state) plus a `<preset>.json` beside it holding how it was
made (the exact command, data checksum, measured metrics, keras version, date, machine) and the sha256 of the
`.keras` file, which is checked before loading so a truncated or replaced file is never used silently.
"""

from __future__ import annotations

import json
import os
from typing import Any

from zoo import resources
from zoo.datasets import sha256_file

DEFAULT_PRESET = "default"


def saved_models_dir() -> str:
    """$KERAS_GRADNOISE_SAVED_MODELS, else the installed package's zoo/saved_models/, else the checkout's
    saved_models/ folder (see zoo/resources.py)."""
    return resources.saved_models_dir()


def presets(name: str, root: str | None = None) -> list[str]:
    """The preset names available for model `name` (those with a metadata .json), sorted."""
    folder = os.path.join(root or saved_models_dir(), name)
    if not os.path.isdir(folder):
        return []
    return sorted(f[: -len(".json")] for f in os.listdir(folder) if f.endswith(".json"))


def default_preset(name: str, root: str | None = None) -> str:
    """The preset `load_pretrained(name)` loads: "default" if it exists, else the one the model's registry entry
    declares (`ZooEntry.default_preset`) if it exists, else the only preset; otherwise "default" (whose absence
    then raises an error listing the available presets)."""
    from zoo import registry

    available = presets(name, root)
    if DEFAULT_PRESET in available:
        return DEFAULT_PRESET
    declared = getattr(registry.get(name), "default_preset", None)
    if declared in available:
        return declared
    if len(available) == 1:
        return available[0]
    return DEFAULT_PRESET


def read_metadata(name: str, preset: str | None = None, root: str | None = None) -> dict[str, Any]:
    """The metadata dict of a preset (see the module docstring); ValueError naming the available presets."""
    preset = preset or default_preset(name, root)
    folder = os.path.join(root or saved_models_dir(), name)
    path = os.path.join(folder, f"{preset}.json")
    if not os.path.exists(path):
        available = presets(name, root)
        listing = ", ".join(available) if available else "none"
        raise ValueError(
            f"No pretrained preset {preset!r} for model {name!r} ({path} is missing). Available: {listing}."
        )
    with open(path) as f:
        try:
            metadata = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error.msg}).") from None
    if not isinstance(metadata.get("sha256"), str):
        raise ValueError(f'{path} has no "sha256" of the .keras file; the preset\'s metadata is incomplete.')
    return metadata


def load_pretrained(
    name: str, preset: str | None = None, *, root: str | None = None, compile: bool = True
) -> Any:
    """Loads a pretrained zoo model after checking its file's sha256 against the preset's metadata.

    Args:
        name: the zoo model name, e.g. "deep_mlp".
        preset: the preset name (a `<preset>.json` under saved_models/<name>/); None means "default", or the
            only preset when there is exactly one.
        root: the saved_models folder; None means `saved_models_dir()`.
        compile: load the optimizer state and compiled loss/metrics too (default), so training can continue.

    Returns:
        The loaded keras.Model.

    Raises:
        ValueError: an unknown model, a missing preset (the message lists the available ones), a missing
            .keras file, or a sha256 mismatch.
    """
    from zoo import registry

    registry.get(name)  # an unknown name lists the known ones, and registers the model's classes for loading
    preset = preset or default_preset(name, root)
    metadata = read_metadata(name, preset, root)
    path = os.path.join(root or saved_models_dir(), name, metadata.get("file", f"{preset}.keras"))
    if not os.path.exists(path):
        raise ValueError(f"Pretrained file {path} is missing (named by the {preset!r} preset of {name!r}).")
    actual = sha256_file(path)
    if actual != metadata["sha256"]:
        raise ValueError(
            f"{path} does not match its metadata: sha256 {actual}, expected {metadata['sha256']}. The file is "
            "corrupt or was replaced; restore it (e.g. git checkout) or retrain with the command in the .json."
        )
    import keras

    import keras_gradnoise  # noqa: F401 (registers the noisy optimizer classes for deserialization)

    return keras.saving.load_model(path, compile=compile)


def provenance(results: dict[str, Any]) -> dict[str, Any]:
    """The metadata every preset records about where it came from: wall time, Keras, backend, date, machine."""
    import datetime
    import platform

    import keras

    return {
        "wall_seconds": results.get("wall_seconds"),
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": results.get("machine")
        or f"{platform.node()} {platform.machine()} ({os.cpu_count()} CPUs)",
    }


def write_metadata(folder: str, preset: str, metadata: dict[str, Any]) -> None:
    """Writes `<folder>/<preset>.json` atomically, so a crash never leaves metadata that fails to parse."""
    from zoo.checkpoint import atomic_write_json

    atomic_write_json(os.path.join(folder, f"{preset}.json"), metadata)


def define_export_flags(name: str, default_preset: str | None) -> None:
    """Defines the flags every `python -m zoo.<model>.preset` export script takes (call it only from `__main__`)."""
    from absl import flags

    flags.DEFINE_string(
        "workdir", None, "A finished train.py / reproduce.py run (with model.keras, results.json)."
    )
    flags.DEFINE_string(
        "preset", default_preset, f"Preset name: writes saved_models/{name}/<preset>.keras/.json."
    )
    flags.DEFINE_string("command", None, "The exact command that trained the run, for the metadata.")
    flags.DEFINE_string("saved_models", "saved_models", "The saved_models folder.")
