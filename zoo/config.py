"""The one configuration object every zoo run is described by.

A `TrainConfig` holds everything that determines a training run: which model, its constructor arguments, its data
arguments, the optimizer, the gradient-noise settings and the training length. Each model folder defines named
configs (`smoke`, `default`, `paper`) as functions returning a `TrainConfig`; `train.py` flags override fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any


@dataclasses.dataclass
class TrainConfig:
    """A complete, JSON-serializable description of one training run.

    Args:
        model: registry name of the model (`zoo.names()` lists them).
        model_kwargs: keyword arguments of the model's builder; all end up in the model's `get_config`.
        data_kwargs: keyword arguments of the model's data pipeline (task difficulty, lengths, dataset size).
        optimizer: "sgd", "adam" or any `keras.optimizers` name ("adamw", "rmsprop", "lion", ...).
        optimizer_kwargs: extra keyword arguments of the base optimizer (momentum, epsilon, weight_decay, ...).
        learning_rate: the initial learning rate.
        lr_decay_every_epochs: if set, the learning rate is multiplied by `lr_decay_factor` every this many epochs.
        lr_decay_factor: see `lr_decay_every_epochs`.
        noise_eta: the noise VARIANCE scale eta of sigma_t^2 = eta / (1 + t)^gamma; 0 disables the noise.
        noise_gamma: the annealing exponent gamma.
        noise_std: if set, a constant noise standard deviation instead of the annealed schedule; then noise_eta
            must be 0 (`validate` refuses both, the one place that decides between the two).
        noise_exclude: substrings of variable paths whose variables get no noise (e.g. ["batch_normalization",
            "predictions"]); see `keras_gradnoise.GradientNoiseMixin.exclude_from_gradient_noise`. Default: none.
        noise_gate_metric: if set, the noise std is scaled by sqrt(this training metric) of the latest epoch (or of
            the steps so far, see `noise_gate_every_steps`): `keras_gradnoise.GatedNoise` fed by
            `NoiseGateCallback`, e.g. "sequence_error" as in the Neural GPU's reference code. Default: no gate.
        noise_gate_every_steps: with `noise_gate_metric`, update the gate every this many steps instead of at
            each epoch's end.
        clipnorm: clip each gradient tensor to this norm (Keras `clipnorm`), applied before the noise.
        global_clipnorm: clip all gradients jointly to this global norm, applied before the noise.
        epochs: number of epochs.
        steps_per_epoch: training steps per epoch; None means one pass over the training data.
        batch_size: global batch size (split across replicas under a distribution strategy).
        seed: seeds the model's initialization, the data pipeline and the noise.
    """

    model: str
    model_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    data_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    optimizer: str = "adam"
    optimizer_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    learning_rate: float = 1e-3
    lr_decay_every_epochs: int | None = None
    lr_decay_factor: float = 0.5
    noise_eta: float = 0.0
    noise_gamma: float = 0.55
    noise_std: float | None = None
    noise_exclude: list[str] = dataclasses.field(default_factory=list)
    noise_gate_metric: str | None = None
    noise_gate_every_steps: int | None = None
    clipnorm: float | None = None
    global_clipnorm: float | None = None
    epochs: int = 1
    steps_per_epoch: int | None = None
    batch_size: int = 32
    seed: int = 0

    def replace(self, **changes: Any) -> TrainConfig:
        """Returns a copy with `changes` applied; dict fields given here are merged into the existing dicts."""
        merged = {}
        for key, value in changes.items():
            if key not in _FIELD_NAMES:
                raise ValueError(f"Unknown TrainConfig field {key!r}. Known fields: {sorted(_FIELD_NAMES)}.")
            current = getattr(self, key)
            merged[key] = (
                {**current, **value} if isinstance(current, dict) and isinstance(value, dict) else value
            )
        return dataclasses.replace(self, **merged)

    def validate(self) -> TrainConfig:
        """Raises ValueError naming the first field whose value is out of range; returns self otherwise."""
        _check_number("learning_rate", self.learning_rate, minimum=0.0, strict=True)
        _check_number("noise_eta", self.noise_eta, minimum=0.0)
        _check_number("noise_gamma", self.noise_gamma, minimum=0.0)
        for name in ("noise_std", "clipnorm", "global_clipnorm"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), minimum=0.0, strict=name != "noise_std")
        _check_number("lr_decay_factor", self.lr_decay_factor, minimum=0.0, strict=True)
        for name in ("epochs", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer; got {getattr(self, name)!r}.")
        for name in ("steps_per_epoch", "lr_decay_every_epochs"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None; got {value!r}.")
        if self.noise_std is not None and self.noise_eta > 0:
            # One run has one schedule: the library refuses both too, and preferring one silently hid mistakes.
            raise ValueError(
                f"noise_eta={self.noise_eta!r} (the annealed schedule) and noise_std={self.noise_std!r} (a constant "
                "std) are both set; choose one: noise_eta=0 for the constant std, or noise_std=null (None) for "
                "the annealed schedule."
            )
        if self.clipnorm is not None and self.global_clipnorm is not None:
            raise ValueError("Set at most one of clipnorm and global_clipnorm.")
        if self.noise_gate_metric is not None and (
            not isinstance(self.noise_gate_metric, str) or not self.noise_gate_metric
        ):
            raise ValueError(
                f"noise_gate_metric must be a metric name or None; got {self.noise_gate_metric!r}."
            )
        gate_steps = self.noise_gate_every_steps
        if gate_steps is not None and (
            isinstance(gate_steps, bool) or not isinstance(gate_steps, int) or gate_steps < 1
        ):
            raise ValueError(
                f"noise_gate_every_steps must be a positive integer or None; got {gate_steps!r}."
            )
        if gate_steps is not None and self.noise_gate_metric is None:
            raise ValueError(
                "noise_gate_every_steps needs noise_gate_metric (the metric that drives the gate)."
            )
        if not isinstance(self.noise_exclude, list) or not all(
            isinstance(name, str) and name for name in self.noise_exclude
        ):
            raise ValueError(
                f"noise_exclude must be a list of non-empty strings (substrings of variable paths); got "
                f"{self.noise_exclude!r}."
            )
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        data = json.loads(text)
        unknown = set(data) - _FIELD_NAMES
        if unknown:
            raise ValueError(f"Unknown TrainConfig fields {sorted(unknown)}.")
        return cls(**data)

    @classmethod
    def with_defaults(cls, recorded: dict[str, Any]) -> dict[str, Any]:
        """A config dict recorded by an older version (config.json, results.json) with the fields added since
        filled in with their defaults, so that it compares equal to the same config written now."""
        return {**field_defaults(cls), **recorded}


def field_defaults(cls: type) -> dict[str, Any]:
    """A dataclass's fields that have a default (or a default factory) -> that default."""
    defaults = {}
    for field in dataclasses.fields(cls):
        if field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
        elif field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
    return defaults


_FIELD_NAMES = frozenset(field.name for field in dataclasses.fields(TrainConfig))


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """Parses `field=value` strings into TrainConfig overrides; `field.key=value` sets a key of a dict field.

    Values are read as JSON when they parse (numbers, true/false/null, lists, quoted strings), else kept as
    plain strings: ["epochs=3", "data_kwargs.train_size=20000", "model_kwargs.init=good"].

    Raises:
        ValueError: an item without "=" or with an empty field name.
    """
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--override {item!r} must look like field=value or field.key=value.")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        field, _, subkey = key.strip().partition(".")
        if subkey:
            overrides.setdefault(field, {})
            if not isinstance(overrides[field], dict):
                raise ValueError(f"--override {item!r}: {field} was already set to a non-dict value.")
            overrides[field][subkey] = value
        else:
            overrides[field] = value
    return overrides


def _check_number(name: str, value: Any, minimum: float, strict: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}.")
    if value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {minimum}; got {value!r}.")
