"""Resumable training state in a workdir, written so that a crash at any instant leaves a valid checkpoint.

A checkpoint is every variable of the run (model weights, dropout seed-generator states, compiled-metric
accumulators, optimizer slots, `iterations`, and the keras_gradnoise `noise_seed`/`noise_step`) plus the position
(next epoch, steps already done in it), the per-epoch history so far and the state of task callbacks. Together
with data that is a pure function of (seed, epoch, batch) this is all a resumed run needs to continue exactly
where the killed one stopped.

Layout under `<workdir>/checkpoint/`:
    state-<epoch>-<step>.npz   the variables, positionally (the same config builds the same variables in order)
    latest.json                the metadata; names the .npz and its sha256; written LAST

Both files are written to a temporary name and moved into place with `os.replace` (atomic on POSIX), the .npz
first. `latest.json` only ever names a complete .npz whose checksum it records, so a run killed mid-write leaves
the previous checkpoint in force, never a half-written one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from zoo.datasets import sha256_file

CHECKPOINT_DIR = "checkpoint"
LATEST = "latest.json"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not belong to the model being restored."""


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file in the same folder and `os.replace`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_json(path: str, obj: Any) -> None:
    """`atomic_write_bytes` of `obj` as indented JSON."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n").encode())


def atomic_save(path: str, save: Callable[[str], None]) -> None:
    """Runs `save(tmp_path)` (e.g. `model.save`) and moves the result to `path` only when it completed."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    # Keras insists on the extension, so the temporary name keeps it.
    tmp = os.path.join(folder, f".{base}.partial{ext}")
    try:
        save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def training_variables(model: keras.Model) -> list[Any]:
    """Every variable a resumed run needs, in a fixed order: model, compiled metrics, optimizer (deduplicated)."""
    seen, result = set(), []
    groups = [model.variables, model.metrics_variables]
    if model.optimizer is not None:
        groups.append(model.optimizer.variables)
    for group in groups:
        for variable in group:
            if id(variable) not in seen:
                seen.add(id(variable))
                result.append(variable)
    return result


def snapshot(model: keras.Model) -> tuple[list[Any], dict[str, np.ndarray]]:
    """The training variables and their values as numpy arrays, keyed by position.

    Under MultiWorkerMirroredStrategy, reading a metric variable (sync-on-read) is a collective operation: every
    worker must take the snapshot at the same point, including those that do not write it.
    """
    variables = training_variables(model)
    return variables, {f"v{i:05d}": keras.ops.convert_to_numpy(v) for i, v in enumerate(variables)}


def save(
    workdir: str,
    model: keras.Model,
    *,
    epoch: int,
    step: int,
    history: dict[str, list[float]],
    callback_states: dict[str, Any],
    keep_previous: bool = False,
    write: bool = True,
) -> str | None:
    """Writes a checkpoint at position (epoch, step): `step` steps of epoch `epoch` are done.

    Args:
        write: False on non-chief workers: they take the snapshot (see `snapshot`) but write nothing.

    Returns:
        The path of the written .npz, or None when not `write`.
    """
    variables, arrays = snapshot(model)
    if not write:
        return None
    folder = os.path.join(workdir, CHECKPOINT_DIR)
    os.makedirs(folder, exist_ok=True)
    name = f"state-{epoch:05d}-{step:07d}.npz"
    path = os.path.join(folder, name)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_save(path, write)
    previous = read_metadata(workdir) if os.path.exists(os.path.join(folder, LATEST)) else None
    metadata = {
        "format": FORMAT_VERSION,
        "file": name,
        "sha256": sha256_file(path),
        "epoch": epoch,
        "step": step,
        "variables": [[v.path, list(v.shape), str(v.dtype)] for v in variables],
        "history": history,
        "callback_states": callback_states,
    }
    atomic_write_json(os.path.join(folder, LATEST), metadata)
    if previous is not None and previous["file"] != name and not keep_previous:
        old = os.path.join(folder, previous["file"])
        if os.path.exists(old):
            os.remove(old)
    return path


def exists(workdir: str) -> bool:
    """Whether `workdir` holds a checkpoint (its metadata file; a stray .npz without one does not count)."""
    return os.path.exists(os.path.join(workdir, CHECKPOINT_DIR, LATEST))


def read_metadata(workdir: str) -> dict[str, Any]:
    """The latest checkpoint's metadata; CheckpointError when missing or unreadable."""
    path = os.path.join(workdir, CHECKPOINT_DIR, LATEST)
    try:
        with open(path) as f:
            metadata = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"No checkpoint in {workdir!r} (expected {path}).") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error.msg}); the checkpoint is corrupt.") from None
    if metadata.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format {metadata.get('format')!r}; this code reads {FORMAT_VERSION}."
        )
    return metadata


