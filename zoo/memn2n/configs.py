"""Named MemN2N training configs. Every function's docstring holds the command that runs it.

Training follows the paper and the reference code: SGD, batch 32, learning rate 0.01 halved every 25 epochs,
gradient clipped to global norm 40 (the noise is added after clipping), summed (not averaged) cross-entropy
over the batch as in the reference code, 10% of every task's training questions held out for validation.
"""

from __future__ import annotations

from zoo.config import TrainConfig
from zoo.memn2n.babi_facts import ALL_TASKS, BABI_EN_VOCABULARY
from zoo.memn2n.data import MemN2NDataOptions
from zoo.memn2n.model import model_arguments


def base() -> TrainConfig:
    """What every config starts from (`default`): task 1, two-stage (linear start for 20 epochs), 100 epochs.

    Every model and data option is spelled out, so that a run's config.json states them all; the values are
    build_model's and MemN2NDataOptions' defaults, which set them in one place.
    """
    return TrainConfig(
        model="memn2n",
        model_kwargs=model_arguments({"vocab_size": len(BABI_EN_VOCABULARY), "linear_start_epochs": 20}),
        data_kwargs=MemN2NDataOptions().as_data_kwargs(),
        optimizer="sgd",
        learning_rate=0.01,
        lr_decay_every_epochs=25,
        lr_decay_factor=0.5,
        global_clipnorm=40.0,
        epochs=100,
        batch_size=32,
    )


def smoke() -> TrainConfig:
    """Seconds: the shipped fixture, 2 epochs, linear start for the first one.

    python train.py --model=memn2n --config=smoke --workdir=/tmp/memn2n_smoke
    """
    return base().replace(model_kwargs={"linear_start_epochs": 1}, data_kwargs={"fixture": True}, epochs=2)


def default() -> TrainConfig:
    """Task 1 of bAbI 1k, two-stage (no softmax for the first 20 epochs), 100 epochs, no noise.

    A few minutes on a 2-core CPU. Pick another task on the command line: `--override=data_kwargs.tasks=[2]`
    (train.py and reproduce.py).

    python train.py --model=memn2n --config=default --workdir=/tmp/m1 --data_dir=../shared/data/babi/en
    """
    return base()


def joint() -> TrainConfig:
    """All 20 tasks trained jointly in one model, two-stage, 100 epochs, no noise; per-task test errors.

    python train.py --model=memn2n --config=joint --workdir=/tmp/mj --data_dir=../shared/data/babi/en
    """
    return base().replace(data_kwargs={"tasks": list(ALL_TASKS)})


def paper() -> TrainConfig:
    """Table 4 of Neelakantan et al. 2015, two-stage row with noise: joint 20 tasks, eta = 1.0, 200 epochs.

    python train.py --model=memn2n --config=paper --workdir=/tmp/mp --data_dir=../shared/data/babi/en
    """
    return joint().replace(noise_eta=1.0, epochs=200)


def joint_cpu() -> TrainConfig:
    """`joint` scaled to a shared 2-core CPU: 45 epochs, lr halved every 11, linear start for 9.

    Used for the scaled Table 4 reproduction (docs/memn2n.md, which holds the reproduce.py command).

    python train.py --model=memn2n --config=joint_cpu --workdir=/tmp/mjc --data_dir=../shared/data/babi/en
    """
    return joint().replace(model_kwargs={"linear_start_epochs": 9}, epochs=45, lr_decay_every_epochs=11)


CONFIGS = {"smoke": smoke, "default": default, "joint": joint, "joint_cpu": joint_cpu, "paper": paper}
