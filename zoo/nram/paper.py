"""Table 6 of Neelakantan et al. 2015 (arXiv 1511.06807, section 4.4) for the NRAM: the share of restarts on
ListK (the k-th element of a linked list) that reach 100% test accuracy, without and with gradient noise.

    python reproduce.py --model=nram --restarts=2 --jobs=1 --settings=setting1_no_noise,setting1_noise \
        --out=docs/results/nram_table6_setting1_cpu

Settings 2 and 3 and the 60-epoch run have their commands in docs/nram.md.
"""

from __future__ import annotations

from typing import Any

from zoo import rows
from zoo.registry import ReproductionSpec, Setting
from zoo.run_results import reported


def summarize_table6(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts the restarts that reach 100% whole-example test accuracy (the paper's "success").

    Args:
        results: the restarts' results.json dicts ({"metrics": {"test_example_accuracy": ...}, ...}).

    Returns:
        {"runs": n, "successes": count, "success_rate": count / n, "mean_test_example_accuracy": ...}.
    """
    accuracies = reported(results, "test_example_accuracy")
    successes = sum(1 for a in accuracies if a == 1.0)
    return {
        "runs": len(accuracies),
        "successes": successes,
        "success_rate": successes / len(accuracies) if accuracies else float("nan"),
        "mean_test_example_accuracy": sum(accuracies) / len(accuracies) if accuracies else float("nan"),
    }


def test_example_accuracy(result: dict[str, Any]) -> float:
    """One run's whole-example test accuracy (0 for a run that reported none)."""
    value = result.get("metrics", {}).get("test_example_accuracy")
    return float(value) if isinstance(value, (int, float)) else 0.0


def succeeded(result: dict[str, Any]) -> bool:
    """The paper's success: every fresh test example at the final difficulty answered exactly."""
    return test_example_accuracy(result) == 1.0


def _setting(name: str, learning_rate: float, eta: float, paper_rate: float | None) -> Setting:
    noise = rows.annealed_noise(eta) if eta else rows.no_noise()
    return Setting(
        name,
        {"learning_rate": learning_rate, **noise, **rows.clipping(global_norm=1.0)},
        {} if paper_rate is None else {"runs": 100, "success_rate": paper_rate},
    )


# Table 6 of arXiv 1511.06807 (Table 5 in its first arXiv version): the share of 100 restarts reaching 100%
# test accuracy on ListK for the 3 best hyper-parameter settings of a large grid search, without and with noise
# (eta = 0.3); the same 100 seeds for both, as here (restart r has seed config.seed + r in every setting). The
# paper names neither the grid nor the 3 settings (it points to Kurach et al. 2015, which gives no values), so
# our three settings, which differ only in learning rate, are our choice (see docs/nram.md).
REPRODUCTION = ReproductionSpec(
    title="Table 6: NRAM on ListK, share of restarts reaching 100% test accuracy",
    config="table6",
    settings=[
        _setting("setting1_no_noise", 0.01, 0.0, 0.01),
        _setting("setting1_noise", 0.01, 0.3, 0.05),
        # Not in Table 6: eta 0.01, the smallest of the paper's grid {0.01, 0.3, 1.0}; at eta 0.3 the noise was
        # 12-120x the clipped gradient's RMS entry for the whole calibrated run (docs/nram.md).
        _setting("setting1_noise_eta0.01", 0.01, 0.01, None),
        _setting("setting2_no_noise", 0.003, 0.0, 0.0),
        _setting("setting2_noise", 0.003, 0.3, 0.22),
        _setting("setting3_no_noise", 0.03, 0.0, 0.03),
        _setting("setting3_noise", 0.03, 0.3, 0.07),
    ],
    columns=["runs", "successes", "success_rate", "mean_test_example_accuracy"],
    summarize=summarize_table6,
    curve_metric="example_accuracy",
    axes=("learning_rate",),
    run_value=test_example_accuracy,
    run_value_name="test example accuracy",
    success=succeeded,
    success_name="runs at 100% test accuracy",
    comparisons=(
        *((f"setting{i}_noise", f"setting{i}_no_noise") for i in (1, 2, 3)),
        ("setting1_noise_eta0.01", "setting1_no_noise"),
    ),
)
