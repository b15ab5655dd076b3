"""The Neural GPU presets (data only) and their fixture check; `python -m zoo.pretrained export` makes them.

    python -m zoo.pretrained export --model=neural_gpu --preset=badd20 --workdir=/tmp/ngpu_badd20

The check is the per-bit error on examples generated from a fixed seed at the longest training length.
"""

from __future__ import annotations

import functools
from typing import Any

from zoo.config import TrainConfig
from zoo.pretrained import Preset

SEED = 20151120  # of the generated examples; the same for every preset


def bit_error(model: Any, config: TrainConfig, *, length: int, examples: int) -> float:
    """Per-bit error of `model` on `examples` examples of the run's task at `length`, generated from SEED."""
    from zoo.neural_gpu import tasks

    task = config.data_kwargs.get("task", "badd")
    return tasks.measure_error(model, task, length, examples, seed=SEED, batch_size=32)["bit_error"]


PRESETS = (
    Preset(
        name="badd",
        model="neural_gpu",
        command=(
            "python train.py --model=neural_gpu --config=default --workdir=/tmp/ngpu_default --verbose=2 (run with "
            "epochs=50, stopped after epoch 40, config.json and the default config set to epochs=85, continued "
            "with the same command plus --resume; nothing in the training depends on the epoch count)"
        ),
        metric="remeasured.bit_error_len20",
        measure=functools.partial(bit_error, length=20, examples=32),
        tolerance=0.005,  # a few of the several hundred scored bits may flip on another CPU
    ),
    Preset(
        name="badd20",
        model="neural_gpu",
        command=(
            "python train.py --model=neural_gpu --config=badd20 --workdir=/tmp/ngpu_badd20 --verbose=2 (120 epochs; "
            "continued with --resume to 180 epochs after raising epochs in config.json; then a copy of that "
            "workdir resumed with --epochs=320 --resume on one core, stopped after epoch 270, config.json epochs "
            "set to 270 and finished with --epochs=270 --resume). No noise, seed 0, 270 x 50 = 13,500 steps, about "
            "9,200 s of training on the 2-core CPU."
        ),
        metric="remeasured.bit_error_len41",
        measure=functools.partial(bit_error, length=41, examples=64),
        tolerance=0.005,
    ),
)
