"""Table 7 of Neelakantan et al. 2015 (arXiv 1511.06807, section 4.5) for the Neural GPU: of the restarts on
binary multiplication, how many reach a per-bit error on 200-digit numbers below 1/2/3/5%. Here that error is
`bit_error_len401` (length 401 = two 200-bit operands; the runs train on numbers of up to 20 bits, length 41, as
the reference does).

    python reproduce.py --model=neural_gpu --restarts=4 --jobs=2 --out=docs/results/neural_gpu
"""

from __future__ import annotations

from typing import Any

from zoo import rows
from zoo.registry import ReproductionSpec, Setting
from zoo.run_results import reported

SUCCESS_THRESHOLDS = (0.01, 0.02, 0.03, 0.05)
SUCCESS_METRIC = "bit_error_len401"


def summarize_table7(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts the restarts whose per-bit error on 200-bit numbers is below each of Table 7's thresholds.

    Args:
        results: the restarts' results.json dicts ({"metrics": {"bit_error_len401": ...}, ...}).

    Returns:
        {"runs": n, "error<1%": count, "error<2%": ..., "error<3%": ..., "error<5%": ...}.
    """
    errors = reported(results, SUCCESS_METRIC)
    row: dict[str, Any] = {"runs": len(errors)}
    for threshold in SUCCESS_THRESHOLDS:
        row[f"error<{threshold:.0%}"] = sum(1 for e in errors if e < threshold)
    return row


REPRODUCTION = ReproductionSpec(
    title="Table 7: Neural GPU, binary multiplication: runs whose bit error on 200-bit numbers is below each bound",
    config="table7",
    settings=[
        Setting(
            "no_noise",
            {**rows.no_noise(), **rows.clipping(global_norm=1.0)},
            {"runs": 7290, "error<1%": 28, "error<2%": 90, "error<3%": 172, "error<5%": 387},
        ),
        Setting(
            "noise",
            {**rows.annealed_noise(1.0, 0.55), **rows.clipping(global_norm=1.0)},
            {"runs": 7290, "error<1%": 58, "error<2%": 159, "error<3%": 282, "error<5%": 570},
        ),
    ],
    columns=["runs", "error<1%", "error<2%", "error<3%", "error<5%"],
    summarize=summarize_table7,
    curve_metric="sequence_error",
)
