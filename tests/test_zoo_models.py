"""The shared test base every registered zoo model must pass.

For each name in `zoo.names()`: every named config passes the entry's option classes (its data options dataclass
and its builder's arguments), the model builds from its smoke config, trains a step with its noisy optimizer,
survives a `.keras` round-trip with its optimizer state (weights, optimizer variables and `iterations` kept, and a
further step equal between the original and the reloaded model), and its smoke config runs through train.py.
One JAX-backend subprocess trains every model one step from its smoke config through the same harness.
A model that fails to import fails these tests: nothing is skipped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_gradnoise.testing import assert_weights_equal
from tests import helpers
from zoo import registry

NAMES = registry.names()


def _entry(name: str):
    return registry.get(name)


def _available() -> list[str]:
    return list(NAMES)


def _values(variables) -> list[np.ndarray]:
    import keras

    return [keras.ops.convert_to_numpy(v) for v in variables]


@pytest.mark.parametrize("name", NAMES)
def test_builds_trains_a_step_and_round_trips_with_optimizer_state(name, tmp_path):
    import keras

    from zoo import training

    entry = _entry(name)
    for config_name in ("smoke", "default", "paper"):
        assert entry.config(config_name).model == name, config_name
    config = entry.config("smoke").validate()
    keras.utils.set_random_seed(config.seed)
    data = entry.make_data(config, None)
    source = training.training_source(data, config)
    one_step = training.EpochView(source, steps=1)
    model = training.build_compiled_model(entry, config, len(source))
    initial = _values(model.trainable_variables) if model.built else None
    model.fit(one_step, epochs=1, verbose=0, shuffle=False)
    assert int(model.optimizer.iterations) == 1
    trained = _values(model.trainable_variables)
    assert all(np.all(np.isfinite(w)) for w in trained)
    if initial is not None:
        assert any(not np.array_equal(a, b) for a, b in zip(initial, trained)), "one step changed no weight"

    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert int(loaded.optimizer.iterations) == 1
    assert_weights_equal(_values(model.weights), _values(loaded.weights))
    assert_weights_equal(_values(model.optimizer.variables), _values(loaded.optimizer.variables))

    # The noise sample is a function of the saved (noise_seed, noise_step): the next step agrees too.
    model.fit(one_step, epochs=1, verbose=0, shuffle=False)
    loaded.fit(one_step, epochs=1, verbose=0, shuffle=False)
    assert int(loaded.optimizer.iterations) == 2
    assert_weights_equal(_values(model.weights), _values(loaded.weights), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_declares_its_data_options_and_every_named_config_passes_them(name):
    """The entry names the dataclass of its data options (ZooEntry.data_options); every named config's data_kwargs
    are fields of it and build it, and its model_kwargs are arguments of the builder (ZooEntry.check_options)."""
    entry = _entry(name)
    assert entry.data_options is not None and dataclasses.is_dataclass(entry.data_options), (
        f"{name}: ENTRY.data_options must name the dataclass of its data options"
    )
    fields = {field.name for field in dataclasses.fields(entry.data_options)}
    for config_name in sorted(entry.configs):
        config = entry.config(config_name)
        assert set(config.data_kwargs) <= fields, (config_name, sorted(set(config.data_kwargs) - fields))
        entry.data_options(**config.data_kwargs)
        entry.check_options(config)


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory) -> dict[str, tuple[str, subprocess.CompletedProcess]]:
    """Each available model's smoke config through train.py, two processes at a time (TF's import dominates)."""
    root = tmp_path_factory.mktemp("smoke")
    pending = list(_available())
    running: list[tuple[str, str, subprocess.Popen]] = []
    done: dict[str, tuple[str, subprocess.CompletedProcess]] = {}
    while pending or running:
        while pending and len(running) < 2:
            name = pending.pop(0)
            workdir = str(root / name)
            argv = helpers.train_command(
                f"--model={name}", "--config=smoke", f"--workdir={workdir}", "--verbose=2"
            )
            process = subprocess.Popen(
                argv,
                cwd=helpers.REPO,
                env=helpers.subprocess_env(),
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            running.append((name, workdir, process))
        name, workdir, process = running.pop(0)
        stdout, stderr = process.communicate(timeout=600)
        done[name] = (workdir, subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


@pytest.mark.parametrize("name", NAMES)
def test_smoke_config_runs_through_train_py(name, smoke_runs):
    _entry(name)
    workdir, process = smoke_runs[name]
    assert process.returncode == 0, process.stderr[-3000:]
    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    assert results["config"]["model"] == name
    assert results["history"] and all(
        len(v) == results["config"]["epochs"] for v in results["history"].values()
    )
    import keras

    loaded = keras.saving.load_model(os.path.join(workdir, "model.keras"))
    assert all(np.all(np.isfinite(w)) for w in _values(loaded.weights))
    # The last logged noise std is the schedule's value at the saved optimizer's step, computed here by hand.
    config, step = results["config"], int(keras.ops.convert_to_numpy(loaded.optimizer.noise_step))
    assert step == int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) >= config["epochs"]
    if config["noise_std"] is not None:
        expected = config["noise_std"]
    else:
        expected = (config["noise_eta"] / (1 + step) ** config["noise_gamma"]) ** 0.5
    assert results["history"]["noise_stddev"][-1] == pytest.approx(expected, rel=1e-5)


_JAX_SCRIPT = """
import json, sys, traceback
from zoo import registry
from zoo.training import train_and_evaluate
status = {}
for name in sys.argv[2:]:
    try:
        config = registry.get(name).config("smoke").replace(epochs=1, steps_per_epoch=1)
        results = train_and_evaluate(config, sys.argv[1] + "/" + name, verbose=0)
        status[name] = "ok" if results["backend"] == "jax" else "ran on " + results["backend"]
    except Exception:
        status[name] = traceback.format_exc()[-2000:]
print("STATUS " + json.dumps(status))
"""


@pytest.fixture(scope="module")
def jax_status(tmp_path_factory) -> dict[str, str]:
    names = _available()
    argv = [sys.executable, "-c", _JAX_SCRIPT, str(tmp_path_factory.mktemp("jax")), *names]
    process = helpers.run(argv, timeout=600, KERAS_BACKEND="jax")
    lines = [line for line in process.stdout.splitlines() if line.startswith("STATUS ")]
    assert lines, process.stderr[-3000:]
    return json.loads(lines[-1][len("STATUS ") :])


@pytest.mark.parametrize("name", NAMES)
def test_trains_a_step_on_the_jax_backend(name, jax_status):
    _entry(name)
    assert jax_status[name] == "ok", jax_status[name]


@pytest.mark.parametrize("name", registry.names())
def test_check_options_refuses_an_unknown_model_or_data_key(name: str) -> None:
    entry = registry.get(name)
    config = entry.config("smoke")
    for field in ("model_kwargs", "data_kwargs"):
        with pytest.raises(ValueError, match=f"Unknown {field} key 'no_such_option'"):
            entry.check_options(config.replace(**{field: {"no_such_option": 1}}))
