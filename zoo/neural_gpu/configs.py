"""Named configs of the Neural GPU: `smoke`, `default`, `table7` and `paper`.

Lengths are sequence lengths (see zoo/neural_gpu/tasks.py): length 20 means two 9-bit operands, length 200 two
99-bit operands. Success in Table 7 is judged on `bit_error_len200`.
"""

from __future__ import annotations

from zoo.config import TrainConfig

# Model settings of Kaiser & Sutskever 2015 (24 maps, height 4, two 3x3 CGRUs per step, gate cutoff 1.2).
PAPER_MODEL = {
    "nmaps": 24,
    "height": 4,
    "num_layers": 2,
    "kernel_width": 3,
    "kernel_height": 3,
    "cutoff": 1.2,
    "dropout": 0.1,
    "initial_curriculum_length": 6,
}


def smoke() -> TrainConfig:
    """A few seconds on CPU: a tiny model, two steps, evaluation on a handful of short examples.

    python train.py --model=neural_gpu --config=smoke --workdir=/tmp/ngpu_smoke
    """
    return TrainConfig(
        model="neural_gpu",
        model_kwargs={
            "nmaps": 8,
            "height": 2,
            "num_layers": 1,
            "dropout": 0.1,
            "initial_curriculum_length": 4,
        },
        data_kwargs={
            "task": "badd",
            "min_length": 3,
            "max_length": 6,
            "check_examples": 8,
            "eval_lengths": [6, 12],
            "eval_examples": 8,
        },
        optimizer="adam",
        optimizer_kwargs={"epsilon": 1e-4},
        learning_rate=1e-3,
        global_clipnorm=1.0,
        noise_eta=1.0,
        epochs=1,
        steps_per_epoch=2,
        batch_size=8,
    )


def default() -> TrainConfig:
    """Binary addition on a 2-core CPU: reaches 0 errors at length 20; does NOT yet generalize to 200 (see docs).

    python train.py --model=neural_gpu --config=default --workdir=/tmp/ngpu
    """
    return TrainConfig(
        model="neural_gpu",
        model_kwargs={**PAPER_MODEL, "dropout": 0.05},
        data_kwargs={
            "task": "badd",
            "min_length": 4,
            "max_length": 20,
            "curriculum_threshold": 0.2,
            "curriculum_step": 2,
            "check_examples": 64,
            "eval_lengths": [20, 50, 100, 200],
            "eval_examples": 64,
        },
        optimizer="adam",
        optimizer_kwargs={"epsilon": 1e-4},
        learning_rate=1e-3,
        global_clipnorm=1.0,
        noise_eta=0.0,
        epochs=85,
        steps_per_epoch=50,
        batch_size=32,
    )


def table7() -> TrainConfig:
    """Binary multiplication sized for a CPU restart sweep (Table 7 reproduction at small scale).

    python reproduce.py --model=neural_gpu --restarts=4 --jobs=2 --out=docs/results/neural_gpu
    python train.py --model=neural_gpu --config=table7 --workdir=/tmp/ngpu_bmul
    """
    return TrainConfig(
        model="neural_gpu",
        model_kwargs=dict(PAPER_MODEL),
        data_kwargs={
            "task": "bmul",
            "min_length": 4,
            "max_length": 20,
            "curriculum_threshold": 0.15,
            "check_examples": 64,
            "eval_lengths": [20, 200],
            "eval_examples": 32,
        },
        optimizer="adam",
        optimizer_kwargs={"epsilon": 1e-4},
        learning_rate=1e-3,
        global_clipnorm=1.0,
        noise_eta=1.0,
        noise_gamma=0.55,
        epochs=40,
        steps_per_epoch=50,
        batch_size=32,
    )


def paper() -> TrainConfig:
    """The reference settings for binary multiplication on a GPU (Adam 1e-3, eps 1e-4, global clip 1, eta 1).

    python train.py --model=neural_gpu --config=paper --workdir=/tmp/ngpu_paper
    """
    return TrainConfig(
        model="neural_gpu",
        model_kwargs=dict(PAPER_MODEL),
        data_kwargs={
            "task": "bmul",
            "min_length": 4,
            "max_length": 20,
            "curriculum_threshold": 0.15,
            "check_examples": 128,
            "eval_lengths": [20, 50, 100, 200],
            "eval_examples": 256,
        },
        optimizer="adam",
        optimizer_kwargs={"epsilon": 1e-4},
        learning_rate=1e-3,
        global_clipnorm=1.0,
        noise_eta=1.0,
        noise_gamma=0.55,
        epochs=200,
        steps_per_epoch=200,
        batch_size=32,
    )


CONFIGS = {"smoke": smoke, "default": default, "table7": table7, "paper": paper}
