"""The console commands an installed keras-gradnoise provides: `keras-gradnoise-train` and
`keras-gradnoise-reproduce`, the same programs as `python train.py` and `python reproduce.py` in a checkout.

The programs stay the checkout's top-level scripts; a built wheel carries copies of them as zoo/scripts/*.py
(setup.py copies them in). Each command loads the copy that exists and runs it with the same flags.

    keras-gradnoise-train --model=deep_mlp --config=smoke --workdir=/tmp/deep_mlp_smoke
    keras-gradnoise-reproduce --model=deep_mlp --list
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

from zoo.resources import CHECKOUT_DIR, PACKAGE_DIR

SCRIPTS_DIR = "scripts"  # inside the installed zoo package
SCRIPTS = ("train.py", "reproduce.py")


def script_path(name: str) -> str:
    """The installed copy of the script `name` ("train.py"), else the checkout's."""
    packaged = os.path.join(PACKAGE_DIR, SCRIPTS_DIR, name)
    return packaged if os.path.exists(packaged) else os.path.join(CHECKOUT_DIR, name)


def load_script(name: str) -> ModuleType:
    """Imports the script `name` as the module `zoo_<stem>_script` (once; its absl flags are defined then)."""
    module_name = f"zoo_{name[: -len('.py')]}_script"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = script_path(name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None or not os.path.exists(path):
        raise FileNotFoundError(f"{name} is missing ({path}); reinstall keras-gradnoise.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def train() -> None:
    """`keras-gradnoise-train`: train.py's command line (see docs/training.md)."""
    load_script("train.py").run()


def reproduce() -> None:
    """`keras-gradnoise-reproduce`: reproduce.py's command line (see docs/reproduce.md)."""
    load_script("reproduce.py").run()
