"""The Neural GPU (Kaiser & Sutskever 2015) on binary addition and multiplication; Table 7 of Neelakantan et
al. 2015 in paper.py. `python train.py --model=neural_gpu --config=default --workdir=/tmp/ngpu`
"""

from zoo.neural_gpu.configs import CONFIGS
from zoo.neural_gpu.data import NeuralGPUDataOptions, make_data
from zoo.neural_gpu.model import build_model, compile_kwargs
from zoo.neural_gpu.paper import REPRODUCTION
from zoo.neural_gpu.presets import PRESETS
from zoo.registry import ZooEntry

ENTRY = ZooEntry(
    name="neural_gpu",
    description="Neural GPU (Kaiser & Sutskever 2015) on binary addition/multiplication with a length curriculum",
    build_model=build_model,
    make_data=make_data,
    compile_kwargs=compile_kwargs,
    configs=CONFIGS,
    reproduction=REPRODUCTION,
    presets=PRESETS,
    # The adder that generalizes from 20- to 200-bit numbers (`badd` is the short CPU run that does not).
    default_preset="badd20",
    data_options=NeuralGPUDataOptions,
)
