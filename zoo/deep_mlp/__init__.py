"""deep_mlp: a 20-layer, 50-unit ReLU MLP on MNIST (Neelakantan et al. 2015, section 4.1, Table 1).

The family's files: model.py (the network, loss and metrics), data.py (`DeepMLPDataOptions`, MNIST), configs.py
(the named configs), paper.py (Table 1), presets.py (the shipped model).
"""

from __future__ import annotations

from zoo.registry import family_entry

ENTRY = family_entry(
    __name__,
    name="deep_mlp",
    description="20-layer x 50-unit ReLU MLP on MNIST (Neelakantan et al. 2015, Table 1)",
)

__all__ = ["ENTRY"]
