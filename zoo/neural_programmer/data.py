"""The Neural Programmer's data options and pipeline: generated tables and questions, the per-epoch held-out
answer accuracy and the final test accuracy with hard (argmax) selection."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from zoo.config import TrainConfig
from zoo.neural_programmer import tables
from zoo.registry import TaskData


@dataclasses.dataclass(frozen=True)
class NeuralProgrammerDataOptions:
    """The keys of `config.data_kwargs` for the Neural Programmer, with their defaults.

    Args:
        num_rows: rows per table, 1 to 1000.
        num_columns: numeric columns per table, 1 to 5 (named A..E).
        num_text_columns: text columns per table, 0 to 5 (named F..J).
        num_train: the fixed training set's size, served in the same order every epoch.
        num_validation: held-out examples behind the per-epoch "val_answer_accuracy".
        num_test: examples of an independent stream behind the final "test_accuracy".
        templates: the question templates to draw from; None: every template the tables allow.
        max_question_length: the encoded question's length in words.
    """

    num_rows: int = 10
    num_columns: int = 1
    num_text_columns: int = 0
    num_train: int = 10000
    num_validation: int = 500
    num_test: int = 1000
    templates: Sequence[str] | None = None
    max_question_length: int = 10

    def __post_init__(self) -> None:
        tables.check_sizes(self.num_rows, self.num_columns, self.num_text_columns)
        for name in ("num_train", "num_validation", "num_test", "max_question_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"data_kwargs[{name!r}] must be a positive integer; got {value!r}.")

    def generator_kwargs(self) -> dict[str, Any]:
        """The arguments of `tables.generate_examples` that shape the tables and questions."""
        return {
            key: getattr(self, key) for key in ("num_rows", "num_columns", "num_text_columns", "templates")
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
    options = NeuralProgrammerDataOptions(**config.data_kwargs)
    generator = options.generator_kwargs()
    train = tables.TableQADataset(
        options.num_train,
        config.batch_size,
        seed=config.seed,
        max_question_length=options.max_question_length,
        **generator,
    )
    held_out = {}
    for split in ("validation", "test"):
        examples = tables.generate_examples(
            getattr(options, f"num_{split}"), seed=config.seed, split=split, **generator
        )
        x, y = tables.encode(examples, options.max_question_length)
        held_out[split] = (x, y, [example.template for example in examples])

    def evaluate(model: Any) -> dict[str, float]:
        return evaluate_answers(model, *held_out["test"], prefix="test_")

    return TaskData(
        train=train,
        evaluate=evaluate,
        callbacks=[AnswerAccuracy(*held_out["validation"])],
        info={
            "generator": "zoo.neural_programmer.tables (synthetic, seeded)",
            **{key: value for key, value in dataclasses.asdict(options).items() if value is not None},
        },
    )
