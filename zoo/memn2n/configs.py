"""Named MemN2N training configs. Every function's docstring holds the command that runs it.

Training follows the paper and the reference code: SGD, batch 32, learning rate 0.01 halved every 25 epochs,
gradient clipped to global norm 40 (the noise is added after clipping), summed (not averaged) cross-entropy
over the batch as in the reference code, 10% of every task's training questions held out for validation.
"""

from __future__ import annotations

from zoo.config import TrainConfig
from zoo.memn2n.babi_facts import ALL_TASKS, BABI_EN_VOCABULARY, REFERENCE_MEMORY_SIZE
from zoo.memn2n.data import MemN2NDataOptions
from zoo.memn2n.model import model_arguments
from zoo.memn2n.paper import REFERENCE_CLIPPING


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


# The reference code's recipe (issue 17). Every number below is read in the authors' MemN2N-babi-matlab:
# config_babi.m for one model per task, config_babi_joint.m for the joint model (zoo/memn2n/schedule.py has
# how train_linear_start.m and train.m use them). The learning rate is the one both stages start at: with
# linear start both files set ls_init_lrate = config.init_lrate = 0.01/2. The rows of the reference tables
# (paper.py) set it per row: 0.005 two-stage, 0.01 one-stage (the files' init_lrate without linear start).
_PER_TASK_SCHEDULE = {"switch": "plateau", "stage_epochs": 100, "decay_every": 25, "patience": 1}
_JOINT_SCHEDULE = {"switch": "plateau", "stage_epochs": 60, "decay_every": 15, "patience": 1}


def per_task() -> TrainConfig:
    """The reference's per-task recipe (config_babi.m), one bAbI task (1 by default), two-stage, no noise.

    Linear start at lr 0.01/2 until the validation loss stops falling, at most 20 epochs (ls_nepochs); then the
    softmax is put back and the schedule restarts: 100 epochs (nepochs) from 0.005, halved every 25
    (lrate_decay_step) as train.m counts; then the run stops. Embedding 20 (input_dim), 3 hops, each weight's
    gradient clipped to norm 40 on its own (max_grad_norm in nn/Weight.m), batch 32, random time noise 0.1
    (randomize_time), adjacent tying (share_type = 1).
    `reproduce.py --table=reference_per_task` trains it for each task; another task in Python:
    `config.replace(data_kwargs={"tasks": [3]})`.

    python train.py --model=memn2n --config=per_task --workdir=/tmp/mt --data_dir=../shared/data/babi/en
    """
    return base().replace(
        model_kwargs={"linear_start_epochs": 20},
        data_kwargs={"schedule": dict(_PER_TASK_SCHEDULE)},
        learning_rate=0.005,
        lr_decay_every_epochs=None,  # the schedule callback sets the rate every epoch
        **REFERENCE_CLIPPING,
        epochs=20
        + _PER_TASK_SCHEDULE["stage_epochs"],  # an upper bound: the run stops 100 epochs after the switch
    )


def per_task_fixed() -> TrainConfig:
    """`per_task` with the reference code's fixed switch: softmax back after exactly 20 epochs, 120 in all.

    python train.py --model=memn2n --config=per_task_fixed --workdir=/tmp/mtf --data_dir=../shared/data/babi/en
    """
    return per_task().replace(data_kwargs={"schedule": {**_PER_TASK_SCHEDULE, "switch": "epochs"}})


def per_task_exact() -> TrainConfig:
    """`per_task_fixed` with two more parts of the reference code: the memory as large as the task's longest
    training story (config.sz = min(50, size(story, 2)): 10 for task 1, babi_facts.REFERENCE_MEMORY_SIZE) and
    the number of random blanks drawn up to ceil(0.1 n) inclusive (train.m's randi([0, ceil(n * 0.1)])).

    python train.py --model=memn2n --config=per_task_exact --workdir=/tmp/mte --data_dir=../shared/data/babi/en
    """
    return per_task_fixed().replace(
        model_kwargs={"memory_size": REFERENCE_MEMORY_SIZE[1]}, data_kwargs={"time_noise_blanks": "inclusive"}
    )


def per_task_no_rn() -> TrainConfig:
    """`per_task` without random noise in time (the MemN2N paper's "PE LS" instead of "PE LS RN").

    python train.py --model=memn2n --config=per_task_no_rn --workdir=/tmp/mtn --data_dir=../shared/data/babi/en
    """
    return per_task().replace(data_kwargs={"time_noise": 0.0})


def per_task_smoke() -> TrainConfig:
    """Seconds: `per_task` on the shipped fixture, at most 1 linear-start epoch, 2 softmax epochs (decay every 1).

    python train.py --model=memn2n --config=per_task_smoke --workdir=/tmp/mts
    """
    return per_task().replace(
        model_kwargs={"linear_start_epochs": 1},
        data_kwargs={
            "fixture": True,
            "schedule": {**_PER_TASK_SCHEDULE, "stage_epochs": 2, "decay_every": 1},
        },
        epochs=3,
    )


def joint_reference() -> TrainConfig:
    """The reference's joint recipe (config_babi_joint.m): all 20 tasks in one model, two-stage, no noise.

    Embedding 50 (input_dim); linear start at lr 0.01/2 until the validation loss stops falling, at most 30
    epochs (ls_nepochs); then 60 epochs (nepochs) from 0.005, halved every 15 (lrate_decay_step); then stop.

    python train.py --model=memn2n --config=joint_reference --workdir=/tmp/mjr --data_dir=../shared/data/babi/en
    """
    return base().replace(
        model_kwargs={"linear_start_epochs": 30, "embedding_dim": 50},
        data_kwargs={"tasks": list(ALL_TASKS), "schedule": dict(_JOINT_SCHEDULE)},
        learning_rate=0.005,
        lr_decay_every_epochs=None,
        **REFERENCE_CLIPPING,
        epochs=30 + _JOINT_SCHEDULE["stage_epochs"],
    )


def joint_reference_fixed() -> TrainConfig:
    """`joint_reference` with the reference code's fixed switch after exactly 30 epochs, 90 in all.

    python train.py --model=memn2n --config=joint_reference_fixed --workdir=/tmp/mjf --data_dir=../shared/data/babi/en
    """
    return joint_reference().replace(data_kwargs={"schedule": {**_JOINT_SCHEDULE, "switch": "epochs"}})


def joint_reference_lw() -> TrainConfig:
    """`joint_reference_fixed` with layer-wise weight tying and the hop map H (the MemN2N paper's "PE LS LW joint").

    One A and one C for every hop (share_type 2 in the reference code), u^{k+1} = H u^k + o^k (add_proj).

    python train.py --model=memn2n --config=joint_reference_lw --workdir=/tmp/mjl --data_dir=../shared/data/babi/en
    """
    return joint_reference_fixed().replace(model_kwargs={"weight_tying": "layerwise", "hop_projection": True})


CONFIGS = {
    "smoke": smoke,
    "default": default,
    "joint": joint,
    "joint_cpu": joint_cpu,
    "paper": paper,
    "per_task": per_task,
    "per_task_fixed": per_task_fixed,
    "per_task_exact": per_task_exact,
    "per_task_no_rn": per_task_no_rn,
    "per_task_smoke": per_task_smoke,
    "joint_reference": joint_reference,
    "joint_reference_fixed": joint_reference_fixed,
    "joint_reference_lw": joint_reference_lw,
}
