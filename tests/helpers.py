"""Test helpers: a tiny zoo entry for harness tests, a train.py runner that knows it, and subprocess utilities.

The tiny entry ("tiny_mlp") is a two-layer MLP with dropout on a synthetic, learnable task whose batches are a
pure function of (seed, epoch, batch). It exists so the harness's tests (resume, distribution) do not depend on
the real models' pace and size; the shared model tests run the real registry.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Any

import keras
import numpy as np

from zoo.config import TrainConfig
from zoo.registry import TaskData, ZooEntry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = "tiny_mlp"
FEATURES, CLASSES = 8, 3


class _TeacherTask:
    """Labels are the argmax of a fixed random linear map of the inputs: a learnable task with known answers."""

    def __init__(self, seed: int):
        self.weights = np.random.default_rng([seed, 999]).normal(size=(FEATURES, CLASSES))

    def sample(self, rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(rows, FEATURES)).astype("float32")
        return x, np.argmax(x @ self.weights, axis=1).astype("int32")


def _make_py_dataset(batch_size: int, batches: int, seed: int) -> Any:
    class TeacherBatches(keras.utils.PyDataset):
        """Batch i of epoch e is drawn from an RNG seeded by (seed, e, i) alone."""

        def __init__(self) -> None:
            super().__init__()
            self.task, self.epoch, self.requests = _TeacherTask(seed), 0, []

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch

        def __len__(self) -> int:
            return batches

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            self.requests.append((self.epoch, index))
            return self.task.sample(np.random.default_rng([seed, self.epoch, index]), batch_size)

    return TeacherBatches()


def _build_model(hidden: int = 16, dropout: float = 0.0) -> Any:
    return keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )


class CountingCurriculum(keras.callbacks.Callback):
    """A stand-in for a stateful task callback (a curriculum): counts finished epochs, saved in checkpoints."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs_seen = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epochs_seen += 1
        if logs is not None:
            logs["curriculum_epochs"] = float(self.epochs_seen)

    def get_state(self) -> dict[str, int]:
        return {"epochs_seen": self.epochs_seen}

    def set_state(self, state: dict[str, int]) -> None:
        self.epochs_seen = state["epochs_seen"]


class DieAt(keras.callbacks.Callback):
    """Ends the process abruptly after step `step` of epoch `epoch`: SIGKILL (`kill`) or an exception."""

    def __init__(self, epoch: int, step: int, kill: bool):
        super().__init__()
        self.target, self.kill, self.epoch = (epoch, step), kill, -1

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        # `batch` counts within this fit call; a resumed partial epoch starts at 0, so count global steps.
        if (self.epoch, batch + 1) == self.target:
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise SimulatedCrashError(f"crash after step {batch + 1} of epoch {self.epoch}")


class SimulatedCrashError(RuntimeError):
    """Raised by DieAt in in-process tests."""


class RecordShards(keras.callbacks.Callback):
    """At the end of training, saves every device's copy of every training variable (JAX backend).

    Writes `<prefix>-<process index>.npz` with arrays "v<i>_<device>" (`zoo.checkpoint.training_variables` order,
    device "platform:id"), so a test can compare the copies across devices and processes.
    """

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def on_train_end(self, logs: dict | None = None) -> None:
        import jax

        from zoo.checkpoint import training_variables

        arrays = {}
        for i, variable in enumerate(training_variables(self.model)):
            for shard in variable.value.addressable_shards:
                arrays[f"v{i:05d}_{shard.device.platform}:{shard.device.id}"] = np.asarray(shard.data)
        np.savez(f"{self.prefix}-{jax.process_index()}.npz", **arrays)


def _die_callbacks() -> list[keras.callbacks.Callback]:
    # Environment hooks, so the config (which a resume must match) is unchanged. TINY_DIE_AT="epoch,step[,kill]";
    # TINY_RECORD_SHARDS=<path prefix> (JAX only, see RecordShards).
    callbacks: list[keras.callbacks.Callback] = []
    if os.environ.get("TINY_RECORD_SHARDS"):
        callbacks.append(RecordShards(os.environ["TINY_RECORD_SHARDS"]))
    spec = os.environ.get("TINY_DIE_AT")
    if spec:
        parts = spec.split(",")
        callbacks.append(DieAt(int(parts[0]), int(parts[1]), kill=len(parts) > 2 and parts[2] == "kill"))
    return callbacks


def _make_data(config: TrainConfig, data_dir: str | None) -> TaskData:
    kind = config.data_kwargs.get("kind", "pydataset")
    batches = config.data_kwargs.get("batches", 6)
    task = _TeacherTask(config.seed)
    x_test, y_test = task.sample(np.random.default_rng([config.seed, 10**6 + 1]), 256)

    def evaluate(model: Any) -> dict[str, float]:
        predictions = np.argmax(np.asarray(model.predict(x_test, verbose=0, batch_size=64)), axis=1)
        return {"test_accuracy": float(np.mean(predictions == y_test))}

    if kind == "arrays":
        train: Any = task.sample(np.random.default_rng([config.seed, 10**6 + 2]), batches * config.batch_size)
    else:
        train = _make_py_dataset(config.batch_size, batches, config.seed)
    return TaskData(
        train=train,
        validation=(x_test[:64], y_test[:64]),
        evaluate=evaluate,
        callbacks=[CountingCurriculum(), *_die_callbacks()],
        info={"kind": kind},
    )


