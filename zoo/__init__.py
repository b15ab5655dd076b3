"""The keras-gradnoise model zoo: every network of Neelakantan et al. 2015 with its task, configs and presets."""

from zoo.config import TrainConfig
from zoo.pretrained import load_pretrained
from zoo.registry import ReproductionSpec, Setting, TaskData, ZooEntry, get, names

__all__ = [
    "ReproductionSpec",
    "Setting",
    "TaskData",
    "TrainConfig",
    "ZooEntry",
    "get",
    "load_pretrained",
    "names",
]
