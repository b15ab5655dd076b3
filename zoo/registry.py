"""Name -> model family. Adding a model = one folder under zoo/ plus one line in `_MODULES`.

Each model folder's `__init__.py` defines `ENTRY`, a `ZooEntry`, usually `family_entry(__name__, ...)`, which reads
the pieces from the folder's files by the convention they all follow. Entries are imported lazily, so
`zoo.get("neural_gpu")` imports only the Neural GPU code.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from zoo.config import TrainConfig, field_defaults

if TYPE_CHECKING:
    from zoo.pretrained import Preset

# name -> module defining ENTRY. Keep alphabetical.
_MODULES: dict[str, str] = {
    "deep_mlp": "zoo.deep_mlp",
    "memn2n": "zoo.memn2n",
    "neural_gpu": "zoo.neural_gpu",
    "neural_programmer": "zoo.neural_programmer",
    "nram": "zoo.nram",
    "resnet34": "zoo.resnet",
    "resnet50": "zoo.resnet",
}


@dataclasses.dataclass
class TaskData:
    """What a model's data pipeline hands the trainer.

    Args:
        train: what `model.fit` takes: a `keras.utils.PyDataset` yielding (x, y) batches, or an (x, y) tuple of
            numpy arrays. A PyDataset must make batch i of epoch e from (seed, e, i) alone, so that a resumed run
            sees exactly the batches an uninterrupted one would.
        validation: the same kind of object for validation, or None.
        evaluate: final task metrics on held-out data, e.g. {"test_accuracy": 0.97, "error_len200": 0.01}; called
            with the trained model after `fit`. Plain numpy, no framework-specific code.
        callbacks: task-specific callbacks (a curriculum that lengthens the task, a linear-start switch).
        info: facts for the run's metadata (dataset checksum, sizes).
    """

    train: Any
    validation: Any = None
    evaluate: Callable[[Any], dict[str, float]] | None = None
    callbacks: Sequence[Any] = ()
    info: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One row of a paper table: a name, the config changes that make it, and the paper's numbers for it.

    `overrides` are TrainConfig fields (dict fields are merged). It may also hold "per_restart": a list of override
    dicts, of which restart r applies entry r % len; Table 1, for example, pools runs at lr 0.1 and 0.01 per row.
    `requires` maps dotted TrainConfig paths to a requirement (`zoo.rows.AtLeast`, `zoo.rows.Off`) on a value the
    named config supplies, for axes whose exact value is a matter of scale. Together the two state every axis of
    the row's table (see zoo/rows.py).
    """

    name: str
    overrides: Mapping[str, Any]
    paper: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    requires: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ReproductionSpec:
    """What the shared restart runner needs from a model to reproduce one of the paper's tables.

    Args:
        title: the table's title, e.g. "Table 1: 20-layer MLP on MNIST".
        config: the named config every setting starts from.
        settings: the table's rows.
        columns: the table's value columns; `summarize` returns them and `Setting.paper` uses the same keys.
        summarize: all restarts' `results.json` dicts of one setting -> that row's values (e.g. best and mean
            accuracy, or the number of successful runs).
        curve_metric: a key of the per-epoch history to plot for each setting, or None for no plot.
        axes: the dotted TrainConfig paths the table varies besides noise and clipping (which every table
            varies); every row states each of them (zoo/rows.py).
        run_value: one run's results.json -> the finite number whose mean a row reports with a 95 % bootstrap
            interval (e.g. test accuracy in %), or None.
        run_value_name: what `run_value` is, for the table's header.
        success: one run's results.json -> whether it succeeded (counted with an exact 95 % interval), or None.
        success_name: what `success` counts, for the table's header.
        comparisons: (noise row, no-noise row) pairs, each tested (permutation test of the means, Fisher exact
            test of the success counts); see zoo/significance.py.
    """

    title: str
    config: str
    settings: Sequence[Setting]
    columns: Sequence[str]
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]]
    curve_metric: str | None = None
    axes: Sequence[str] = ()
    run_value: Callable[[dict[str, Any]], float] | None = None
    run_value_name: str = "value"
    success: Callable[[dict[str, Any]], bool] | None = None
    success_name: str = "successes"
    comparisons: Sequence[tuple[str, str]] = ()

    @property
    def all_axes(self) -> tuple[str, ...]:
        """The noise and clipping axes, then the table's own `axes`."""
        from zoo.rows import COMMON_AXES

        return COMMON_AXES + tuple(axis for axis in self.axes if axis not in COMMON_AXES)


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One model family of the zoo.

    Args:
        name: registry name (the `--model` flag).
        description: one line for `train.py --helpfull` and error messages.
        build_model: `build_model(**config.model_kwargs)` -> an uncompiled, serializable keras.Model written with
            keras.ops only, so that it runs on the TensorFlow and the JAX backends.
        make_data: `make_data(config, data_dir)` -> TaskData. `data_dir` is None when the user gave none.
        compile_kwargs: `compile_kwargs(config)` -> keyword arguments of `model.compile` except the optimizer
            (loss, metrics).
        configs: config name -> function returning a TrainConfig; must include "smoke", "default" and "paper".
            Each function's docstring holds the exact command that runs it.
        reproduction: how the paper's table for this model is reproduced, or None. `reproduce.py` runs it unless
            `--table` names another.
        reproductions: further tables by name (`reproduce.py --table=<name>`), for a model whose paper table needs
            more than one sweep, e.g. one model per task beside one joint model; empty for most models.
        presets: the pretrained models it ships (`zoo.pretrained.Preset`: file, command, fixture metric),
            declared in the family's presets.py; `python -m zoo.pretrained export` makes one from a finished run.
        default_preset: the preset `zoo.load_pretrained(name)` loads when the model has several and none is
            called "default"; None for models with one preset or a "default" one.
        data_options: the dataclass of the data pipeline's options (defaults in one place): its fields are the
            keys `config.data_kwargs` accepts, and `make_data` builds it with `data_options(**config.data_kwargs)`.
            None: not declared, and `data_kwargs` is not checked (every family of the zoo declares one).
    """

    name: str
    description: str
    build_model: Callable[..., Any]
    make_data: Callable[[TrainConfig, str | None], TaskData]
    compile_kwargs: Callable[[TrainConfig], dict[str, Any]]
    configs: Mapping[str, Callable[[], TrainConfig]]
    reproduction: ReproductionSpec | None = None
    reproductions: Mapping[str, ReproductionSpec] = dataclasses.field(default_factory=dict)
    presets: Sequence[Preset] = ()
    default_preset: str | None = None
    data_options: type | None = None

    def check_options(self, config: TrainConfig) -> TrainConfig:
        """`config` validated, with its `model_kwargs` checked against the builder's parameters and its
        `data_kwargs` against `data_options`' fields; returns it.

        Raises:
            ValueError: an out-of-range field, or an unknown key (named, with the accepted ones).
        """
        config.validate()
        accepted = _keyword_parameters(self.build_model)
        if accepted is not None:
            _check_keys(self.name, "model_kwargs", config.model_kwargs, accepted)
        if self.data_options is not None:
            fields = [field.name for field in dataclasses.fields(self.data_options)]
            _check_keys(self.name, "data_kwargs", config.data_kwargs, fields)
            try:  # the values too, before any run starts: the dataclass checks them
                self.data_options(**config.data_kwargs)
            except (TypeError, ValueError) as error:
                raise ValueError(f"data_kwargs of model {self.name!r}: {error}") from None
        return config

    def table(self, name: str | None = None) -> ReproductionSpec:
        """The reproduction spec `name` names: None for `reproduction`, else one of `reproductions`.

        Raises:
            ValueError: the model has no such table (the known names are listed).
        """
        spec = self.reproduction if name is None else self.reproductions.get(name)
        if spec is None:
            if name is None:
                raise ValueError(
                    f"Model {self.name!r} has no reproduction spec (ENTRY.reproduction is None)."
                )
            known = ", ".join(sorted(self.reproductions)) or "none"
            raise ValueError(f"Unknown table {name!r} for model {self.name!r}. Known tables: {known}.")
        return spec

    def config(self, name: str) -> TrainConfig:
        """The named config, or a ValueError listing the known names."""
        if name not in self.configs:
            raise ValueError(
                f"Unknown config {name!r} for model {self.name!r}. Known configs: {sorted(self.configs)}."
            )
        return self.configs[name]()


def with_option_defaults(recorded: Mapping[str, Any], planned: Mapping[str, Any]) -> dict[str, Any]:
    """`recorded` (a config dict an older version wrote) with the fields, model and data options added since
    filled in: the fields by `TrainConfig.with_defaults`, and one level down a `model_kwargs` / `data_kwargs` key that
    `planned` has and `recorded` lacks counts as recorded when `planned` holds that option's default (the
    builder's parameter default, or the data options dataclass's field default), e.g. the MemN2N's
    `weight_tying="adjacent"` for runs recorded before the option existed. Any other difference is kept.

    Args:
        recorded: a config dict as read from a config.json / results.json.
        planned: the config dict the run would have now (`json.loads(config.to_json())`).

    Returns:
        A new dict; only the fields filled in when the model is not registered.
    """
    filled = TrainConfig.with_defaults(recorded)
    try:
        entry = get(str(planned.get("model")))
    except ValueError:
        return filled
    data_defaults = field_defaults(entry.data_options) if entry.data_options is not None else {}
    defaults = {
        "model_kwargs": _parameter_defaults(entry.build_model),
        "data_kwargs": {key: _as_json(value) for key, value in data_defaults.items()},
    }
    for name, option_defaults in defaults.items():
        old, new = recorded.get(name), planned.get(name)
        if isinstance(old, dict) and isinstance(new, dict):
            added = {
                key: value
                for key, value in new.items()
                if key not in old and key in option_defaults and option_defaults[key] == value
            }
            filled[name] = {**old, **added}
    return filled


def differing_fields(recorded: Any, planned: Mapping[str, Any]) -> list[str]:
    """The top-level config fields in which a recorded config differs from the planned one, after
    `with_option_defaults` (what was added since the record was written counts as its default).

    Args:
        recorded: a config dict as read from a config.json / results.json (anything else differs in every field
            the plan sets).
        planned: the config dict the run would have now (`json.loads(config.to_json())`).

    Returns:
        The sorted names of the differing fields; empty when the configs agree.
    """
    filled = with_option_defaults(recorded, planned) if isinstance(recorded, Mapping) else {}
    return sorted(key for key in set(planned) | set(filled) if filled.get(key) != planned.get(key))


def _keyword_parameters(builder: Callable[..., Any]) -> list[str] | None:
    """The keyword arguments `builder` accepts, or None when they cannot be known (see `_option_parameters`)."""
    parameters = _option_parameters(builder)
    return None if parameters is None else [p.name for p in parameters]


def _parameter_defaults(builder: Callable[..., Any]) -> dict[str, Any]:
    """The model options `builder` gives a default, as JSON values (a tuple default compares as a list)."""
    return {
        p.name: _as_json(p.default)
        for p in _option_parameters(builder) or ()
        if p.default is not inspect.Parameter.empty
    }


def _as_json(value: Any) -> Any:
    """A default as a config read back from JSON holds it: a tuple becomes a list."""
    return list(value) if isinstance(value, tuple) else value


def _option_parameters(builder: Callable[..., Any]) -> list[inspect.Parameter] | None:
    """The keyword parameters `builder` accepts, or None when they cannot be known.

    A builder that passes `**kwargs` on to the model class it returns (`def build_model(**kwargs) -> DeepMLP`)
    accepts that class's named constructor arguments too (the builder's own parameters come first); the class's
    own `**kwargs` (Keras' name, dtype, ...) are not model options. Without a return annotation such a builder's
    keys are not checked.
    """
    parameters = list(inspect.signature(builder).parameters.values())
    named = [p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        return named
    try:
        returned = typing.get_type_hints(builder).get("return")
    except Exception:  # an annotation that does not resolve (e.g. imported only for type checkers)
        return None
    if not inspect.isclass(returned) or returned.__init__ is object.__init__:
        return None
    from_class = list(inspect.signature(returned.__init__).parameters.values())[1:]  # without self
    from_class = [p for p in from_class if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not from_class:  # a generic base such as keras.Model names no options: nothing to check against
        return None
    names = {p.name for p in named}
    return named + [p for p in from_class if p.name not in names]


def _check_keys(model: str, field: str, given: Mapping[str, Any], accepted: Sequence[str]) -> None:
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise ValueError(
            f"Unknown {field} key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for model "
            f"{model!r}. Accepted: {', '.join(sorted(accepted)) or 'none'}."
        )


# ZooEntry field -> (file, name) that `family_entry` reads it from: the roles every family folder's files have
# (docs/adding_a_model.md). `data_options` is found by its name instead (`_data_options`), as each family names
# its dataclass after itself.
_FAMILY_FILES: dict[str, tuple[str, str]] = {
    "build_model": ("model", "build_model"),
    "compile_kwargs": ("model", "compile_kwargs"),
    "make_data": ("data", "make_data"),
    "configs": ("configs", "CONFIGS"),
    "reproduction": ("paper", "REPRODUCTION"),
    "presets": ("presets", "PRESETS"),
}


def family_entry(package: str, *, name: str, description: str, **fields: Any) -> ZooEntry:
    """The ZooEntry of the family folder `package` (e.g. "zoo.nram"), its pieces read from the folder's files.

    model.py gives `build_model` and `compile_kwargs`; data.py `make_data` and `data_options` (the one dataclass
    defined there whose name ends in "DataOptions"); configs.py `CONFIGS`; paper.py `REPRODUCTION`; presets.py
    `PRESETS`. `fields` sets the other ZooEntry fields (`default_preset`, `reproductions`) or replaces one of
    those pieces, which is then not looked up (resnet's two entries name their own builders, configs, tables).

    Raises:
        ImportError: a file or a name of the convention is missing; the message names the file and the name.
    """
    for field, (module, attribute) in _FAMILY_FILES.items():
        if field not in fields:
            fields[field] = _family_piece(package, module, attribute, field)
    if "data_options" not in fields:
        fields["data_options"] = _data_options(_family_module(package, "data"))
    return ZooEntry(name=name, description=description, **fields)


def _family_path(package: str, module: str) -> str:
    return f"{package.replace('.', '/')}/{module}.py"


def _family_module(package: str, module: str) -> ModuleType:
    qualified = f"{package}.{module}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as error:
        if error.name != qualified:  # the file is there; something it imports is not: that error says more
            raise
        raise ImportError(
            f"Model family {package!r} has no {_family_path(package, module)}; every family folder has "
            f"{', '.join(sorted({file + '.py' for file, _ in _FAMILY_FILES.values()}))} (docs/adding_a_model.md)."
        ) from None


def _family_piece(package: str, module: str, attribute: str, field: str) -> Any:
    # Imported outside the try: an AttributeError raised while importing is a bug there, not a missing name.
    found = _family_module(package, module)
    try:
        return getattr(found, attribute)
    except AttributeError:
        raise ImportError(
            f"{_family_path(package, module)} defines no {attribute!r}, which the entry of {package!r} reads as "
            f"ZooEntry.{field} (docs/adding_a_model.md)."
        ) from None


def _data_options(module: ModuleType) -> type:
    """The one dataclass `module` defines (not imports) whose name ends in "DataOptions"."""
    found = [
        value
        for key, value in vars(module).items()
        if key.endswith("DataOptions")
        and inspect.isclass(value)
        and dataclasses.is_dataclass(value)
        and value.__module__ == module.__name__
    ]
    if len(found) != 1:
        named = ", ".join(cls.__name__ for cls in found) or "none"
        raise ImportError(
            f"{_family_path(*module.__name__.rsplit('.', 1))} must define exactly one dataclass named "
            f"'<Family>DataOptions' (ZooEntry.data_options); found {named}."
        )
    return found[0]


def register(name: str, module: str) -> None:
    """Registers `module` (an importable module defining ENTRY or ENTRIES) under `name`, e.g. a test's model.

    Raises:
        ValueError: `name` is already registered to another module.
    """
    if _MODULES.get(name, module) != module:
        raise ValueError(f"Model name {name!r} is already registered to {_MODULES[name]}.")
    _MODULES[name] = module


def unregister(name: str) -> None:
    """Removes a registration made with `register` (nothing happens for an unknown name)."""
    _MODULES.pop(name, None)


def names() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_MODULES)


def get(name: str) -> ZooEntry:
    """The entry registered under `name`; a ValueError listing the known names if there is none."""
    if name not in _MODULES:
        raise ValueError(f"Unknown model {name!r}. Known models: {', '.join(names())}.")
    module = importlib.import_module(_MODULES[name])
    entries = getattr(module, "ENTRIES", None) or {module.ENTRY.name: module.ENTRY}
    return entries[name]
