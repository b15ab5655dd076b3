"""What the command lines promise, checked against values written here by hand.

- every train.py flag reaches config.json AND the optimizer saved in model.keras (read from the archive's JSON,
  not through Keras), and the run's length and batches are what the flags say (counted by a spy on the batches
  `fit` draws and by the saved optimizer's step counters);
- the TensorBoard event files hold exactly the per-epoch history of results.json;
- the staircase learning-rate decay takes the hand-computed values at given steps;
- reproduce.py: exit status 2 on bad input, 1 after writing the report when runs fail, and `--list` prints every
  row's name and the paper's numbers.

train.py's `main` runs in this process (TensorFlow imported once); reproduce.py's `main` runs for all its cases in
one child process (its flags clash with train.py's in one process), with the sleeper entry of tests/sweep_helpers.py
and its fake trainers.
"""

from __future__ import annotations

import ast
import json
import math
import sys
import zipfile

import keras
import numpy as np
import pytest

import keras_gradnoise  # noqa: F401 (registers the noisy optimizers for loading model.keras)
from tests import helpers, sweep_helpers
from zoo.config import TrainConfig

# Two train.py command lines that between them give every override flag a value the tiny entry's smoke config
# (sgd, lr 0.1, eta 0.01, gamma 0.55, 3 epochs, batch 16, seed 0, whole epochs of 6 batches) does not have.
ANNEALED = {
    "optimizer": "adam",
    "learning_rate": 0.0123,
    "noise_eta": 0.037,
    "noise_gamma": 0.71,
    "clipnorm": 0.77,
    "noise_exclude": "bias,classifier",
    "batch_size": 7,
    "seed": 13,
    "epochs": 4,
    "steps": 2,
}
CONSTANT = {
    "optimizer": "rmsprop",
    "learning_rate": 0.0456,
    "noise_std": 0.021,
    "global_clipnorm": 1.9,
    "batch_size": 5,
    "seed": 29,
    "epochs": 2,
    "steps": 4,
}
# What each run's config.json must hold (TrainConfig field names), written out by hand. --noise_std turns the
# annealed schedule off (noise_eta 0); --noise_eta without --noise_std clears any constant std.
EXPECTED_CONFIG = {
    "annealed": {
        "optimizer": "adam",
        "learning_rate": 0.0123,
        "noise_eta": 0.037,
        "noise_gamma": 0.71,
        "noise_std": None,
        "noise_exclude": ["bias", "classifier"],
        "clipnorm": 0.77,
        "global_clipnorm": None,
        "batch_size": 7,
        "seed": 13,
        "epochs": 4,
        "steps_per_epoch": 2,
    },
    "constant": {
        "optimizer": "rmsprop",
        "learning_rate": 0.0456,
        "noise_eta": 0.0,
        "noise_gamma": 0.55,
        "noise_std": 0.021,
        "noise_exclude": [],
        "clipnorm": None,
        "global_clipnorm": 1.9,
        "batch_size": 5,
        "seed": 29,
        "epochs": 2,
        "steps_per_epoch": 4,
    },
}
# What the optimizer in model.keras must be: class and its config.
EXPECTED_OPTIMIZER = {
    "annealed": {
        "class_name": "NoisyAdam",
        "learning_rate": 0.0123,
        "eta": 0.037,
        "gamma": 0.71,
        "noise_std": None,
        "noise_exclude": {"var_names": ["bias", "classifier"], "var_paths": []},
        "clipnorm": 0.77,
        "global_clipnorm": None,
        "seed": 13,
    },
    "constant": {
        "class_name": "NoisyRMSprop",
        "learning_rate": 0.0456,
        "eta": None,
        "gamma": None,
        "noise_std": 0.021,
        "noise_exclude": None,
        "clipnorm": None,
        "global_clipnorm": 1.9,
        "seed": 29,
    },
}


