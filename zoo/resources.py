"""Files the zoo reads beside its code: the pretrained presets and the small data fixtures of the smoke configs.

In a checkout they live outside the package, in saved_models/ and tests/fixtures/. A built wheel carries copies
inside it, as zoo/saved_models/ and zoo/fixtures/ (setup.py copies them in), so that `pip install .` gives a zoo
whose `load_pretrained` and smoke configs work from any folder. These functions return the copy that exists.
"""

from __future__ import annotations

import os

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
CHECKOUT_DIR = os.path.dirname(PACKAGE_DIR)

# (where a wheel carries it, relative to the zoo package; where a checkout has it, relative to the checkout)
SAVED_MODELS = ("saved_models", "saved_models")
FIXTURES = ("fixtures", os.path.join("tests", "fixtures"))
# The fixtures the smoke configs read: they ship in the wheel (tests/fixtures holds more, for the tests only).
SHIPPED_FIXTURES = ("mnist_tiny.npz", "babi")


def _packaged_or_checkout(location: tuple[str, str], *parts: str) -> str:
    packaged = os.path.join(PACKAGE_DIR, location[0], *parts)
    return packaged if os.path.exists(packaged) else os.path.join(CHECKOUT_DIR, location[1], *parts)


def saved_models_dir() -> str:
    """$KERAS_GRADNOISE_SAVED_MODELS, else the installed package's zoo/saved_models/, else the checkout's."""
    return os.environ.get("KERAS_GRADNOISE_SAVED_MODELS") or _packaged_or_checkout(SAVED_MODELS)


def fixture_path(name: str) -> str:
    """The path of a shipped data fixture (`SHIPPED_FIXTURES`): the installed copy, else the checkout's."""
    return _packaged_or_checkout(FIXTURES, name)
