"""resnet34 (CIFAR-10) and resnet50 (ImageNet), He et al. 2015 (arXiv 1512.03385), with dropout and annealed
gradient noise: the seed's Tables 2 and 3. Files: model.py (`ResNet`, builders, loss, metrics), data.py
(`ResNetDataOptions`; CIFAR-10 and synthetic images) and imagenet.py, configs.py, paper.py (the tables).
"""

from __future__ import annotations

from zoo.registry import ZooEntry
from zoo.resnet.configs import RESNET34_CONFIGS, RESNET50_CONFIGS
from zoo.resnet.data import ResNetDataOptions, make_data
from zoo.resnet.model import build_resnet34, build_resnet50, compile_kwargs
from zoo.resnet.paper import TABLE2, TABLE3
from zoo.resnet.presets import PRESETS

ENTRIES = {
    "resnet34": ZooEntry(
        name="resnet34",
        description="ResNet-34 (He et al. 2015) for 32x32 CIFAR-10 images, with dropout and gradient noise",
        build_model=build_resnet34,
        make_data=make_data,
        compile_kwargs=compile_kwargs,
        configs=RESNET34_CONFIGS,
        reproduction=TABLE2,
        presets=PRESETS,
        data_options=ResNetDataOptions,
    ),
    "resnet50": ZooEntry(
        name="resnet50",
        description="ResNet-50 v1 (He et al. 2015) for ImageNet, with dropout and gradient noise",
        build_model=build_resnet50,
        make_data=make_data,
        compile_kwargs=compile_kwargs,
        configs=RESNET50_CONFIGS,
        reproduction=TABLE3,
        presets=(),
        data_options=ResNetDataOptions,
    ),
}

__all__ = ["ENTRIES"]
