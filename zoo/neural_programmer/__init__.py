"""The Neural Programmer (Neelakantan, Le, Sutskever 2015, arXiv 1511.04834) on synthetic table QA.

Reproduces Table 5 of the gradient-noise paper (arXiv 1511.06807, section 4.3); paper.py holds the table and
its command.
"""

from zoo.registry import family_entry

ENTRY = family_entry(
    __name__,
    name="neural_programmer",
    description="Neural Programmer (Neelakantan et al. 2015) on synthetic table question answering",
)

__all__ = ["ENTRY"]
