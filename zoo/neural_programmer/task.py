"""The Neural Programmer's data pipeline, loss, test-time evaluation and Table 5 summary for the zoo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from zoo.config import TrainConfig
from zoo.neural_programmer import tables
from zoo.neural_programmer.model import LookupAnswerLoss, NeuralProgrammer, ScalarAnswerLoss
from zoo.registry import TaskData

DATA_DEFAULTS: dict[str, Any] = {
    "num_rows": 10,
    "num_columns": 1,
    "num_text_columns": 0,
    "num_train": 10000,
    "num_validation": 500,
    "num_test": 1000,
    "templates": None,
    "max_question_length": 10,
}


def data_settings(config: TrainConfig) -> dict[str, Any]:
    """config.data_kwargs over the defaults; a ValueError names any unknown key."""
    unknown = sorted(set(config.data_kwargs) - set(DATA_DEFAULTS))
    if unknown:
        raise ValueError(
            f"Unknown data_kwargs {unknown} for neural_programmer; known: {sorted(DATA_DEFAULTS)}."
        )
    settings = {**DATA_DEFAULTS, **config.data_kwargs}
    for name in ("num_validation", "num_test"):
        if not isinstance(settings[name], int) or settings[name] < 1:
            raise ValueError(f"data_kwargs[{name!r}] must be a positive integer; got {settings[name]!r}.")
    return settings


def _generator_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: settings[key] for key in ("num_rows", "num_columns", "num_text_columns", "templates")}


def build_model(**model_kwargs: Any) -> NeuralProgrammer:
    """The Neural Programmer from config.model_kwargs (see NeuralProgrammer for the arguments)."""
    return NeuralProgrammer(**model_kwargs)


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The paper's objective: the Huber loss on scalar answers plus lambda times the log loss on lookups."""
    defaults = {"huber_delta": 10.0, "lookup_loss_weight": 50.0}
    settings = {key: config.model_kwargs.get(key, value) for key, value in defaults.items()}
    return {
        "loss": {"scalar": ScalarAnswerLoss(settings["huber_delta"]), "lookup": LookupAnswerLoss()},
        "loss_weights": {"scalar": 1.0, "lookup": settings["lookup_loss_weight"]},
    }


def evaluate_answers(
    model: Any, x: dict[str, np.ndarray], y: dict[str, np.ndarray], templates: Sequence[str], prefix: str
) -> dict[str, float]:
    """Answer accuracy with hard (argmax) selection, overall and per question template.

    Returns:
        {prefix + "accuracy": fraction right, prefix + "accuracy_" + template: fraction right, ...}.
    """
    outputs = model.predict(x, batch_size=500, verbose=0)
    correct = tables.answers_correct(outputs["scalar"], outputs["lookup"], y)
    names = np.asarray(templates)
    metrics = {f"{prefix}accuracy": float(correct.mean())}
    for name in sorted(set(templates)):
        metrics[f"{prefix}accuracy_{name}"] = float(correct[names == name].mean())
    return metrics


class AnswerAccuracy(keras.callbacks.Callback):
    """Puts the hard-selection answer accuracy on held-out examples into the logs as "val_answer_accuracy"."""

    def __init__(self, x: dict[str, np.ndarray], y: dict[str, np.ndarray], templates: Sequence[str]):
        super().__init__()
        self.x, self.y, self.templates = x, y, list(templates)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            metrics = evaluate_answers(self.model, self.x, self.y, self.templates, "val_")
            logs["val_answer_accuracy"] = metrics["val_accuracy"]


def make_data(config: TrainConfig, data_dir: str | None = None) -> TaskData:
    """Generated training, validation and test examples (synthetic: `data_dir` is not used).

    The training set is fixed and served in the same order every epoch (reproducible by seed, resumable); the
    validation examples feed the per-epoch "val_answer_accuracy"; the test examples, drawn from an independent
    stream, give the final "test_accuracy" (and one per template) with hard selection.
    """
    settings = data_settings(config)
    generator = _generator_kwargs(settings)
    train = tables.TableQADataset(
        settings["num_train"],
        config.batch_size,
        seed=config.seed,
        max_question_length=settings["max_question_length"],
        **generator,
    )
    held_out = {}
    for split in ("validation", "test"):
        examples = tables.generate_examples(
            settings[f"num_{split}"], seed=config.seed, split=split, **generator
        )
        x, y = tables.encode(examples, settings["max_question_length"])
        held_out[split] = (x, y, [example.template for example in examples])

    def evaluate(model: Any) -> dict[str, float]:
        return evaluate_answers(model, *held_out["test"], prefix="test_")

    return TaskData(
        train=train,
        evaluate=evaluate,
        callbacks=[AnswerAccuracy(*held_out["validation"])],
        info={
            "generator": "zoo.neural_programmer.tables (synthetic, seeded)",
            **{key: value for key, value in settings.items() if value is not None},
        },
    )


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One Table 5 row from all restarts of a setting.

    Returns:
        "perfect": runs with 100% test accuracy out of all runs ("k/n"); "best_accuracy" and
        "mean_accuracy": test accuracy in %.
    """
    accuracies = [float(result["metrics"]["test_accuracy"]) for result in results]
    if not accuracies:
        return {"perfect": "0/0", "best_accuracy": float("nan"), "mean_accuracy": float("nan")}
    perfect = sum(accuracy >= 1.0 for accuracy in accuracies)
    return {
        "perfect": f"{perfect}/{len(accuracies)}",
        "best_accuracy": round(100.0 * max(accuracies), 1),
        "mean_accuracy": round(100.0 * float(np.mean(accuracies)), 1),
    }
