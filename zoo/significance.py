"""Intervals for each row of a reproduction table, and a test for each noise / no-noise pair of rows.

A `ReproductionSpec` opts in with `run_value` (one number per run, e.g. its test accuracy in %), `success` (did a
run succeed, e.g. reach 100 % accuracy) and `comparisons` ((noise row, no-noise row) pairs). The runner's report
then shows, per row, the mean of `run_value` with its 95 % bootstrap interval and the success count with its
exact 95 % interval; per pair, the difference of means with a permutation-test p-value and the success counts
with a two-sided Fisher exact p-value. Rows with fewer than `MIN_RUNS` runs are marked: they support no
statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zoo import stats

MIN_RUNS = 3


def row_statistics(spec: Any, results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The interval statistics of one row's finished runs (an empty dict when the spec opts out)."""
    row: dict[str, Any] = {}
    if not results:
        return row
    if spec.run_value is not None:
        values = [float(spec.run_value(result)) for result in results]
        low, high = stats.bootstrap_mean_interval(values)
        row.update({"mean": sum(values) / len(values), "mean_low": low, "mean_high": high})
    if spec.success is not None:
        successes = sum(1 for result in results if spec.success(result))
        low, high = stats.clopper_pearson(successes, len(results))
        row.update({"successes": successes, "runs": len(results), "rate_low": low, "rate_high": high})
    return row


def comparisons(spec: Any, results: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One dict per (noise, no-noise) pair of `spec.comparisons` whose both rows have finished runs."""
    compared = []
    for treated, control in spec.comparisons:
        a, b = results.get(treated) or [], results.get(control) or []
        if not a or not b:
            continue
        entry: dict[str, Any] = {"treated": treated, "control": control, "runs": [len(a), len(b)]}
        if spec.run_value is not None:
            values_a = [float(spec.run_value(r)) for r in a]
            values_b = [float(spec.run_value(r)) for r in b]
            entry["mean_difference"] = sum(values_a) / len(values_a) - sum(values_b) / len(values_b)
            entry["permutation_p"] = stats.permutation_test(values_a, values_b)
        if spec.success is not None:
            successes_a = sum(1 for r in a if spec.success(r))
            successes_b = sum(1 for r in b if spec.success(r))
            entry["successes"] = [successes_a, successes_b]
            entry["fisher_p"] = stats.fisher_exact(successes_a, len(a), successes_b, len(b))
        compared.append(entry)
    return compared


def interval_header(spec: Any) -> list[str]:
    """The extra table columns the spec's statistics add."""
    header = []
    if spec.run_value is not None:
        header.append(f"mean {spec.run_value_name} [95% CI]")
    if spec.success is not None:
        header.append(f"{spec.success_name} [95% CI]")
    return header


def interval_cells(spec: Any, row: Mapping[str, Any]) -> list[str]:
    """The cells of `interval_header` for one row's `row_statistics`."""
    cells = []
    if spec.run_value is not None:
        cells.append(f"{row['mean']:.4g} [{row['mean_low']:.4g}, {row['mean_high']:.4g}]" if row else "-")
    if spec.success is not None:
        cells.append(
            f"{row['successes']}/{row['runs']} [{100 * row['rate_low']:.0f}%, {100 * row['rate_high']:.0f}%]"
            if row
            else "-"
        )
    return cells


def comparison_markdown(spec: Any, compared: Sequence[Mapping[str, Any]]) -> list[str]:
    """A markdown section: one line per noise / no-noise pair, or nothing when there is no pair."""
    if not compared:
        return []
    header = ["noise row", "no-noise row", "runs"]
    if spec.run_value is not None:
        header += [f"difference of mean {spec.run_value_name}", "permutation p (two-sided)"]
    if spec.success is not None:
        header += [spec.success_name, "Fisher exact p (two-sided)"]
    lines = [
        "## Noise vs no noise",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for entry in compared:
        cells = [
            f"`{entry['treated']}`",
            f"`{entry['control']}`",
            f"{entry['runs'][0]} vs {entry['runs'][1]}",
        ]
        if "mean_difference" in entry:
            cells += [f"{entry['mean_difference']:+.4g}", f"{entry['permutation_p']:.3g}"]
        if "fisher_p" in entry:
            cells += [f"{entry['successes'][0]} vs {entry['successes'][1]}", f"{entry['fisher_p']:.3g}"]
        lines.append("| " + " | ".join(cells) + " |")
    few = [e for e in compared if min(e["runs"]) < MIN_RUNS]
    if few:
        lines += [
            "",
            f"Pairs with fewer than {MIN_RUNS} runs in a row ({', '.join(e['treated'] for e in few)}) support no "
            "statement; rerun the command with more --restarts.",
        ]
    return lines + [""]
