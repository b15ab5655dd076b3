"""The package as `pip install` gives it, away from the checkout: a wheel built from the sources, installed into an
empty folder, used from another folder with only that folder (and the environment's Keras) on the path.

One module-scoped build and install (no network: the environment's setuptools and wheel build it); the tests
then check the wheel's contents, the console commands, every preset, the smoke configs that read data fixtures,
and that a workdir's model.keras loads with plain `keras.saving.load_model` after `import zoo`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What the build reads (setup.py, MANIFEST.in): copied, so the build leaves nothing in the checkout.
BUILD_INPUTS = (
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "MANIFEST.in",
    "README.md",
    "train.py",
    "reproduce.py",
    "keras_gradnoise",
    "zoo",
    "saved_models",
    os.path.join("tests", "fixtures"),
)


def _run(command: list[str], cwd: str, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    process = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert process.returncode == 0, (
        f"{command[:4]} failed:\n{process.stdout[-2000:]}\n{process.stderr[-4000:]}"
    )
    return process.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"
    for name in BUILD_INPUTS:
        origin, copy = os.path.join(REPO, name), source / name
        if os.path.isdir(origin):
            shutil.copytree(origin, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            os.makedirs(copy.parent, exist_ok=True)
            shutil.copy2(origin, copy)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)], str(root)
    )
    (wheel,) = (root / "dist").iterdir()
    target = root / "target"
    _run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)], str(root))
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_GRADNOISE_SAVED_MODELS")}
    env.update(PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="2")
    return {"wheel": wheel, "target": target, "cwd": str(elsewhere), "env": env}


def test_the_wheel_carries_presets_fixtures_scripts_and_no_tests(installed):
    from zoo import resources

    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert not [n for n in names if n.endswith("_test.py") or n.startswith("tests/")]
    presets = sorted(
        f"zoo/saved_models/{model}/{f}"
        for model in os.listdir(os.path.join(REPO, "saved_models"))
        for f in os.listdir(os.path.join(REPO, "saved_models", model))
    )
    assert presets and set(presets) <= set(names)
    for fixture in resources.SHIPPED_FIXTURES:
        assert any(n.startswith(f"zoo/fixtures/{fixture}") for n in names), fixture
    assert {"zoo/scripts/train.py", "zoo/scripts/reproduce.py", "zoo/assets/mnist.npz"} <= set(names)


LOAD_SCRIPT = """
import json, os, sys
import zoo
keras_before_zoo_import = "keras" in sys.modules
import keras, keras_gradnoise
from zoo import pretrained, training
out = {"keras_imported_by_zoo": keras_before_zoo_import, "zoo": zoo.__file__, "kgn": keras_gradnoise.__file__}
# A workdir's model.keras (trained by the console command) loads without zoo.get first.
model = keras.saving.load_model(os.path.join(sys.argv[1], "model.keras"))
out["workdir_model"] = type(model).__name__
out["workdir_optimizer"] = type(model.optimizer).__name__
out["presets"] = {}
for name in sorted(os.listdir(pretrained.saved_models_dir())):
    for preset in pretrained.presets(name):
        out["presets"][f"{name}/{preset}"] = type(zoo.load_pretrained(name, preset)).__name__
# The other smoke config that reads a fixture (bAbI), trained and reloaded from here.
results = training.train_and_evaluate(zoo.get("memn2n").config("smoke"), sys.argv[2], verbose=0)
out["memn2n_data"] = results["data_info"]
reloaded = keras.saving.load_model(os.path.join(sys.argv[2], "model.keras"))
out["memn2n_layers"] = [type(layer).__name__ for layer in reloaded.layers]
print("RESULT " + json.dumps(out))
"""


def test_console_commands_presets_smoke_configs_and_reloading_away_from_the_checkout(installed, tmp_path):
    target, cwd, env = installed["target"], installed["cwd"], installed["env"]
    train = str(target / "bin" / "keras-gradnoise-train")
    _run(
        [train, "--model=deep_mlp", "--config=smoke", f"--workdir={tmp_path / 'mlp'}", "--verbose=0"],
        cwd,
        env,
    )
    listing = _run(
        [str(target / "bin" / "keras-gradnoise-reproduce"), "--model=deep_mlp", "--list"], cwd, env
    )
    assert "exp3_simple_clip10_noise" in listing

    output = _run(
        [sys.executable, "-c", LOAD_SCRIPT, str(tmp_path / "mlp"), str(tmp_path / "babi")], cwd, env
    )
    (line,) = [line for line in output.splitlines() if line.startswith("RESULT ")]
    out = json.loads(line[len("RESULT ") :])
    assert out["zoo"].startswith(str(target)) and out["kgn"].startswith(str(target))
    assert not out["keras_imported_by_zoo"]  # `import zoo` stays cheap
    assert (out["workdir_model"], out["workdir_optimizer"]) == ("DeepMLP", "NoisySGD")
    checkout = sorted(
        f"{model}/{f[: -len('.json')]}"
        for model in os.listdir(os.path.join(REPO, "saved_models"))
        for f in os.listdir(os.path.join(REPO, "saved_models", model))
        if f.endswith(".json")
    )
    assert sorted(out["presets"]) == checkout
    assert "MemoryNetwork" in out["memn2n_layers"]
    assert str(target) in json.dumps(out["memn2n_data"])  # read the fixture shipped in the package