def restore(workdir: str, model: keras.Model) -> dict[str, Any]:
    """Loads the latest checkpoint into a built, compiled model (optimizer built too); returns its metadata.

    Raises:
        CheckpointError: no checkpoint, a checksum mismatch, or variables that differ in number/shape/dtype from
            the model's (the checkpoint belongs to another model or config).
    """
    metadata = read_metadata(workdir)
    path = os.path.join(workdir, CHECKPOINT_DIR, metadata["file"])
    if not os.path.exists(path):
        raise CheckpointError(f"Checkpoint file {path} named by {LATEST} is missing.")
    if sha256_file(path) != metadata["sha256"]:
        raise CheckpointError(f"Checkpoint file {path} is corrupt: its sha256 differs from {LATEST}'s.")
    variables = training_variables(model)
    expected = metadata["variables"]
    if len(expected) != len(variables):
        raise CheckpointError(
            f"Checkpoint {path} holds {len(expected)} variables but the model and optimizer have {len(variables)}; "
            "it was written by a different model or config."
        )
    with np.load(path) as data:
        arrays = [data[f"v{i:05d}"] for i in range(len(variables))]
    for variable, array, (saved_path, shape, dtype) in zip(variables, arrays, expected):
        if tuple(variable.shape) != tuple(array.shape) or str(variable.dtype) != dtype:
            raise CheckpointError(
                f"Checkpoint variable {saved_path} has shape {tuple(shape)} {dtype}, but the model's "
                f"{variable.path} is {tuple(variable.shape)} {variable.dtype}; it was written by a different model."
            )
    for variable, array in zip(variables, arrays):
        variable.assign(array)
    return metadata


class CheckpointCallback(keras.callbacks.Callback):
    """Checkpoints at every epoch end, and every `every_steps` steps inside an epoch if given.

    Also keeps the per-epoch history (the logs of each finished epoch, whatever `fit` call ran it), which is
    stored with each checkpoint so that a resumed run ends with the full history.

    Args:
        workdir: the run's directory.
        every_steps: also checkpoint after every this many steps of an epoch; None for epoch ends only.
        history: per-epoch history restored from a checkpoint ({} for a fresh run).
        stateful_callbacks: name -> callback with `get_state() -> dict` and `set_state(dict)` (e.g. a
            curriculum); their states are saved with each checkpoint.
        write: False on the non-chief workers of a multi-worker run, which keep the history but write nothing.
    """

    def __init__(
        self,
        workdir: str,
        every_steps: int | None = None,
        history: dict[str, list[float]] | None = None,
        stateful_callbacks: dict[str, Any] | None = None,
        write: bool = True,
    ):
        super().__init__()
        if every_steps is not None and (
            isinstance(every_steps, bool) or not isinstance(every_steps, int) or every_steps < 1
        ):
            raise ValueError(
                f"checkpoint every_steps must be a positive integer or None; got {every_steps!r}."
            )
        self.workdir = workdir
        self.every_steps = every_steps
        self.history = {key: list(values) for key, values in (history or {}).items()}
        self.stateful_callbacks = dict(stateful_callbacks or {})
        self.write = write
        self.epoch = 0
        self.step_offset = 0
        self.steps_per_epoch = 0

    def start_epoch_at(self, step_offset: int, steps_per_epoch: int) -> None:
        """Tells the callback that the next epoch's batch 0 is step `step_offset` of a `steps_per_epoch` epoch."""
        self.step_offset = step_offset
        self.steps_per_epoch = steps_per_epoch

    def _save(self, epoch: int, step: int) -> None:
        # The JAX trainer keeps the state outside the variables during an epoch; this writes it back.
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()
        states = {name: callback.get_state() for name, callback in self.stateful_callbacks.items()}
        save(
            self.workdir,
            self.model,
            epoch=epoch,
            step=step,
            history=self.history,
            callback_states=states,
            write=self.write,
        )

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = self.step_offset + batch + 1
        if self.every_steps and step % self.every_steps == 0 and step < self.steps_per_epoch:
            self._save(self.epoch, step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.step_offset = 0
        self._save(epoch + 1, 0)


def restore_callback_states(callbacks: dict[str, Any], states: dict[str, Any]) -> None:
    """Gives each stateful callback its saved state; a saved state without a callback is an error."""
    for name, state in states.items():
        if name not in callbacks:
            raise CheckpointError(
                f"The checkpoint holds state of callback {name!r}, which this run does not have."
            )
        callbacks[name].set_state(state)


def stateful(callbacks: Sequence[Any]) -> dict[str, Any]:
    """The callbacks with get_state/set_state, keyed by class name and position (stable for the same config)."""
    return {
        f"{i}:{type(c).__name__}": c
        for i, c in enumerate(callbacks)
        if callable(getattr(c, "get_state", None)) and callable(getattr(c, "set_state", None))
    }
