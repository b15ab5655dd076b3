"""Planning a sweep: restarts (seeds) x a paper table's settings -> one `Run` (config and workdir) each.

For a model's `ENTRY.reproduction` (a `ReproductionSpec`), every (setting, restart) pair is one training run: the
spec's named config, changed by the setting's overrides, then by the command line's overrides, with seed
`config.seed + restart`, in `<runs_dir>/<setting>/restart_<r>/`. zoo/execution.py executes the runs and
zoo/reproduce.py tabulates them; `zoo.reproduce` re-exports the names defined here.

Setting overrides may hold one special key, `per_restart`: a list of override dicts, of which restart r uses
entry `r % len(list)`. It expresses paper rows that pool runs of several values, e.g. Table 1's 40 runs per
row are 20 at learning rate 0.1 and 20 at 0.01:
`{"per_restart": [{"learning_rate": 0.1}, {"learning_rate": 0.01}]}`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from zoo import rows
from zoo.config import TrainConfig
from zoo.registry import Setting, ZooEntry

PER_RESTART = "per_restart"


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of a sweep: restart `restart` of setting `setting`."""

    setting: str
    restart: int
    config: TrainConfig
    workdir: str

    @property
    def results_path(self) -> str:
        return os.path.join(self.workdir, "results.json")

    @property
    def label(self) -> str:
        return f"{self.setting}#{self.restart}"


def restart_config(
    base: TrainConfig, setting: Setting, restart: int, overrides: Mapping[str, Any] | None = None
) -> TrainConfig:
    """The config of restart `restart` of `setting`.

    Order: `base`, then the setting's overrides, then its `per_restart[restart % n]` entry, then `overrides`
    (the command line's), and finally seed = that config's seed + restart.

    Raises:
        ValueError: an unknown config field, a malformed `per_restart`, or an out-of-range value.
    """
    setting_overrides = dict(setting.overrides)
    per_restart = setting_overrides.pop(PER_RESTART, None)
    config = base.replace(**setting_overrides)
    if per_restart is not None:
        if (
            not isinstance(per_restart, (list, tuple))
            or not per_restart
            or not all(isinstance(entry, Mapping) for entry in per_restart)
        ):
            raise ValueError(
                f"Setting {setting.name!r}: {PER_RESTART} must be a non-empty list of override dicts."
            )
        config = config.replace(**per_restart[restart % len(per_restart)])
    if overrides:
        config = config.replace(**overrides)
    return config.replace(seed=config.seed + restart).validate()


def plan_runs(
    entry: ZooEntry,
    restarts: int,
    runs_dir: str,
    settings: Sequence[str] | None = None,
    config_name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    table: str | None = None,
) -> list[Run]:
    """All (setting, restart) runs of `entry`'s reproduction, settings in the spec's order, restarts inner.

    Args:
        entry: a zoo entry with a `reproduction` spec.
        restarts: restarts (seeds) per setting, >= 1.
        runs_dir: the runs' parent directory.
        settings: names of the settings to run (None: all of them).
        config_name: the named config the settings start from (None: the spec's).
        overrides: TrainConfig overrides applied to every run (see `restart_config`).
        table: which of the entry's tables (`ZooEntry.table`; None: `entry.reproduction`).

    Raises:
        ValueError: no reproduction spec (or no table `table`), restarts < 1, an unknown setting or config
            name, an unknown model_kwargs / data_kwargs key (`ZooEntry.check_options`), or a resolved run that
            contradicts its row (an override of one of the table's axes; see zoo/rows.py).
    """
    spec = entry.table(table)
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts must be a positive integer; got {restarts!r}.")
    known = [setting.name for setting in spec.settings]
    if settings:
        unknown = [name for name in settings if name not in known]
        if unknown:
            raise ValueError(
                f"Unknown settings {unknown} for {entry.name}. Known settings: {', '.join(known)}."
            )
    chosen = [setting for setting in spec.settings if not settings or setting.name in settings]
    base = entry.config(config_name or spec.config)
    runs = []
    for setting in chosen:
        for restart in range(restarts):
            # The entry's option classes too: an unknown model_kwargs / data_kwargs key fails before any run.
            config = entry.check_options(restart_config(base, setting, restart, overrides))
            rows.check_run(spec, setting, restart, config)
            runs.append(
                Run(
                    setting.name,
                    restart,
                    config,
                    os.path.join(runs_dir, setting.name, f"restart_{restart:03d}"),
                )
            )
    return runs