def _compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    return {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}


def _smoke() -> TrainConfig:
    """python -c "from tests.helpers import run_train_py; run_train_py()" --model=tiny_mlp --config=smoke ..."""
    return TrainConfig(
        model=TINY, optimizer="sgd", learning_rate=0.1, noise_eta=0.01, epochs=3, batch_size=16
    )


ENTRY = ZooEntry(
    name=TINY,
    description="Tiny MLP on a synthetic teacher task (harness tests only).",
    build_model=_build_model,
    make_data=_make_data,
    compile_kwargs=_compile_kwargs,
    configs={"smoke": _smoke, "default": _smoke, "paper": _smoke},
)


def stateful_config(**changes: Any) -> TrainConfig:
    """The tiny model's smoke config with dropout, noise, lr decay and a per-epoch shuffled array dataset: every
    piece of state a resumed or extended run must carry on."""
    settings: dict[str, Any] = {
        "epochs": 3,
        "lr_decay_every_epochs": 1,
        "lr_decay_factor": 0.5,
        "model_kwargs": {"dropout": 0.25},
    }
    settings.update(changes)
    return _smoke().replace(**settings)


def register_tiny() -> None:
    """Adds the tiny entry to the zoo registry of this process."""
    from zoo import registry

    registry.register(TINY, "tests.helpers")


def run_train_py() -> None:
    """train.py's main with the tiny entry registered (`python -c "...run_train_py()" --flags`)."""
    register_tiny()
    sys.argv[0] = "train.py"
    sys.path.insert(0, REPO)
    import train

    train.run()


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for child Python processes: the repo importable, TF quiet and frugal with threads."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=REPO + os.pathsep + env.get("PYTHONPATH", ""),
        TF_CPP_MIN_LOG_LEVEL="2",
        TF_NUM_INTEROP_THREADS="1",
        TF_NUM_INTRAOP_THREADS="1",
        KERAS_BACKEND=extra.pop("KERAS_BACKEND", "tensorflow"),
    )
    env.update(extra)
    return env


def jax_env(**extra: str) -> dict[str, str]:
    """`subprocess_env` for a JAX child on the CPU with TensorFlow hidden, as on the lent GPU machines (and much
    faster to start: Keras imports TensorFlow whenever it can, e.g. in `set_random_seed`)."""
    hide = os.path.join(REPO, "tests", "fixtures", "no_tensorflow")
    return subprocess_env(
        KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONPATH=hide + os.pathsep + REPO, **extra
    )


def train_command(*flags: str, tiny: bool = False) -> list[str]:
    """The argv of a train.py run (through `run_train_py` when `tiny`)."""
    if tiny:
        return [sys.executable, "-c", "from tests.helpers import run_train_py; run_train_py()", *flags]
    return [sys.executable, os.path.join(REPO, "train.py"), *flags]


def run(argv: list[str], timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
    """Runs argv from the repo root and returns the completed process (text output).

    A child that crashes (SIGSEGV, SIGABRT) fails the test like any other failure: no retry. (TensorFlow 2.21's
    oneDNN kernels have crashed tiny runs here; conftest.py turns them off for every child.)
    """
    return subprocess.run(
        argv, cwd=REPO, env=subprocess_env(**env), capture_output=True, text=True, timeout=timeout
    )


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports on localhost."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def read_scalars(log_dir: str) -> dict[str, dict[str, list[float]]]:
    """The scalars of a TensorBoard log directory, read from its event files with TensorFlow's own reader.

    Returns:
        run (a subdirectory: "train", "validation") -> tag -> the values at steps 0, 1, 2, ... (each step exactly
        once, as float32).
    """
    import tensorflow as tf

    found: dict[str, dict[str, dict[int, float]]] = {}
    for run in sorted(os.listdir(log_dir)):
        for name in sorted(os.listdir(os.path.join(log_dir, run))):
            if "tfevents" not in name:
                continue
            for event in tf.compat.v1.train.summary_iterator(os.path.join(log_dir, run, name)):
                for value in event.summary.value:
                    number = tf.make_ndarray(value.tensor) if value.HasField("tensor") else value.simple_value
                    steps = found.setdefault(run, {}).setdefault(value.tag, {})
                    assert event.step not in steps, f"{run}/{value.tag} logged twice at step {event.step}"
                    steps[event.step] = np.float32(number)
    scalars: dict[str, dict[str, list[float]]] = {}
    for run, tags in found.items():
        for tag, steps in tags.items():
            assert sorted(steps) == list(range(len(steps))), f"{run}/{tag} steps {sorted(steps)}"
            scalars.setdefault(run, {})[tag] = [steps[step] for step in range(len(steps))]
    return scalars


def load_weights(path: str) -> list[np.ndarray]:
    """The weights of a saved `.keras` model, as numpy arrays."""
    import keras_gradnoise  # noqa: F401

    return [np.asarray(w) for w in keras.saving.load_model(path, compile=False).get_weights()]
