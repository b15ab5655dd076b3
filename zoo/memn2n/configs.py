"""Named MemN2N training configs. Every function's docstring holds the command that runs it.

Training follows the paper and the reference code: SGD, batch 32, learning rate 0.01 halved every 25 epochs,
gradient clipped to global norm 40 (the noise is added after clipping), summed (not averaged) cross-entropy
over the batch as in the reference code, 10% of every task's training questions held out for validation.
"""

from __future__ import annotations

from zoo.config import TrainConfig

from .babi import BABI_EN_VOCABULARY

ALL_TASKS = list(range(1, 21))


def _base(**changes: object) -> TrainConfig:
    config = TrainConfig(
        model="memn2n",
        model_kwargs={
            "vocab_size": len(BABI_EN_VOCABULARY),
            "memory_size": 50,
            "sentence_size": 11,
            "embedding_dim": 20,
            "hops": 3,
            "linear_start_epochs": 20,
            "init_stddev": 0.1,
        },
        data_kwargs={"tasks": [1], "validation_fraction": 0.1, "time_noise": 0.1, "fixture": False},
        optimizer="sgd",
        learning_rate=0.01,
        lr_decay_every_epochs=25,
        lr_decay_factor=0.5,
        global_clipnorm=40.0,
        epochs=100,
        batch_size=32,
    )
    return config.replace(**changes)


def smoke() -> TrainConfig:
    """Seconds: the shipped fixture, 2 epochs, linear start for the first one.

    python train.py --model=memn2n --config=smoke --workdir=/tmp/memn2n_smoke
    """
    return _base(
        model_kwargs={"linear_start_epochs": 1},
        data_kwargs={"tasks": [1], "fixture": True},
        epochs=2,
    )


def default() -> TrainConfig:
    """Task 1 of bAbI 1k, two-stage (no softmax for the first 20 epochs), 100 epochs, no noise.

    A few minutes on a 2-core CPU. Pick another task on the command line: `--override=data_kwargs.tasks=[2]`
    (train.py and reproduce.py).

    python train.py --model=memn2n --config=default --workdir=/tmp/m1 --data_dir=../shared/data/babi/en
    """
    return _base()


def joint() -> TrainConfig:
    """All 20 tasks trained jointly in one model, two-stage, 100 epochs, no noise; per-task test errors.

    python train.py --model=memn2n --config=joint --workdir=/tmp/mj --data_dir=../shared/data/babi/en
    """
    return _base(data_kwargs={"tasks": ALL_TASKS})


def paper() -> TrainConfig:
    """Table 4 of Neelakantan et al. 2015, two-stage row with noise: joint 20 tasks, eta = 1.0, 200 epochs.

    python train.py --model=memn2n --config=paper --workdir=/tmp/mp --data_dir=../shared/data/babi/en
    """
    return _base(data_kwargs={"tasks": ALL_TASKS}, noise_eta=1.0, epochs=200)


def joint_cpu() -> TrainConfig:
    """`joint` scaled to a shared 2-core CPU: 45 epochs, lr halved every 11, linear start for 9 (~10 min).

    Used for the scaled Table 4 reproduction (docs/memn2n.md, which holds the reproduce.py command).

    python train.py --model=memn2n --config=joint_cpu --workdir=/tmp/mjc --data_dir=../shared/data/babi/en
    """
    return _base(
        model_kwargs={"linear_start_epochs": 9},
        data_kwargs={"tasks": ALL_TASKS},
        epochs=45,
        lr_decay_every_epochs=11,
    )


CONFIGS = {"smoke": smoke, "default": default, "joint": joint, "joint_cpu": joint_cpu, "paper": paper}
