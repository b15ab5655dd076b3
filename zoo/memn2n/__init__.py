"""End-To-End Memory Networks on bAbI (Sukhbaatar et al. 2015; Neelakantan et al. 2015, section 4.2, Table 4).

ENTRY is built when first read (PEP 562), so that importing babi_facts or paper does not import Keras.
"""

from __future__ import annotations

from typing import Any

from zoo.registry import family_entry


def __getattr__(name: str) -> Any:
    if name == "ENTRY":
        from zoo.memn2n import paper

        globals()["ENTRY"] = entry = family_entry(
            __name__,
            name="memn2n",
            description="End-To-End Memory Network (3 hops, PE, temporal encoding, linear start) on bAbI 1k",
            reproductions=paper.TABLES,
        )
        return entry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
