"""The Neural Programmer (Neelakantan, Le, Sutskever 2015, arXiv 1511.04834) on synthetic table QA.

Reproduces Table 5 of the gradient-noise paper (arXiv 1511.06807, section 4.3); see paper.py.

    python reproduce.py --model=neural_programmer --restarts=3 --jobs=2 --out=docs/results/neural_programmer
"""

from zoo.neural_programmer.configs import CONFIGS
from zoo.neural_programmer.data import NeuralProgrammerDataOptions, make_data
from zoo.neural_programmer.model import build_model, compile_kwargs
from zoo.neural_programmer.paper import REPRODUCTION
from zoo.neural_programmer.presets import PRESETS
from zoo.registry import ZooEntry

ENTRY = ZooEntry(
    name="neural_programmer",
    description="Neural Programmer (Neelakantan et al. 2015) on synthetic table question answering",
    build_model=build_model,
    make_data=make_data,
    compile_kwargs=compile_kwargs,
    configs=CONFIGS,
    reproduction=REPRODUCTION,
    presets=PRESETS,
    data_options=NeuralProgrammerDataOptions,
)

__all__ = ["ENTRY", "REPRODUCTION"]
