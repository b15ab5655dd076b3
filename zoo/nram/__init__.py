"""The Neural Random-Access Machine (Kurach, Andrychowicz & Sutskever 2015, arXiv 1511.06392) on its
algorithmic tasks; Table 6 of Neelakantan et al. 2015 (arXiv 1511.06807) in paper.py.

    python train.py --model=nram --config=default --workdir=/tmp/nram
"""

from zoo.nram.configs import CONFIGS
from zoo.nram.data import NRAMDataOptions, data_settings, make_data
from zoo.nram.model import build_model, compile_kwargs
from zoo.nram.paper import REPRODUCTION
from zoo.nram.presets import PRESETS
from zoo.registry import ZooEntry

ENTRY = ZooEntry(
    name="nram",
    description="Neural Random-Access Machine (Kurach et al. 2015) on ListK and nine other pointer tasks",
    build_model=build_model,
    make_data=make_data,
    compile_kwargs=compile_kwargs,
    configs=CONFIGS,
    reproduction=REPRODUCTION,
    presets=PRESETS,
    default_preset="access",
    data_options=NRAMDataOptions,
)

# `data_settings` stays importable from here for zoo/nram/preset.py.
__all__ = ["ENTRY", "REPRODUCTION", "data_settings"]
