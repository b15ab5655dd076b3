"""Command-line plumbing shared by train.py and reproduce.py: one-line errors with exit status 2, and the flags
that change a TrainConfig (one definition, one range check and one translation into overrides for both scripts).

absl's own handling of a flag it cannot parse (`--noise_eta=abc`, an unknown flag, a flag without a value) prints
two lines and exits with status 1. `flags_parser` turns every such mistake into the scripts' convention instead:
one line on stderr, `<program>: error: ...`, that names the flag and what it accepts, and exit status 2.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

from absl import flags

from zoo.config import parse_overrides

# absl's flag_type() -> what a value of that type looks like, for the error messages.
_ACCEPTS = {
    "float": "a number",
    "int": "an integer",
    "bool": "true or false (or --{name} / --no{name} without a value)",
    "string": "a string",
    "comma separated list of strings": "a comma-separated list",
    "multi string": "a string (the flag may be repeated)",
}
_FLAG_IN_MESSAGE = re.compile(r"flag --(\w+)")


def fail(program: str, message: str, status: int = 2) -> NoReturn:
    """Prints `<program>: error: <message>` as one line on stderr and exits with `status`."""
    print(f"{program}: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(status)


def describe_flag_error(error: flags.Error, accepted: Iterable[str], values: flags.FlagValues) -> str:
    """One line for a flags.Error: absl's reason plus what the flag (or the program) accepts."""
    message = " ".join(str(error).split()).replace(" ?", "?")  # absl: "Did you mean: epochs ?"
    if isinstance(error, flags.UnrecognizedFlagError):
        names = ", ".join(f"--{name}" for name in sorted(accepted))
        stop = "" if message.endswith(("?", ".")) else "."
        return f"{message}{stop} Accepted flags: {names} (--helpshort describes them)."
    match = _FLAG_IN_MESSAGE.search(message)
    if match is None or match.group(1) not in values:
        return f"{message} (--helpshort describes the accepted flags)."
    name = match.group(1)
    flag = values[name]
    accepts = _ACCEPTS.get(flag.flag_type(), f"a {flag.flag_type()}").format(name=name)
    return f"{message}. --{name} takes {accepts}: {' '.join((flag.help or '').split())}"


def flags_parser(
    program: str, accepted: Iterable[str], values: flags.FlagValues | None = None
) -> Callable[[list[str]], list[str]]:
    """A `flags_parser` for `absl.app.run` that exits with status 2 and one line on any flag error.

    Args:
        program: the name in the error line ("train.py").
        accepted: the program's own flag names, listed when an unknown flag is given.
        values: the FlagValues to parse (default absl's global FLAGS).
    """
    accepted = sorted(accepted)

    def parse(argv: list[str]) -> list[str]:
        flag_values = values if values is not None else flags.FLAGS
        try:
            return flag_values(argv)
        except flags.Error as error:
            fail(program, describe_flag_error(error, accepted, flag_values))

    return parse


