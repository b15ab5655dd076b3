"""Registers every zoo model class (and its layers, losses, metrics) with Keras, so that after `import zoo` a
plain `keras.saving.load_model("<workdir>/model.keras")` finds them, without `zoo.get(name)` first.

The classes are registered by importing each family's `model` module, which needs Keras. `import zoo` must stay
cheap (train.py checks its flags before TensorFlow loads), so it does not import Keras itself: if Keras is already
imported, `register_on_keras_import` registers at once; otherwise it registers right after Keras' own import
finishes, through a one-shot import hook on the top-level `keras` module. When Keras' import was started by a zoo
module (`from zoo.memn2n import babi` as a program's first import: zoo.batches imports Keras), that module is
still half-initialized when Keras finishes, and the families' modules that need it cannot be imported yet; the
registration then runs right after the next module imported while no zoo module is initializing.
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


class _AfterNextImport(importlib.abc.MetaPathFinder):
    """Runs `callback` once, right after the first module imported while no zoo module is initializing has been
    executed (not before: the callback may import that very module, which must then exist)."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if _initializing_zoo_modules() or self not in sys.meta_path:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if not _run_after_execution(spec, self.callback):
            sys.meta_path.insert(0, self)  # not a module we can follow: wait for the next one
        return spec


def _run_after_execution(spec: Any, callback: Callable[[], None]) -> bool:
    """Makes `spec`'s loader run `callback` after executing the module; False if the loader does not allow it."""
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return False
    execute = spec.loader.exec_module

    def exec_module(module: Any) -> None:
        execute(module)
        callback()

    spec.loader.exec_module = exec_module  # this spec's own loader object
    return True


def _register_when_possible() -> None:
    if _initializing_zoo_modules():
        sys.meta_path.insert(0, _AfterNextImport(_register_or_warn))
    else:
        _register_or_warn()


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


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `callback` once, right after the module `name` has been executed by its normal loader."""

    def __init__(self, name: str, callback: Callable[[], None]):
        self.name, self.callback = name, callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # one shot; also lets the lookup below find the real spec
        spec = importlib.util.find_spec(fullname)
        _run_after_execution(spec, self.callback)
        return spec


def register_on_keras_import() -> None:
    """Registers the model classes now if Keras is imported, else right after Keras' import (see above)."""
    if "keras" in sys.modules:
        _register_or_warn()
    elif not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport("keras", _register_when_possible))
