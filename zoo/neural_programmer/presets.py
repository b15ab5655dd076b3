"""The Neural Programmer presets (data only) and their fixture check; `python -m zoo.pretrained export` makes them.

    python -m zoo.pretrained export --model=neural_programmer --preset=single_column \
        --workdir=runs/neural_programmer/single_no_noise/restart_003

The check is the accuracy on freshly generated test examples (seed FRESH_SEED, apart from every training run)
shaped like the run's tables.
"""

from __future__ import annotations

from typing import Any

from zoo.config import TrainConfig
from zoo.pretrained import Preset

FRESH_SEED = 20151116  # the Neural Programmer paper's arXiv date; any seed no training run uses
FRESH_EXAMPLES = 1000


def fresh_examples(data_kwargs: dict[str, Any], seed: int = FRESH_SEED, num_examples: int = FRESH_EXAMPLES):
    """(x, y, templates) of `num_examples` newly generated test examples shaped like the run's tables."""
    from zoo.neural_programmer import tables

    sizes = {
        key: data_kwargs[key] for key in ("num_rows", "num_columns", "num_text_columns") if key in data_kwargs
    }
    examples = tables.generate_examples(num_examples, seed=seed, split="test", **sizes)
    x, y = tables.encode(examples, data_kwargs.get("max_question_length", 10))
    return x, y, [example.template for example in examples]


def fresh_accuracy(model: Any, config: TrainConfig) -> float:
    """Accuracy of `model` on the FRESH_EXAMPLES fresh test examples of seed FRESH_SEED."""
    from zoo.neural_programmer.data import evaluate_answers

    x, y, templates = fresh_examples(config.data_kwargs)
    return evaluate_answers(model, x, y, templates, prefix="")["accuracy"]


PRESETS = (
    Preset(
        name="single_column",
        model="neural_programmer",
        command=(
            "python reproduce.py --model=neural_programmer --settings=single_no_noise,single_noise,single_dropout "
            "--restarts=4 --jobs=2 --out=docs/results/neural_programmer/single_column (run "
            "single_no_noise/restart_003; equivalent: python train.py --model=neural_programmer "
            "--config=single_column --noise_eta=0 --learning_rate=0.003 --seed=3 --workdir=DIR)"
        ),
        metric="fresh_test_accuracy",
        measure=fresh_accuracy,
        tolerance=0.003,  # hard selection is deterministic; 3 of the 1000 answers may flip on float rounding
    ),
)
