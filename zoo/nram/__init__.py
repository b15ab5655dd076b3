"""The Neural Random-Access Machine (Kurach, Andrychowicz & Sutskever 2015, arXiv 1511.06392) on its
algorithmic tasks; Table 6 of Neelakantan et al. 2015 (arXiv 1511.06807) in paper.py.

    python train.py --model=nram --config=default --workdir=/tmp/nram
"""

from zoo.registry import family_entry

ENTRY = family_entry(
    __name__,
    name="nram",
    description="Neural Random-Access Machine (Kurach et al. 2015) on ListK and nine other pointer tasks",
    default_preset="access",
)

__all__ = ["ENTRY"]