def test_the_two_command_lines_cover_every_override_flag():
    import train

    assert set(ANNEALED) | set(CONSTANT) == set(train._OVERRIDES)
    smoke = json.loads(helpers._smoke().to_json())
    for name, flags in (("annealed", ANNEALED), ("constant", CONSTANT)):
        for flag in flags:
            field = train._OVERRIDES[flag]
            assert EXPECTED_CONFIG[name][field] != smoke[field], (name, flag)  # a dropped flag would show


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Runs train.py's main in this process with ANNEALED and CONSTANT; returns name -> (workdir, batch sizes)."""
    from absl import flags

    import train
    from zoo import registry, training

    seen: dict[tuple[int, int], int] = {}
    original = training.EpochView.__getitem__

    def spy(self, index):
        batch = original(self, index)
        # (epoch, step) -> rows; Keras draws the first batch more than once (to build and to read its structure).
        seen[(self.epoch, self.start + index)] = len(batch[0])
        return batch

    done = {}
    with pytest.MonkeyPatch.context() as patch:
        registry.register(helpers.TINY, "tests.helpers")
        patch.setattr(training.EpochView, "__getitem__", spy)
        for name, values in (("annealed", ANNEALED), ("constant", CONSTANT)):
            workdir = tmp_path_factory.mktemp(name)
            argv = ["--model=tiny_mlp", "--config=smoke", f"--workdir={workdir}", "--verbose=0"]
            argv += [f"--{flag}={value}" for flag, value in values.items()]
            flags.FLAGS.unparse_flags()
            flags.FLAGS(["train.py", *argv])
            seen.clear()
            try:
                train.main(["train.py"])
            finally:
                flags.FLAGS.unparse_flags()
            done[name] = (workdir, dict(seen))
        registry.unregister(helpers.TINY)
    return done


def _archive_json(model_path) -> dict:
    with zipfile.ZipFile(model_path) as archive:
        return json.loads(archive.read("config.json"))


@pytest.mark.parametrize("name", ["annealed", "constant"])
def test_every_flag_reaches_config_json(cli_runs, name):
    workdir, _ = cli_runs[name]
    saved = json.loads((workdir / "config.json").read_text())
    for field, value in EXPECTED_CONFIG[name].items():
        assert saved[field] == value, field
    assert json.loads((workdir / "results.json").read_text())["config"] == saved


@pytest.mark.parametrize("name", ["annealed", "constant"])
def test_every_flag_reaches_the_saved_optimizer(cli_runs, name):
    workdir, _ = cli_runs[name]
    optimizer = _archive_json(workdir / "model.keras")["compile_config"]["optimizer"]
    expected = dict(EXPECTED_OPTIMIZER[name])
    assert optimizer["class_name"] == expected.pop("class_name")
    assert optimizer["module"] == "keras_gradnoise.optimizers"
    config = optimizer["config"]
    assert config["learning_rate"] == pytest.approx(
        expected.pop("learning_rate"), rel=1e-6
    )  # saved as float32
    for key, value in expected.items():
        assert config[key] == value, key


