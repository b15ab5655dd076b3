"""Pretrained zoo models: `zoo.load_pretrained("deep_mlp")` loads `saved_models/deep_mlp/<preset>.keras`.

Each preset is a `.keras` file (model and optimizer state) plus a `<preset>.json` beside it holding how it was
made (the exact command, data checksum, measured metrics, keras version, date, machine) and the sha256 of the
`.keras` file, which is checked before loading so a truncated or replaced file is never used silently.

Each family declares its presets as data (`Preset`, in zoo/<family>/presets.py, listed in its ENTRY): the file, the
command that made it and the fixture metric (where the metadata records it, and the function that re-measures it
on data the repository ships). One exporter turns a finished run into a preset, and re-measures a shipped one:

    python -m zoo.pretrained export --model=deep_mlp --preset=default --workdir=runs/deep_mlp_pretrained \
        --command="python train.py --model=deep_mlp --config=default --epochs=20 ..."
    python -m zoo.pretrained measure --model=nram --preset=access
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any

from zoo import resources
from zoo.config import TrainConfig
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
    chosen = getattr(registry.get(name), "default_preset", None)
    if chosen in available:
        return chosen
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


@dataclasses.dataclass(frozen=True)
class Preset:
    """A pretrained model the zoo ships: saved_models/<model>/<file> and its metadata saved_models/<model>/<name>.json.

    Args:
        name: the preset's name (`zoo.load_pretrained(model, name)`).
        model: the registry name of its model.
        command: the exact command that trained the run it was exported from (its metadata records the same).
        metric: where the metadata records the fixture metric, a key or a dotted path of keys
            ("fixture_test_accuracy", "shipped_sample.value").
        measure: `measure(model, config)` -> that metric, measured on data the repository ships or generates from
            a fixed seed; `model` is the loaded preset (or, in the tests' control, an untrained model) and `config`
            the run's TrainConfig.
        tolerance: how far a re-measurement may move from the recorded value: only float round-off on another CPU
            or BLAS can move it, by flipping a borderline example.
        file: the `.keras` file's name in saved_models/<model>/; default `<name>.keras`.
    """

    name: str
    model: str
    command: str
    metric: str
    measure: Callable[[Any, TrainConfig], float]
    tolerance: float
    file: str = ""

    def __post_init__(self) -> None:
        if not self.file:
            object.__setattr__(self, "file", f"{self.name}.keras")

    @property
    def path(self) -> str:
        """The `.keras` file relative to the saved_models folder."""
        return f"{self.model}/{self.file}"

    def recorded(self, metadata: dict[str, Any]) -> float:
        """The fixture metric recorded in `metadata` (a KeyError names the missing key)."""
        value: Any = metadata
        for key in self.metric.split("."):
            value = value[key]
        return float(value)


def sample_tolerance(examples: int) -> float:
    """A re-measurement's tolerance on a sample of `examples`: 1 % of them, at least one, as a fraction.

    The sample and the weights are fixed, so only float round-off can flip an example whose two best answers are
    nearly tied; a few such examples in a hundred is already a lot.
    """
    return max(1, -(-examples // 100)) / examples


def declared(name: str, preset: str) -> Preset:
    """The `Preset` model `name` declares as `preset`; ValueError listing the declared ones."""
    from zoo import registry

    presets = {p.name: p for p in registry.get(name).presets}
    if preset not in presets:
        raise ValueError(
            f"Model {name!r} declares no preset {preset!r}. Declared: {', '.join(sorted(presets)) or 'none'}."
        )
    return presets[preset]


def all_declared() -> list[Preset]:
    """Every preset every registered model declares, by model then name."""
    from zoo import registry

    return [p for name in registry.names() for p in sorted(registry.get(name).presets, key=lambda p: p.name)]


def run_config(metadata: dict[str, Any]) -> TrainConfig:
    """The TrainConfig of the run a preset's metadata (or a results.json) records; fields added since default."""
    return TrainConfig(**TrainConfig.with_defaults(metadata["config"]))


def measure(preset: Preset, root: str | None = None) -> tuple[float, float]:
    """(re-measured, recorded) fixture metric of a shipped preset, loaded through its sha256 check."""
    metadata = read_metadata(preset.model, preset.name, root)
    model = load_pretrained(preset.model, preset.name, root=root)
    return preset.measure(model, run_config(metadata)), preset.recorded(metadata)


def export(preset: Preset, workdir: str, command: str, saved_models: str | None = None) -> dict[str, Any]:
    """Copies `workdir`/model.keras to saved_models/<model>/<file> and writes its metadata; returns the metadata.

    Args:
        preset: the declaration (which model, file and fixture metric).
        workdir: a finished train.py / reproduce.py run (model.keras, results.json).
        command: the exact command that trained the run.
        saved_models: the saved_models folder (default `saved_models_dir()`).

    Returns:
        The metadata: model, preset, file, sha256, command, config, data (the run's data_info), metrics, the
        fixture metric at `preset.metric`, and `provenance`.
    """
    import keras

    from zoo import registry

    registry.get(preset.model)  # registers the model's classes for loading
    import keras_gradnoise  # noqa: F401 (registers the noisy optimizers for loading)

    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    folder = os.path.join(saved_models or saved_models_dir(), preset.model)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, preset.file)
    # Loaded and measured from a copy beside the target, which replaces the shipped file only once that worked:
    # a failed export leaves the shipped .keras and its metadata (sha256) matching.
    staged = f"{target}.export.keras"
    shutil.copyfile(os.path.join(workdir, "model.keras"), staged)
    try:
        model = keras.saving.load_model(staged)
        measured = preset.measure(model, run_config(results))
        metadata: dict[str, Any] = {
            "model": preset.model,
            "preset": preset.name,
            "file": preset.file,
            "sha256": sha256_file(staged),
            "command": command,
            "config": results["config"],
            "data": results.get("data_info", {}),
            "metrics": results["metrics"],
        }
        *parents, last = preset.metric.split(".")
        record = metadata
        for key in parents:
            record = record.setdefault(key, {})
        record[last] = measured
        metadata.update(provenance(results))
        os.replace(staged, target)
    finally:
        if os.path.exists(staged):  # anything failed before the replace: no staged copy left behind
            os.remove(staged)
    write_metadata(folder, preset.name, metadata)
    return metadata


