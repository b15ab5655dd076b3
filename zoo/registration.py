"""Registers every zoo model class (and its layers, losses, metrics) with Keras, so that after `import zoo` a
plain `keras.saving.load_model("<workdir>/model.keras")` finds them, without `zoo.get(name)` first.

The classes are registered by importing each family's `model` module, which needs Keras. `import zoo` must stay
cheap (train.py checks its flags before TensorFlow loads), so it does not import Keras itself: if Keras is already
imported, `register_on_keras_import` registers at once; otherwise a finder on `sys.meta_path` follows the imports
of `keras` and of the zoo's own modules and registers as soon as Keras is imported and no zoo module is half
executed. That second condition matters when a zoo module starts Keras' import (`from zoo.memn2n import babi` as a
program's first import: zoo.batches imports Keras): the families' modules need zoo.batches, so the registration
runs when the outermost of those zoo modules finishes.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from collections.abc import Callable
from typing import Any

from zoo.registry import _MODULES

# The `model` module of every family of the zoo (e.g. "zoo.deep_mlp.model"), fixed when zoo is imported.
MODEL_MODULES: tuple[str, ...] = tuple(sorted({f"{module}.model" for module in _MODULES.values()}))


def register_model_classes() -> None:
    """Imports keras_gradnoise (the noisy optimizers and schedules a compiled model's optimizer names) and every
    family's model module; each registers its classes with Keras when imported."""
    importlib.import_module("keras_gradnoise")
    for module in MODEL_MODULES:
        importlib.import_module(module)


def _initializing_zoo_modules() -> list[str]:
    """The zoo modules whose import has started and not finished (the import system marks their spec)."""
    return [
        name
        for name, module in list(sys.modules.items())
        if (name == "zoo" or name.startswith("zoo."))
        and getattr(getattr(module, "__spec__", None), "_initializing", False)
    ]


class _RegisterWhenReady(importlib.abc.MetaPathFinder):
    """Registers the model classes once `keras` has been imported and no zoo module is half executed, checked
    right after each import of `keras` or of a zoo module finishes; then leaves `sys.meta_path`.

    It finds nothing itself: it asks the finders after it for the spec and makes that spec's loader call back
    after executing the module.
    """

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "keras" and fullname != "zoo" and not fullname.startswith("zoo."):
            return None
        spec = self._spec_from_later_finders(fullname, path, target)
        _run_after_execution(spec, lambda: self._after_execution(fullname))
        return spec

    def _spec_from_later_finders(self, fullname: str, path: Any, target: Any) -> Any:
        finders = list(sys.meta_path)
        for finder in finders[finders.index(self) + 1 :] if self in finders else finders:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec is not None else None
            if spec is not None:
                return spec
        return None

    def _after_execution(self, fullname: str) -> None:
        # The module that just ran still counts as initializing until its loader returns.
        if self not in sys.meta_path or "keras" not in sys.modules:
            return
        if [name for name in _initializing_zoo_modules() if name != fullname]:
            return
        sys.meta_path.remove(self)
        _register_or_warn()


def _run_after_execution(spec: Any, callback: Callable[[], None]) -> None:
    """Makes `spec`'s loader run `callback` after executing the module, where the loader allows it."""
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return
    execute = spec.loader.exec_module

    def exec_module(module: Any) -> None:
        execute(module)
        callback()

    spec.loader.exec_module = exec_module  # this spec's own loader object


def _register_or_warn() -> None:
    # Each module on its own, and never an exception: a failure must not break the user's `import keras`.
    for module in ("keras_gradnoise", *MODEL_MODULES):
        try:
            importlib.import_module(module)
        except Exception as error:
            warnings.warn(
                f"zoo could not register the classes of {module} with Keras ({type(error).__name__}: {error}); "
                "keras.saving.load_model will not find them.",
                stacklevel=2,
            )


def register_on_keras_import() -> None:
    """Registers the model classes now if Keras is imported, else as soon as it is and no zoo module is half
    executed (see above)."""
    if "keras" in sys.modules:
        _register_or_warn()
    elif not any(isinstance(finder, _RegisterWhenReady) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterWhenReady())
