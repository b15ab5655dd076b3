"""The Neural GPU (Kaiser & Sutskever 2015) on binary addition and multiplication: section 4.5 / Table 7 of
Neelakantan et al. 2015 (arXiv 1511.06807).

    python train.py --model=neural_gpu --config=default --workdir=/tmp/ngpu

Table 7 counts runs whose per-bit error on 200-digit numbers is below 1/2/3/5%: here `bit_error_len401` (length
401 = two 200-bit operands; the runs train on numbers of up to 20 bits, length 41, as the reference does).
"""

from __future__ import annotations

from typing import Any

from zoo import rows
from zoo.config import TrainConfig
from zoo.neural_gpu import tasks
from zoo.neural_gpu.configs import CONFIGS
from zoo.neural_gpu.curriculum import ArithmeticDataset, CurriculumCallback
from zoo.neural_gpu.model import CGRU, BitError, MaskedSequenceCrossentropy, NeuralGPU, SequenceError
from zoo.neural_gpu.presets import PRESETS
from zoo.registry import ReproductionSpec, Setting, TaskData, ZooEntry

__all__ = [
    "CGRU",
    "ENTRY",
    "ArithmeticDataset",
    "BitError",
    "CurriculumCallback",
    "MaskedSequenceCrossentropy",
    "NeuralGPU",
    "SequenceError",
    "build_model",
    "make_data",
]

SUCCESS_THRESHOLDS = (0.01, 0.02, 0.03, 0.05)
SUCCESS_METRIC = "bit_error_len401"
_DATA_DEFAULTS: dict[str, Any] = {
    "task": "badd",
    "min_length": 4,
    "max_length": 20,
    "curriculum_threshold": 0.2,
    "curriculum_step": 1,
    "mixed_sizes": True,
    "check_examples": 64,
    "eval_lengths": [20, 200],
    "eval_examples": 64,
    "eval_batch_size": 32,
}
# Keeps evaluation examples apart from every training stream of any seed.
_EVAL_SEED_OFFSET = 1_000_003


def build_model(**model_kwargs: Any) -> NeuralGPU:
    """An unbuilt NeuralGPU over the binary-arithmetic vocabulary; see `NeuralGPU` for the arguments."""
    return NeuralGPU(**{"vocab_size": tasks.VOCAB_SIZE, **model_kwargs})


def data_settings(config: TrainConfig) -> dict[str, Any]:
    """`config.data_kwargs` merged over the defaults; unknown keys are a ValueError listing the accepted ones."""
    unknown = set(config.data_kwargs) - set(_DATA_DEFAULTS)
    if unknown:
        raise ValueError(
            f"Unknown neural_gpu data_kwargs {sorted(unknown)}. Accepted: {sorted(_DATA_DEFAULTS)}."
        )
    settings = {**_DATA_DEFAULTS, **config.data_kwargs}
    tasks.check_task(settings["task"])
    for length in settings["eval_lengths"]:
        tasks.check_length(length, "eval_lengths entry")
    return settings


def make_data(config: TrainConfig, data_dir: str | None = None) -> TaskData:
    """The generated training stream, its curriculum callback and the length-sweep evaluation.

    Args:
        config: the run's config; `steps_per_epoch` is the dataset's length (default 100).
        data_dir: unused (the data is generated).

    Returns:
        TaskData whose `evaluate` reports bit_error_len{n} and sequence_error_len{n} for each n in eval_lengths.
    """
    settings = data_settings(config)
    dataset = ArithmeticDataset(
        task=settings["task"],
        min_length=settings["min_length"],
        max_length=settings["max_length"],
        batch_size=config.batch_size,
        batches_per_epoch=config.steps_per_epoch or 100,
        seed=config.seed,
        mixed_sizes=settings["mixed_sizes"],
    )
    callback = CurriculumCallback(
        dataset,
        threshold=settings["curriculum_threshold"],
        check_examples=settings["check_examples"],
        step=settings["curriculum_step"],
    )

    def evaluate(model: Any) -> dict[str, float]:
        return evaluate_lengths(
            model,
            settings["task"],
            settings["eval_lengths"],
            settings["eval_examples"],
            seed=config.seed + _EVAL_SEED_OFFSET,
            batch_size=settings["eval_batch_size"],
        )

    info = {"task": settings["task"], "generated": "numpy, seeded by (seed, epoch, batch)", **settings}
    return TaskData(train=dataset, evaluate=evaluate, callbacks=[callback], info=info)


def evaluate_lengths(
    model: Any, task: str, lengths: list[int], examples: int, seed: int, batch_size: int = 32
) -> dict[str, float]:
    """Per-bit and per-sequence error at each length, on fresh examples seeded by `seed`.

    Returns:
        {"bit_error_len20": ..., "sequence_error_len20": ..., ...}.
    """
    metrics: dict[str, float] = {}
    for length in lengths:
        result = tasks.measure_error(model, task, length, examples, seed=seed, batch_size=batch_size)
        metrics[f"bit_error_len{length}"] = result["bit_error"]
        metrics[f"sequence_error_len{length}"] = result["sequence_error"]
    return metrics


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """Masked cross-entropy loss with per-bit and per-sequence error metrics."""
    return {"loss": MaskedSequenceCrossentropy(), "metrics": [BitError(), SequenceError()]}


def summarize_table7(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts the restarts whose per-bit error on 200-bit numbers is below each of Table 7's thresholds.

    Args:
        results: the restarts' results.json dicts ({"metrics": {"bit_error_len401": ...}, ...}).

    Returns:
        {"runs": n, "error<1%": count, "error<2%": ..., "error<3%": ..., "error<5%": ...}.
    """
    errors = [r.get("metrics", {}).get(SUCCESS_METRIC) for r in results]
    errors = [e for e in errors if e is not None]
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

ENTRY = ZooEntry(
    name="neural_gpu",
    description="Neural GPU (Kaiser & Sutskever 2015) on binary addition/multiplication with a length curriculum",
    build_model=build_model,
    make_data=make_data,
    compile_kwargs=compile_kwargs,
    configs=CONFIGS,
    reproduction=REPRODUCTION,
    presets=PRESETS,
    # The adder that generalizes from 20- to 200-bit numbers (`badd` is the short CPU run that does not).
    default_preset="badd20",
)
