"""deep_mlp: a 20-layer, 50-unit ReLU MLP on MNIST (Neelakantan et al. 2015, section 4.1, Table 1).

The family's files: model.py (the network, loss and metrics), data.py (`DeepMLPDataOptions`, MNIST), configs.py
(the named configs), paper.py (Table 1).
"""

from __future__ import annotations

from zoo.deep_mlp.configs import CONFIGS
from zoo.deep_mlp.data import DeepMLPDataOptions, make_data
from zoo.deep_mlp.model import build_model, compile_kwargs
from zoo.deep_mlp.paper import TABLE1
from zoo.deep_mlp.presets import PRESETS
from zoo.registry import ZooEntry

ENTRY = ZooEntry(
    name="deep_mlp",
    description="20-layer x 50-unit ReLU MLP on MNIST (Neelakantan et al. 2015, Table 1)",
    build_model=build_model,
    make_data=make_data,
    compile_kwargs=compile_kwargs,
    configs=CONFIGS,
    reproduction=TABLE1,
    presets=PRESETS,
    data_options=DeepMLPDataOptions,
)

__all__ = ["ENTRY"]
