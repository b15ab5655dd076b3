"""Every config the zoo resolves, as plain JSON: each model's named configs, and each (config, table row,
restart) run that `plan_runs` plans from them. `test_resolved_configs.py` compares it with the snapshot in
tests/fixtures/resolved_configs.json, so a refactor of the zoo cannot change a run silently.

After an intended change: `python -m tests.resolved_configs tests/fixtures/resolved_configs.json` and review the
diff of the snapshot.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from zoo import registry
from zoo.planning import plan_runs

# Two restarts show the rows that alternate values between restarts (`per_restart`).
RESTARTS = 2


def resolve_all() -> dict[str, Any]:
    """{"<model>/<config>": config dict, "<model>/<config>/<row>/<restart>": config dict or "refused"}.

    A model's further tables (`ZooEntry.reproductions`) add "<model>/<config>/<table>:<row>/<restart>", resolved
    under their own config only and for one restart: their rows are many (one per task and setting), and the second
    restart differs only in the seed.
    """
    resolved: dict[str, Any] = {}
    for name in registry.names():
        entry = registry.get(name)
        for config_name in sorted(entry.configs):
            resolved[f"{name}/{config_name}"] = json.loads(entry.config(config_name).to_json())
            if entry.reproduction is None:
                continue
            try:
                runs = plan_runs(entry, RESTARTS, "runs", config_name=config_name)
            except ValueError:
                # The config contradicts a row of the table (zoo/rows.py); that the refusal stays is checked too.
                resolved[f"{name}/{config_name}/table"] = "refused"
                continue
            for run in runs:
                resolved[f"{name}/{config_name}/{run.setting}/{run.restart}"] = json.loads(
                    run.config.to_json()
                )
        for table, spec in sorted(entry.reproductions.items()):
            for run in plan_runs(entry, 1, "runs", table=table):
                key = f"{name}/{spec.config}/{table}:{run.setting}/{run.restart}"
                resolved[key] = json.loads(run.config.to_json())
    return resolved


if __name__ == "__main__":
    with open(sys.argv[1], "w") as file:
        json.dump(resolve_all(), file, indent=1, sort_keys=True)
        file.write("\n")
