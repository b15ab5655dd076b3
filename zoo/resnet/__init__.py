"""resnet34 (CIFAR-10) and resnet50 (ImageNet), He et al. 2015 (arXiv 1512.03385), with dropout and annealed
gradient noise: the seed's Tables 2 and 3. Files: model.py (`ResNet`, builders, loss, metrics), data.py
(`ResNetDataOptions`; CIFAR-10 and synthetic images) and imagenet.py, configs.py, paper.py (the tables).

One folder, two entries: each names its own builder, configs and table; data.py, compile_kwargs and presets.py
are shared (resnet50 ships no preset).
"""

from __future__ import annotations

from zoo.registry import family_entry
from zoo.resnet import configs, model, paper

ENTRIES = {
    "resnet34": family_entry(
        __name__,
        name="resnet34",
        description="ResNet-34 (He et al. 2015) for 32x32 CIFAR-10 images, with dropout and gradient noise",
        build_model=model.build_resnet34,
        configs=configs.RESNET34_CONFIGS,
        reproduction=paper.TABLE2,
    ),
    "resnet50": family_entry(
        __name__,
        name="resnet50",
        presets=(),  # presets.py declares resnet34's models only; no ResNet-50 ships
        description="ResNet-50 v1 (He et al. 2015) for ImageNet, with dropout and gradient noise",
        build_model=model.build_resnet50,
        configs=configs.RESNET50_CONFIGS,
        reproduction=paper.TABLE3,
    ),
}

__all__ = ["ENTRIES"]