def _define_flags() -> None:
    """The exporter's flags; defined only when it runs as a program, so importing this module defines none."""
    from absl import flags

    flags.DEFINE_string("model", None, "The zoo model, e.g. deep_mlp.")
    flags.DEFINE_string("preset", None, "A preset the model declares (zoo/<family>/presets.py).")
    flags.DEFINE_string(
        "workdir", None, "export: a finished train.py / reproduce.py run (with model.keras, results.json)."
    )
    flags.DEFINE_string(
        "command", None, "export: the exact command that trained the run; default: the preset's declared one."
    )
    flags.DEFINE_string(
        "saved_models",
        None,
        "export: the saved_models folder; default: this checkout's (or the installed) one.",
    )


def _main(argv: list[str]) -> None:
    from absl import flags

    from zoo import cli

    values = flags.FLAGS
    try:
        if len(argv) != 2 or argv[1] not in ("export", "measure"):
            raise ValueError(
                "give one command: export or measure (e.g. python -m zoo.pretrained export --model=...)."
            )
        if not values.model or not values.preset:
            raise ValueError("--model and --preset are required.")
        preset = declared(values.model, values.preset)
        if argv[1] == "measure":
            value, recorded = measure(preset)
            print(json.dumps({"metric": preset.metric, "measured": value, "recorded": recorded}))
            return
        if not values.workdir:
            raise ValueError("export needs --workdir (the finished run).")
        metadata = export(preset, values.workdir, values.command or preset.command, values.saved_models)
    except ValueError as error:
        cli.fail("zoo.pretrained", str(error))
    print(
        json.dumps(
            {"file": metadata["file"], "sha256": metadata["sha256"], preset.metric: preset.recorded(metadata)}
        )
    )


def run() -> None:
    """`python -m zoo.pretrained export|measure --model=... --preset=...` (see the module docstring)."""
    from absl import app

    from zoo import cli

    own = ("model", "preset", "workdir", "command", "saved_models")
    _define_flags()
    app.run(_main, flags_parser=cli.flags_parser("zoo.pretrained", own))


if __name__ == "__main__":
    # Run the imported module's code, whose Preset class the families' declarations use (not a __main__ copy).
    from zoo import pretrained

    sys.exit(pretrained.run())
