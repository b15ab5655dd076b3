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
import threading
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
    right after each import of `keras` or of a zoo module succeeds; then leaves `sys.meta_path`.

    It finds nothing itself: it asks the finders after it for the spec and hands the import system a loader that
    runs the real one, puts it back in the module's place and then checks.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "keras" and fullname != "zoo" and not fullname.startswith("zoo."):
            return None
        spec = self._spec_from_later_finders(fullname, path, target)
        if spec is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ThenCall(spec.loader, lambda: self._after_execution(fullname))
        return spec

    def _spec_from_later_finders(self, fullname: str, path: Any, target: Any) -> Any:
        finders = list(sys.meta_path)
        for finder in finders[finders.index(self) + 1 :] if self in finders else finders:
            if hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
            elif hasattr(finder, "find_module"):  # a pre-3.4 finder, still consulted by Python 3.11
                loader = finder.find_module(fullname, path)
                spec = importlib.util.spec_from_loader(fullname, loader) if loader is not None else None
            else:
                spec = None
            if spec is not None:
                return spec
        return None

    def _after_execution(self, fullname: str) -> None:
        # The module that just ran still counts as initializing until its loader returns.
        with self._lock:
            if self not in sys.meta_path or "keras" not in sys.modules:
                return
            if [name for name in _initializing_zoo_modules() if name != fullname]:
                return
            sys.meta_path.remove(self)
        _register_or_warn()


class _ThenCall:
    """A loader that executes a module with `loader`, then calls `callback` if that succeeded; every other
    attribute (get_code for `python -m`, get_resource_reader, ...) is the real loader's. The module keeps `loader`
    as its `__loader__` and `__spec__.loader`, so nothing of this wrapper outlives the import."""

    def __init__(self, loader: Any, callback: Callable[[], None]) -> None:
        self.loader, self.callback = loader, callback

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def create_module(self, spec: Any) -> Any:
        create = getattr(self.loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self.loader
        if getattr(getattr(module, "__spec__", None), "loader", None) is self:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.callback()


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
