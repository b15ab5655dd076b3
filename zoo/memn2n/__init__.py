"""End-To-End Memory Networks on bAbI (Sukhbaatar et al. 2015; Neelakantan et al. 2015, section 4.2, Table 4).

ENTRY is built when first read (PEP 562), so that importing babi_facts or paper does not import Keras.
"""

from __future__ import annotations

from typing import Any

from zoo.registry import ZooEntry


def _entry() -> ZooEntry:
    from zoo.memn2n import configs, data, model, paper
    from zoo.memn2n.presets import PRESETS

    return ZooEntry(
        name="memn2n",
        description="End-To-End Memory Network (3 hops, PE, temporal encoding, linear start) on bAbI 1k",
        build_model=model.build_model,
        make_data=data.make_data,
        compile_kwargs=model.compile_kwargs,
        configs=configs.CONFIGS,
        reproduction=paper.REPRODUCTION,
        reproductions=paper.TABLES,
        presets=PRESETS,
        data_options=data.MemN2NDataOptions,
    )


def __getattr__(name: str) -> Any:
    if name == "ENTRY":
        globals()["ENTRY"] = entry = _entry()
        return entry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
