"""What the tables' summaries read from the restarts' results.json dicts, shared by the model families."""

from __future__ import annotations

from typing import Any


def reported(results: list[dict[str, Any]], metric: str) -> list[Any]:
    """The final `metric` of every run that reported it (a run that failed before evaluating has none).

    Args:
        results: the restarts' results.json dicts ({"metrics": {metric: value, ...}, ...}).
        metric: a key of their "metrics".
    """
    values = [result.get("metrics", {}).get(metric) for result in results]
    return [value for value in values if value is not None]
