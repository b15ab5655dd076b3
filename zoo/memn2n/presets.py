"""The MemN2N presets (data only) and their fixture check; `python -m zoo.pretrained export` makes them.

    python -m zoo.pretrained export --model=memn2n --preset=joint \
        --workdir=runs/memn2n/joint_cpu/two_stage_noise_eta1/restart_000
"""

from __future__ import annotations

from typing import Any

from zoo.config import TrainConfig
from zoo.pretrained import Preset, sample_tolerance

# The shipped sample: every qa1 question of the bAbI fixture, the first 90 training and 15 test questions of the
# official files (the training ones were in the preset's training set).
SAMPLE_QUESTIONS = 105


def fixture_error(model: Any, config: TrainConfig) -> float:
    """Error (fraction of wrong answers) of `model` on every qa1 question of the shipped bAbI fixture."""
    from zoo.memn2n import babi
    from zoo.memn2n.data import FIXTURE_DIR, task_errors

    layer = model.get_layer("memn2n")
    examples = [e for split in ("train", "test") for e in babi.load_tasks([1], split, FIXTURE_DIR)[1]]
    arrays = babi.vectorize(examples, babi.BABI_EN_VOCABULARY, layer.memory_size, layer.sentence_size)
    return task_errors(model, arrays)[1]


PRESETS = (
    Preset(
        name="joint",
        model="memn2n",
        command=(
            "python reproduce.py --model=memn2n --config=joint_cpu --restarts=1 --jobs=2 "
            "--data_dir=/work/shared/data/babi/en --out=docs/results/memn2n (setting two_stage_noise_eta1, restart "
            "0; equivalent single run: python train.py --model=memn2n --config=joint_cpu --noise_eta=1.0 --seed=0 "
            "--workdir=/tmp/mjc --data_dir=../shared/data/babi/en)"
        ),
        metric="shipped_sample.value",
        measure=fixture_error,
        tolerance=sample_tolerance(SAMPLE_QUESTIONS),
    ),
)
