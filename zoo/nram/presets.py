"""The NRAM presets (data only) and their fixture check; `python -m zoo.pretrained export` makes them.

    python -m zoo.pretrained export --model=nram --preset=access --workdir=runs/nram_access

The check is the whole-example accuracy on fresh examples of the run's task at its final difficulty, seeded by
RECHECK_SEED, apart from every training and test stream.
"""

from __future__ import annotations

from typing import Any

from zoo.config import TrainConfig
from zoo.pretrained import Preset

RECHECK_SEED = 31_337
RECHECK_EXAMPLES = 2000


def remeasure(
    model: Any, config: TrainConfig, examples: int = RECHECK_EXAMPLES, seed: int = RECHECK_SEED
) -> dict[str, Any]:
    """Cell and example accuracy of `model` on fresh examples of the run's task at its final difficulty.

    Args:
        model: a loaded NRAM.
        config: the run's TrainConfig.
        examples: number of fresh examples.
        seed: seeds them.

    Returns:
        {"cell_accuracy", "example_accuracy", "examples", "seed", "task", "difficulty"}.
    """
    from zoo.nram.curriculum import measure
    from zoo.nram.data import data_settings

    settings = data_settings(config)
    result = measure(model, settings["task"], settings["difficulty"], settings["memory_size"], examples, seed)
    return {
        **result,
        "examples": examples,
        "seed": seed,
        "task": settings["task"],
        "difficulty": settings["difficulty"],
    }


def example_accuracy(model: Any, config: TrainConfig) -> float:
    """Whole-example accuracy on the RECHECK_EXAMPLES fresh examples of seed RECHECK_SEED."""
    return remeasure(model, config)["example_accuracy"]


PRESETS = (
    Preset(
        name="access",
        model="nram",
        command="python train.py --model=nram --config=access --workdir=runs/nram_access",
        metric="remeasured.example_accuracy",
        measure=example_accuracy,
        tolerance=0.0025,  # 5 of the 2000 examples may flip on float rounding
    ),
    Preset(
        name="list_k",
        model="nram",
        command=(
            "python reproduce.py --model=nram --restarts=1 --jobs=1 --settings=setting1_no_noise,setting1_noise "
            "--epochs=60 --out=docs/results/nram_long --runs_dir=runs/nram_long_c100 (setting1_no_noise, restart "
            "0; the same run alone: python train.py --model=nram --config=table6 --noise_eta=0 --learning_rate=0.01 "
            "--epochs=60 --seed=0 --workdir=runs/nram_list_k)"
        ),
        metric="remeasured.example_accuracy",
        measure=example_accuracy,
        tolerance=0.0025,
    ),
)