@pytest.mark.parametrize("name", ["annealed", "constant"])
def test_epochs_steps_and_batch_size_set_the_run_length_and_batches(cli_runs, name):
    workdir, batches = cli_runs[name]
    flags = ANNEALED if name == "annealed" else CONSTANT
    updates = flags["epochs"] * flags["steps"]
    # Steps 0 .. --steps-1 of epochs 0 .. --epochs-1 were drawn, each of --batch_size rows.
    grid = {(epoch, step) for epoch in range(flags["epochs"]) for step in range(flags["steps"])}
    assert batches == {key: flags["batch_size"] for key in grid}
    model = keras.saving.load_model(str(workdir / "model.keras"))
    assert int(model.optimizer.iterations) == updates
    assert int(np.asarray(model.optimizer.noise_step)) == updates
    # The noise RNG's key is --seed.
    assert int(np.asarray(model.optimizer._noise_seed)) == flags["seed"]
    history = json.loads((workdir / "results.json").read_text())["history"]
    assert len(history["loss"]) == flags["epochs"]
    # The logged std after epoch e (e * steps updates), from the flags by hand: sqrt(eta / (1 + t)^gamma), or
    # the constant std.
    if name == "annealed":
        expected = [math.sqrt(0.037 / (1 + (e + 1) * flags["steps"]) ** 0.71) for e in range(flags["epochs"])]
    else:
        expected = [0.021] * flags["epochs"]
    assert history["noise_stddev"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", ["annealed", "constant"])
def test_tensorboard_events_equal_the_history_in_results_json(cli_runs, name):
    workdir, _ = cli_runs[name]
    history = json.loads((workdir / "results.json").read_text())["history"]
    scalars = helpers.read_scalars(str(workdir / "tensorboard"))
    assert set(scalars) == {"train", "validation"}
    for key, values in history.items():
        run, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
        # The events hold float32 values; the history holds what Keras logged (float32 or a Python float).
        np.testing.assert_array_equal(
            scalars[run].pop(f"epoch_{tag}"), np.float32(values), err_msg=f"{run}/epoch_{tag}"
        )
    assert scalars == {"train": {}, "validation": {}}  # nothing logged that results.json lacks
    assert {"loss", "noise_stddev", "val_loss", "accuracy"} <= set(history)


def test_staircase_lr_decay_takes_the_hand_computed_values():
    """lr 0.2, x0.3 every 2 epochs of 5 steps: 0.2 for steps 0-9, 0.06 for 10-19, 0.018 for 20-29, 0.0054 ..."""
    from zoo.training import build_optimizer

    config = TrainConfig(
        model="tiny_mlp",
        optimizer="sgd",
        learning_rate=0.2,
        lr_decay_every_epochs=2,
        lr_decay_factor=0.3,
        noise_eta=0.0,
    )
    optimizer = build_optimizer(config, steps_per_epoch=5)
    variable = keras.Variable(np.zeros(3, "float32"))
    optimizer.build([variable])
    expected = {0: 0.2, 9: 0.2, 10: 0.06, 19: 0.06, 20: 0.018, 29: 0.018, 30: 0.0054, 45: 0.00162}
    for step, lr in expected.items():
        optimizer.iterations.assign(step)
        before = np.asarray(variable)
        # Plain SGD without noise moves each weight by exactly -lr * gradient: the rate this step really uses.
        optimizer.apply_gradients([(keras.ops.ones(3), variable)])
        np.testing.assert_allclose(before - np.asarray(variable), [lr] * 3, rtol=1e-5, err_msg=f"step {step}")
    with pytest.raises(ValueError, match="needs steps_per_epoch"):
        build_optimizer(config)


@pytest.mark.usefixtures("tiny_registered")
def test_lr_decay_counts_the_steps_flag_not_the_data_length(tmp_path):
    """2 epochs of --steps=3 (the data has 6 batches) decayed x0.5 per epoch: lr 0.1 * 0.5**2 after 6 updates."""
    from zoo.training import train_and_evaluate

    config = helpers._smoke().replace(
        epochs=2, steps_per_epoch=3, lr_decay_every_epochs=1, lr_decay_factor=0.5, noise_eta=0.0
    )
    train_and_evaluate(config, str(tmp_path), verbose=0)
    model = keras.saving.load_model(str(tmp_path / "model.keras"))
    assert int(model.optimizer.iterations) == 6
    assert float(model.optimizer.learning_rate) == pytest.approx(0.025, rel=1e-6)
    schedule = _archive_json(tmp_path / "model.keras")["compile_config"]["optimizer"]["config"][
        "learning_rate"
    ]
    assert schedule["config"]["decay_steps"] == 3 and schedule["config"]["staircase"] is True


# ------------------------------------------------------------------------------------------------ reproduce.py
_IN_ONE_PROCESS = """
import contextlib, io, json, sys
from absl import flags
from tests import sweep_helpers
from zoo import registry
registry.register(sweep_helpers.NAME, "tests.sweep_helpers")
import reproduce
results = []
for argv in json.loads(sys.argv[1]):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["reproduce.py", *argv])
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            reproduce.main(["reproduce.py"])
        except SystemExit as exit:
            code = exit.code
    results.append({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print("RESULTS " + json.dumps(results))
"""

BAD_REPRODUCE_INPUT = [
    (["--model=nonexistent"], "Unknown model 'nonexistent'. Known models: deep_mlp"),
    (["--settings=plain,nope"], "Unknown settings ['nope']"),
    (["--restarts=0"], "--restarts must be >= 1; got 0"),
    (["--jobs=0"], "--jobs must be >= 1; got 0"),
    (["--epochs=-2"], "--epochs must be >= 1; got -2"),
    (["--override=epoch=3"], "Unknown TrainConfig field 'epoch'"),
    (["--override=epochs"], "field=value"),
    (["--override=learning_rate=-1"], "learning_rate must be > 0"),
    (["--data_dir=/nonexistent/data"], "--data_dir '/nonexistent/data' does not exist or is not a directory"),
    (["--trainer=no_colon"], "--trainer must look like module:function"),
    (["--config=huge"], "Unknown config 'huge'"),
]


def _models_with_tables() -> list[str]:
    from zoo import registry

    return [name for name in registry.names() if registry.get(name).reproduction is not None]


@pytest.fixture(scope="module")
def reproduce_py(tmp_path_factory):
    """reproduce.py's main on every case of this file, in one child process (one TensorFlow import).

    Returns {"bad": [result per BAD_REPRODUCE_INPUT], "list": {model: result}, "failing": result, "root": path},
    each result {"code", "stdout", "stderr"}.
    """
    root = tmp_path_factory.mktemp("reproduce")
    cases = []
    for index, (flags, _) in enumerate(BAD_REPRODUCE_INPUT):
        model = [] if any(f.startswith("--model=") for f in flags) else [f"--model={sweep_helpers.NAME}"]
        where = root / "bad" / str(index)
        cases.append(
            [*model, *flags, f"--runs_dir={where / 'runs'}", f"--out={where / 'out'}", "--noprogress"]
        )
    listed = [*_models_with_tables(), sweep_helpers.NAME]
    cases += [[f"--model={model}", "--list"] for model in listed]
    # Restart r has seed r; the trainer fails seed 1, so restart 1 of each of the 2 settings fails.
    cases.append(
        [
            f"--model={sweep_helpers.NAME}",
            "--trainer=tests.sweep_helpers:failing_trainer",
            "--restarts=3",
            "--jobs=1",
            "--noprogress",
            f"--runs_dir={root / 'failing' / 'runs'}",
            f"--out={root / 'failing' / 'out'}",
        ]
    )
    process = helpers.run([sys.executable, "-c", _IN_ONE_PROCESS, json.dumps(cases)], timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    [line] = [line for line in process.stdout.splitlines() if line.startswith("RESULTS ")]
    results = json.loads(line[len("RESULTS ") :])
    bad, results = results[: len(BAD_REPRODUCE_INPUT)], results[len(BAD_REPRODUCE_INPUT) :]
    return {"bad": bad, "list": dict(zip(listed, results[:-1])), "failing": results[-1], "root": root}


def test_reproduce_py_exits_1_after_writing_the_report_when_runs_fail(reproduce_py):
    result = reproduce_py["failing"]
    out, runs_dir = reproduce_py["root"] / "failing" / "out", reproduce_py["root"] / "failing" / "runs"
    assert result["code"] == 1, result
    lines = result["stderr"].strip().splitlines()
    failed = sorted(line for line in lines if line.startswith("FAILED "))
    assert [line.split(" (")[0] for line in failed] == ["FAILED noise#1", "FAILED plain#1"]
    assert all("failed on purpose for seed 1" in line for line in failed), failed
    assert lines[-1] == "reproduce.py: error: 2 of 6 runs failed; re-run the same command to retry them."
    assert f"Written: {out}/table.md, {out}/summary.json" in result["stdout"]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["finished_runs"], summary["planned_runs"]) == (4, 6)
    assert sorted(label for label, _ in summary["failed_runs"]) == ["noise#1", "plain#1"]
    # Each row summarizes its finished restarts only: seeds 0 and 2, test accuracy 0.50 and 0.52.
    assert [row["ours"]["mean"] for row in summary["rows"]] == pytest.approx([0.51, 0.51])
    assert (out / "table.md").exists()
    assert sorted(str(p.relative_to(runs_dir)) for p in runs_dir.glob("*/*/results.json")) == [
        "noise/restart_000/results.json",
        "noise/restart_002/results.json",
        "plain/restart_000/results.json",
        "plain/restart_002/results.json",
    ]


def test_reproduce_py_bad_input_exits_2_with_one_line_and_writes_nothing(reproduce_py):
    for (flags, expected), result in zip(BAD_REPRODUCE_INPUT, reproduce_py["bad"], strict=True):
        assert result["code"] == 2, (flags, result)
        assert "Traceback" not in result["stderr"] and not result["stdout"], (flags, result)
        [line] = result["stderr"].strip().splitlines()
        assert line.startswith("reproduce.py: error: ") and expected in line, (flags, line)
    assert not (reproduce_py["root"] / "bad").exists()  # nothing written, no run started


# The published numbers of a few rows of each table, written out here as docs/<model>.md quote them (Neelakantan et
# al. 2015 for all but resnet34, whose row docs/resnet.md cites).
PAPER_SPOT_CHECKS = {
    "deep_mlp": {
        "exp3_simple_clip10": {"best test accuracy %": 95.7, "mean test accuracy %": 51.6},
        "exp3_simple_clip10_noise": {"best test accuracy %": 97.0, "mean test accuracy %": 53.6},
    },
    "memn2n": {"two_stage_noise_eta1": {"train_error": 5.9, "val_error": 10.8}},
    "neural_gpu": {
        "no_noise": {"runs": 7290, "error<1%": 28, "error<2%": 90, "error<3%": 172, "error<5%": 387},
        "noise": {"runs": 7290, "error<1%": 58, "error<2%": 159, "error<3%": 282, "error<5%": 570},
    },
    "neural_programmer": {"single_noise": {"perfect": "9/216"}, "single_no_noise": {"perfect": "1/216"}},
    "nram": {"setting2_noise": {"runs": 100, "success_rate": 0.22}},
    "resnet34": {"baseline_no_noise": {"mean test accuracy %": 93.0}},
}


def test_reproduce_py_list_prints_every_row_with_the_papers_numbers(reproduce_py):
    from zoo import registry

    models = _models_with_tables()
    assert set(PAPER_SPOT_CHECKS) <= set(models)
    listed = reproduce_py["list"]
    assert all(r["code"] == 0 and not r["stderr"] for r in listed.values()), listed
    # The sleeper entry's two rows, by hand.
    assert listed[sweep_helpers.NAME]["stdout"].splitlines() == [
        "plain: paper {'mean': 0.5}; overrides {'noise_eta': 0.0, 'noise_gamma': 0.55, 'noise_std': None, "
        "'noise_exclude': [], 'noise_gate_metric': None, "
        "'noise_gate_every_steps': None, 'global_clipnorm': None, 'clipnorm': None}",
        "noise: paper {'mean': 0.6}; overrides {'noise_eta': 0.01, 'noise_gamma': 0.55, 'noise_std': None, "
        "'noise_exclude': [], 'noise_gate_metric': None, "
        "'noise_gate_every_steps': None, 'global_clipnorm': None, 'clipnorm': None}",
    ]
    for model in models:
        printed = {}
        for line in listed[model]["stdout"].splitlines():
            name, rest = line.split(": paper ", 1)
            paper, overrides = rest.split("; overrides ", 1)
            assert name not in printed, f"{model}: {name} listed twice"
            printed[name] = {"paper": ast.literal_eval(paper), "overrides": ast.literal_eval(overrides)}
        spec = registry.get(model).reproduction
        assert list(printed) == [s.name for s in spec.settings], model
        for setting in spec.settings:
            assert printed[setting.name]["paper"] == dict(setting.paper), (model, setting.name)
            assert printed[setting.name]["overrides"] == dict(setting.overrides), (model, setting.name)
        for name, paper in PAPER_SPOT_CHECKS.get(model, {}).items():
            assert printed[name]["paper"] == paper, (model, name)