def check_output_dir(path: str, what: str) -> None:
    """Checks that `path` is, or can be created as, a writable directory (nothing is created here).

    Args:
        path: the directory.
        what: how the error names it, e.g. "--workdir".

    Raises:
        ValueError: `path` or one of its parents is a file, or the nearest existing parent is not writable.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(
            f"{what} {path!r} is a file; it must be a directory (an existing one, or a new one to create)."
        )
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{what} {path!r} cannot be created: {existing!r} is a file, not a directory.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"{what} {path!r} is not writable: {existing!r} does not allow this user to write; pass a "
            "directory you can write to."
        )


@dataclasses.dataclass(frozen=True)
class ConfigFlag:
    """A command-line flag that sets one TrainConfig field.

    Args:
        field: the TrainConfig field it sets.
        kind: "string", "float", "integer" or "list" (comma-separated strings).
        help: the flag's help text.
        minimum: the smallest accepted value (checked before TensorFlow loads), or None.
        strict: the value must be greater than `minimum`, not equal to it.
    """

    field: str
    kind: str
    help: str
    minimum: float | None = None
    strict: bool = False


# Every flag that sets a TrainConfig field, by flag name. Each script defines the subset it offers.
CONFIG_FLAGS: dict[str, ConfigFlag] = {
    "optimizer": ConfigFlag(
        "optimizer", "string", "Keras optimizer name (sgd, adam, adamw, rmsprop, ...); noise is added to it."
    ),
    "learning_rate": ConfigFlag("learning_rate", "float", "Initial learning rate (> 0).", 0.0, strict=True),
    "noise_eta": ConfigFlag(
        "noise_eta",
        "float",
        "Noise variance scale eta of eta/(1+t)^gamma (>= 0; 0 disables the noise). Without --noise_std it also "
        "clears the config's constant std (noise_std=None): the annealed schedule.",
        0,
    ),
    "noise_gamma": ConfigFlag("noise_gamma", "float", "Noise annealing exponent gamma (>= 0).", 0),
    "noise_std": ConfigFlag(
        "noise_std",
        "float",
        "Constant noise standard deviation instead of the annealed schedule (>= 0). Without --noise_eta it also "
        "sets noise_eta=0: the constant schedule replaces the config's annealed one.",
        0,
    ),
    "noise_exclude": ConfigFlag(
        "noise_exclude",
        "list",
        "Comma-separated substrings of variable paths that get no noise (e.g. gamma,beta).",
    ),
    "clipnorm": ConfigFlag(
        "clipnorm",
        "float",
        "Clip each gradient tensor to this norm (> 0), before the noise.",
        0.0,
        strict=True,
    ),
    "global_clipnorm": ConfigFlag(
        "global_clipnorm",
        "float",
        "Clip all gradients jointly to this global norm (> 0), before the noise.",
        0.0,
        strict=True,
    ),
    "epochs": ConfigFlag("epochs", "integer", "Number of epochs (>= 1).", 1),
    "steps": ConfigFlag(
        "steps_per_epoch", "integer", "Steps per epoch (>= 1); unset: one pass over the training data.", 1
    ),
    "batch_size": ConfigFlag("batch_size", "integer", "Global batch size (>= 1), split across replicas.", 1),
    "seed": ConfigFlag("seed", "integer", "Seed of initialization, data order and noise."),
}

_DEFINE = {
    "string": flags.DEFINE_string,
    "float": flags.DEFINE_float,
    "integer": flags.DEFINE_integer,
    "list": flags.DEFINE_list,
}


def define_config_flags(names: Sequence[str], scope: str = "") -> dict[str, str]:
    """Defines the flags `names` of CONFIG_FLAGS (default None: the named config's value) and `--override`.

    Args:
        names: which of CONFIG_FLAGS the script offers.
        scope: appended to every help text, e.g. " Set for every run.".

    Returns:
        flag name -> the TrainConfig field it sets (for `config_changes`).
    """
    for name in names:
        flag = CONFIG_FLAGS[name]
        _DEFINE[flag.kind](name, None, flag.help + scope)
    flags.DEFINE_multi_string(
        "override",
        [],
        "Any TrainConfig change, field=value or dict_field.key=value (values read as JSON when they parse), e.g. "
        "--override=model_kwargs.init=good --override=data_kwargs.train_size=20000; repeatable, applied before "
        f"the named flags, recorded in config.json.{scope}",
    )
    return {name: CONFIG_FLAGS[name].field for name in names}


def check_config_flags(values: flags.FlagValues, fields: dict[str, str]) -> None:
    """Checks the ranges of the config flags given in `values` (cheap: before TensorFlow loads).

    Raises:
        ValueError: a value below its flag's minimum, naming the flag.
    """
    for name in fields:
        flag, value = CONFIG_FLAGS[name], values[name].value
        if value is None or flag.minimum is None:
            continue
        if value < flag.minimum or (flag.strict and value == flag.minimum):
            raise ValueError(f"--{name} must be {'>' if flag.strict else '>='} {flag.minimum}; got {value}.")


def config_changes(values: flags.FlagValues, fields: dict[str, str]) -> dict[str, Any]:
    """The TrainConfig overrides the command line asks for: `--override`s first, then the named flags.

    The one place where flags become overrides. A flag for one noise schedule switches the other off unless
    both are given (then TrainConfig.validate refuses eta > 0 with a std): `--noise_std` alone sets
    noise_eta=0 and `--noise_eta` alone sets noise_std=None, so either flag works on any config.

    Args:
        values: the parsed flags.
        fields: flag name -> TrainConfig field, from `define_config_flags`.

    Returns:
        Keyword arguments of `TrainConfig.replace`.

    Raises:
        ValueError: a malformed `--override`.
    """
    changes = parse_overrides(values.override)
    given = {name: values[name].value for name in fields if values[name].value is not None}
    changes.update({fields[name]: value for name, value in given.items()})
    if "noise_std" in given and "noise_eta" not in given:
        changes["noise_eta"] = 0.0
    if "noise_eta" in given and "noise_std" not in given:
        changes["noise_std"] = None
    return changes
