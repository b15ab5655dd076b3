"""Build hooks that setup.cfg cannot express: what the wheel carries besides the packages' modules.

* The pretrained presets (saved_models/ -> zoo/saved_models/), the data fixtures the smoke configs train on
  (tests/fixtures/<name> -> zoo/fixtures/<name>) and the command-line programs (train.py, reproduce.py ->
  zoo/scripts/, run by the console commands of zoo/cli_entry.py); zoo/resources.py finds either location.
* No test modules: `*_test.py` files beside the code stay out of the wheel.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
SHIPPED_FIXTURES = ("mnist_tiny.npz", "babi")  # keep in sync with zoo/resources.py (a test checks the wheel)
EXTRA_FILES = [("saved_models", os.path.join("zoo", "saved_models"))]
EXTRA_FILES += [
    (os.path.join("tests", "fixtures", n), os.path.join("zoo", "fixtures", n)) for n in SHIPPED_FIXTURES
]
EXTRA_FILES += [(n, os.path.join("zoo", "scripts", n)) for n in ("train.py", "reproduce.py")]


class BuildPy(build_py):
    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        return [(pkg, module, path) for pkg, module, path in modules if not module.endswith("_test")]

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the checkout itself
            return
        for source, target in EXTRA_FILES:
            source, target = os.path.join(ROOT, source), os.path.join(self.build_lib, target)
            if os.path.isdir(source):
                shutil.copytree(
                    source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(source, target)


setup(cmdclass={"build_py": BuildPy})
