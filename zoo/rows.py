"""Complete table rows: every axis a paper table varies is stated by each of its rows.

A row of a paper table (a `Setting`) is a distribution of runs that differ only in their seed. What the table
compares (noise or none, clipping, init, dropout, linear start, the learning rates a row pools) must therefore be
fixed by the row itself, never inherited from the named config the sweep starts from: `--config=smoke` changes
the scale of a run (epochs, data size, width), not what it measures. Otherwise a "no noise" row resolved under a
config with `noise_eta=0.01` is silently noisy.

Each `ReproductionSpec` lists its table's axes as dotted TrainConfig paths (`"noise_eta"`,
`"model_kwargs.init"`); the noise and clipping axes belong to every table (`COMMON_AXES`). Each row states a value
for every axis, either as an override (`Setting.overrides`, or every entry of its `per_restart` list) or as a
requirement on the value the config supplies (`Setting.requires`, e.g. `AtLeast(1)` linear-start epochs, whose
number is a matter of scale). `missing_axes` finds rows that do not; `check_run` refuses a resolved run whose
value contradicts its row, e.g. because a command-line override changed an axis.

    python reproduce.py --model=deep_mlp --settings=exp1_simple_noclip --override noise_eta=0.3
    # reproduce.py: error: row exp1_simple_noclip of Table 1 ... declares noise_eta=0.0; the run has 0.3
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

NOISE_AXES: tuple[str, ...] = (
    "noise_eta",
    "noise_gamma",
    "noise_std",
    "noise_exclude",
    "noise_gate_metric",
    "noise_gate_every_steps",
)
CLIPPING_AXES: tuple[str, ...] = ("clipnorm", "global_clipnorm")
COMMON_AXES: tuple[str, ...] = NOISE_AXES + CLIPPING_AXES
PER_RESTART = "per_restart"
# The paper's gamma, keras_gradnoise.optimizers.DEFAULT_GAMMA (rows_test.py checks they agree). Not imported:
# planning a sweep, listing its rows or refusing bad input must not import a framework.
DEFAULT_GAMMA = 0.55


def no_noise() -> dict[str, Any]:
    """The noise axes of a row without gradient noise."""
    return {
        "noise_eta": 0.0,
        "noise_gamma": DEFAULT_GAMMA,
        "noise_std": None,
        "noise_exclude": [],
        "noise_gate_metric": None,
        "noise_gate_every_steps": None,
    }


def annealed_noise(
    eta: float,
    gamma: float = DEFAULT_GAMMA,
    exclude: Sequence[str] = (),
    gate_metric: str | None = None,
    gate_every_steps: int | None = None,
) -> dict[str, Any]:
    """The noise axes of a row with sigma_t^2 = eta / (1 + t)^gamma, kept off the variables whose paths
    contain one of `exclude` (e.g. ("gamma", "beta") for BatchNorm), scaled by sqrt(`gate_metric`) if given
    (refreshed every `gate_every_steps` steps, or at each epoch's end)."""
    if not eta > 0:
        raise ValueError(f"annealed_noise needs eta > 0 (use no_noise() for none); got {eta!r}.")
    return {
        "noise_eta": eta,
        "noise_gamma": gamma,
        "noise_std": None,
        "noise_exclude": list(exclude),
        "noise_gate_metric": gate_metric,
        "noise_gate_every_steps": gate_every_steps,
    }


def constant_noise(std: float, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """The noise axes of a row with a constant noise standard deviation."""
    if not std > 0:
        raise ValueError(f"constant_noise needs std > 0 (use no_noise() for none); got {std!r}.")
    return {
        "noise_eta": 0.0,
        "noise_gamma": DEFAULT_GAMMA,
        "noise_std": std,
        "noise_exclude": list(exclude),
        "noise_gate_metric": None,
        "noise_gate_every_steps": None,
    }


def clipping(global_norm: float | None = None, norm: float | None = None) -> dict[str, Any]:
    """The clipping axes of a row: a global-norm threshold, a per-tensor one, or (both None) no clipping."""
    if global_norm is not None and norm is not None:
        raise ValueError("A row clips by the global norm or per tensor, not both.")
    return {"global_clipnorm": global_norm, "clipnorm": norm}


@dataclasses.dataclass(frozen=True)
class AtLeast:
    """A row's requirement that the config supplies a value >= `minimum` (e.g. some linear-start epochs)."""

    minimum: float

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= self.minimum

    def __str__(self) -> str:
        return f">= {self.minimum:g}"


@dataclasses.dataclass(frozen=True)
class Off:
    """A row's requirement that an option the config may leave unset is off: absent, None, 0 or False."""

    def accepts(self, value: Any) -> bool:
        return value is None or value is False or (isinstance(value, (int, float)) and value == 0)

    def __str__(self) -> str:
        return "off (unset or 0)"


Requirement = AtLeast | Off


def flatten(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """{"model_kwargs": {"init": "zero"}, "seed": 1} -> {"model_kwargs.init": "zero", "seed": 1}."""
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        if key == PER_RESTART:
            continue
        if isinstance(value, Mapping):
            flat.update({f"{key}.{sub}": sub_value for sub, sub_value in value.items()})
        else:
            flat[key] = value
    return flat


def declared(setting: Any, restart: int) -> dict[str, Any]:
    """What `setting` states for restart `restart`: its overrides, its per-restart entry, its requirements."""
    values = flatten(setting.overrides)
    per_restart = setting.overrides.get(PER_RESTART)
    if per_restart:
        values.update(flatten(per_restart[restart % len(per_restart)]))
    values.update(getattr(setting, "requires", {}) or {})
    return values


def missing_axes(spec: Any, setting: Any) -> list[str]:
    """The axes of `spec` that `setting` does not state for every restart (empty when the row is complete)."""
    per_restart = setting.overrides.get(PER_RESTART) or [{}]
    missing: list[str] = []
    for restart in range(len(per_restart)):
        values = declared(setting, restart)
        missing += [axis for axis in spec.all_axes if axis not in values and axis not in missing]
    return missing


def config_value(config: Any, axis: str) -> Any:
    """The value of a dotted TrainConfig path in `config` (None for a dict key the config does not set)."""
    field, _, key = axis.partition(".")
    value = getattr(config, field)
    return value.get(key) if key else value


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, (AtLeast, Off)):
        return expected.accepts(actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual  # True == 1 in Python; a flag row must not accept a count
    return expected == actual


def check_run(spec: Any, setting: Any, restart: int, config: Any) -> None:
    """Raises ValueError naming the row and the field when the resolved `config` contradicts its row.

    Args:
        spec: the table's ReproductionSpec (its `all_axes`, its `title`).
        setting: the row.
        restart: the run's restart index (selects the per-restart entry).
        config: the resolved TrainConfig of that run, command-line overrides included.
    """
    values = declared(setting, restart)
    for axis in spec.all_axes:
        if axis not in values:
            raise ValueError(
                f"Row {setting.name} of {spec.title!r} does not state its {axis}; every row must state every "
                f"axis of its table ({', '.join(spec.all_axes)})."
            )
        actual = config_value(config, axis)
        if not _same(values[axis], actual):
            raise ValueError(
                f"Row {setting.name} declares {axis}={values[axis]}; the resolved run has {actual!r}. A row's "
                f"axes cannot be changed by a config or an override: pick the row that has the value you want."
            )


def is_noise_free(config: Any) -> bool:
    """True when the run adds no gradient noise (eta 0 and no constant std, or a constant std of 0)."""
    if config.noise_std is not None:
        return config.noise_std == 0
    return config.noise_eta == 0
