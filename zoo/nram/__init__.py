"""The Neural Random-Access Machine (Kurach, Andrychowicz & Sutskever 2015, arXiv 1511.06392) on its
algorithmic tasks: section 4.4 / Table 6 of Neelakantan et al. 2015 (arXiv 1511.06807), finding the k-th
element of a linked list, where gradient noise raises the share of restarts that reach 100% test accuracy.

    python train.py --model=nram --config=default --workdir=/tmp/nram
"""

from __future__ import annotations

from typing import Any

from zoo import rows
from zoo.config import TrainConfig
from zoo.nram import tasks
from zoo.nram.configs import CONFIGS
from zoo.nram.curriculum import CurriculumCallback, NRAMDataset, measure
from zoo.nram.model import CellAccuracy, ExampleAccuracy, NRAMCore, NRAMLoss, build_nram
from zoo.nram.presets import PRESETS
from zoo.registry import ReproductionSpec, Setting, TaskData, ZooEntry

__all__ = [
    "ENTRY",
    "CellAccuracy",
    "CurriculumCallback",
    "ExampleAccuracy",
    "NRAMCore",
    "NRAMDataset",
    "NRAMLoss",
    "build_model",
    "make_data",
]

MODEL_DEFAULTS: dict[str, Any] = {"memory_size": 12, "max_timesteps": 6}
_DATA_DEFAULTS: dict[str, Any] = {
    "task": "list_k",
    "difficulty": 3,
    "min_difficulty": 1,
    "curriculum": True,
    "curriculum_threshold": 0.9,
    "entropy_decay": 1.0,
    "check_examples": 128,
    "test_examples": 1000,
}
# Keeps test examples apart from every training and check stream of any seed.
_TEST_SEED_OFFSET = 2_000_003


def build_model(**model_kwargs: Any):
    """`zoo.nram.model.build_nram` with this entry's defaults (memory_size=12, max_timesteps=6)."""
    return build_nram(**{**MODEL_DEFAULTS, **model_kwargs})


def data_settings(config: TrainConfig) -> dict[str, Any]:
    """`config.data_kwargs` over the defaults, checked against the model's memory size and step budget."""
    unknown = set(config.data_kwargs) - set(_DATA_DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown nram data_kwargs {sorted(unknown)}. Accepted: {sorted(_DATA_DEFAULTS)}.")
    settings = {**_DATA_DEFAULTS, **config.data_kwargs}
    task = tasks.get_task(settings["task"])
    model = {**MODEL_DEFAULTS, **config.model_kwargs}
    limit = task.max_difficulty(model["memory_size"])
    if not isinstance(settings["difficulty"], int) or not 1 <= settings["difficulty"] <= limit:
        raise ValueError(
            f"data_kwargs difficulty must be an integer in [1, {limit}] for task {task.name!r} with "
            f"memory_size={model['memory_size']}; got {settings['difficulty']!r}."
        )
    needed = task.timesteps(settings["difficulty"])
    if model["max_timesteps"] < needed:
        raise ValueError(
            f"model_kwargs max_timesteps={model['max_timesteps']} is below the {needed} steps task "
            f"{task.name!r} gets at difficulty {settings['difficulty']}; raise max_timesteps to >= {needed}."
        )
    for name in ("check_examples", "test_examples"):
        if not isinstance(settings[name], int) or settings[name] < 1:
            raise ValueError(f"data_kwargs {name} must be a positive integer; got {settings[name]!r}.")
    settings["memory_size"] = model["memory_size"]
    return settings


def make_data(config: TrainConfig, data_dir: str | None = None) -> TaskData:
    """The generated training stream with its curriculum callback and the test at the final difficulty.

    Args:
        config: the run's config; `steps_per_epoch` is the dataset's length (default 100).
        data_dir: unused (the data is generated).

    Returns:
        TaskData whose `evaluate` reports test_cell_accuracy, test_example_accuracy and success (1.0 when
        every test example is right, the paper's criterion) on `test_examples` fresh examples at `difficulty`.
    """
    settings = data_settings(config)
    dataset = NRAMDataset(
        task=settings["task"],
        memory_size=settings["memory_size"],
        max_difficulty=settings["difficulty"],
        min_difficulty=settings["min_difficulty"],
        curriculum=bool(settings["curriculum"]),
        batch_size=config.batch_size,
        batches_per_epoch=config.steps_per_epoch or 100,
        seed=config.seed,
    )
    callback = CurriculumCallback(
        dataset,
        threshold=settings["curriculum_threshold"],
        check_examples=settings["check_examples"],
        entropy_decay=settings["entropy_decay"],
    )

    def evaluate(model: Any) -> dict[str, float]:
        result = measure(
            model,
            settings["task"],
            settings["difficulty"],
            settings["memory_size"],
            settings["test_examples"],
            seed=config.seed + _TEST_SEED_OFFSET,
        )
        return {
            "test_cell_accuracy": result["cell_accuracy"],
            "test_example_accuracy": result["example_accuracy"],
            "success": float(result["example_accuracy"] == 1.0),
        }

    info = {"generated": "numpy, seeded by (seed, epoch, batch) and the curriculum difficulty", **settings}
    return TaskData(train=dataset, evaluate=evaluate, callbacks=[callback], info=info)


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The stop-weighted log-likelihood loss with per-cell and whole-example accuracy."""
    return {"loss": NRAMLoss(), "metrics": [CellAccuracy(), ExampleAccuracy()]}


def summarize_table6(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts the restarts that reach 100% whole-example test accuracy (the paper's "success").

    Args:
        results: the restarts' results.json dicts ({"metrics": {"test_example_accuracy": ...}, ...}).

    Returns:
        {"runs": n, "successes": count, "success_rate": count / n, "mean_test_example_accuracy": ...}.
    """
    accuracies = [r.get("metrics", {}).get("test_example_accuracy") for r in results]
    accuracies = [a for a in accuracies if a is not None]
    successes = sum(1 for a in accuracies if a == 1.0)
    return {
        "runs": len(accuracies),
        "successes": successes,
        "success_rate": successes / len(accuracies) if accuracies else float("nan"),
        "mean_test_example_accuracy": sum(accuracies) / len(accuracies) if accuracies else float("nan"),
    }


def _setting(name: str, learning_rate: float, eta: float, paper_rate: float) -> Setting:
    noise = rows.annealed_noise(eta) if eta else rows.no_noise()
    return Setting(
        name,
        {"learning_rate": learning_rate, **noise, **rows.clipping(global_norm=1.0)},
        {"runs": 100, "success_rate": paper_rate},
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
        _setting("setting2_no_noise", 0.003, 0.0, 0.0),
        _setting("setting2_noise", 0.003, 0.3, 0.22),
        _setting("setting3_no_noise", 0.03, 0.0, 0.03),
        _setting("setting3_noise", 0.03, 0.3, 0.07),
    ],
    columns=["runs", "successes", "success_rate", "mean_test_example_accuracy"],
    summarize=summarize_table6,
    curve_metric="example_accuracy",
    axes=("learning_rate",),
)

ENTRY = ZooEntry(
    name="nram",
    description="Neural Random-Access Machine (Kurach et al. 2015) on ListK and nine other pointer tasks",
    build_model=build_model,
    make_data=make_data,
    compile_kwargs=compile_kwargs,
    configs=CONFIGS,
    reproduction=REPRODUCTION,
    presets=PRESETS,
    default_preset="access",
)
