"""Command-line plumbing shared by train.py and reproduce.py: one-line errors with exit status 2.

absl's own handling of a flag it cannot parse (`--noise_eta=abc`, an unknown flag, a flag without a value) prints
two lines and exits with status 1. `flags_parser` turns every such mistake into the scripts' convention instead:
one line on stderr, `<program>: error: ...`, that names the flag and what it accepts, and exit status 2.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import NoReturn

from absl import flags

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
