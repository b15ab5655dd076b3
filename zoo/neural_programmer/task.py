"""Kept only for the importers of `zoo.neural_programmer.task.evaluate_answers` (preset.py and its test); the
data pipeline lives in data.py, the model's loss in model.py and the Table 5 summary in paper.py."""

from zoo.neural_programmer.data import evaluate_answers

__all__ = ["evaluate_answers"]
