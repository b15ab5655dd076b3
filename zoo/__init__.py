"""The keras-gradnoise model zoo: every network of Neelakantan et al. 2015 with its task, configs and presets.

After `import zoo`, `keras.saving.load_model` loads any zoo model (a workdir's model.keras, a preset): the model
classes are registered with Keras as soon as Keras is imported (zoo/registration.py), without importing Keras here.
"""

from zoo.config import TrainConfig
from zoo.pretrained import load_pretrained
from zoo.registration import register_on_keras_import
from zoo.registry import ReproductionSpec, Setting, TaskData, ZooEntry, get, names

register_on_keras_import()

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
