"""Data parallelism on the JAX backend: `keras.distribution.DataParallel` over local devices and processes.

`--strategy=data_parallel` on JAX replicates every variable (model, optimizer, metrics, keras_gradnoise's
`noise_seed`/`noise_step`) on a 1-D device mesh and splits each global batch along it; XLA sums the gradients
across devices inside the jitted train step, so the clipping and the one noise sample see the full gradient and
the update equals the one-device update. What this module adds around Keras:

- `configure_cpu_devices(n)`: N logical CPU devices through `XLA_FLAGS=--xla_force_host_platform_device_count`,
  which JAX reads when it initializes its backends (so before the first array is made).
- `initialize_processes(group)`: several processes (hosts; a `zoo.distribute.ProcessGroup`) through
  `keras.distribution.initialize`, i.e. `jax.distributed.initialize`, with the CPU collectives set to gloo so that
  it also runs without GPUs.
- `ProcessBatches`: Keras feeds a multi-process JAX run through `jax.make_array_from_process_local_data`, so each
  process must hand it its own rows of the global batch; this view slices them (and refuses batches that do not
  split evenly over the devices, which JAX cannot shard).
- `local_copy`: the trained model on this process's default device only, for the task's final evaluation (in a
  multi-process run a prediction spans processes and cannot be read back as one numpy array).

No model of the zoo needs sharded (model-parallel) variables: the largest, ResNet-50, has 26M parameters.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from zoo.distribute import ProcessGroup, StrategyError

HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def configure_cpu_devices(count: int) -> None:
    """Asks JAX for `count` logical CPU devices: sets XLA_FLAGS, which JAX reads when it initializes its devices.

    Has no effect once JAX has initialized them; `data_parallel(count)` checks that the count was taken.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise StrategyError(f"cpu_devices must be a positive integer; got {count!r}.")
    flags = re.sub(rf"{HOST_DEVICE_FLAG}=\S*", "", os.environ.get("XLA_FLAGS", "")).split()
    os.environ["XLA_FLAGS"] = " ".join([*flags, f"{HOST_DEVICE_FLAG}={count}"])


def initialize_processes(group: ProcessGroup) -> None:
    """Joins the multi-process run `group` (all processes call this, before any JAX computation).

    Uses `keras.distribution.initialize`, i.e. `jax.distributed.initialize`; CPU devices talk through gloo.
    """
    import jax

    try:  # the default since JAX 0.4.3x; older releases need it set for CPU collectives across processes
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except (AttributeError, ValueError):
        pass
    os.environ.setdefault("JAX_COORDINATOR_BIND_ADDRESS", _bind_address(group.coordinator_address))
    keras.distribution.initialize(group.coordinator_address, group.num_processes, group.process_id)


def _bind_address(address: str) -> str:
    """The coordinator listens on the loopback interface only when its address is local, else on all."""
    host, port = address.rsplit(":", 1)
    return address if host in ("127.0.0.1", "localhost", "[::1]") else f"[::]:{port}"


def shutdown_processes() -> None:
    """Leaves the multi-process run (a barrier: every process waits for the others); a no-op for one process."""
    import jax

    if jax.process_count() > 1:
        jax.distributed.shutdown()


def data_parallel(cpu_devices: int | None = None) -> keras.distribution.DataParallel:
    """DataParallel over all devices of all processes: the GPUs (TPUs), else the CPUs, or the CPUs if asked.

    Args:
        cpu_devices: use this many logical CPU devices per process (`configure_cpu_devices`).

    Raises:
        StrategyError: JAX initialized its CPU devices with another count before `cpu_devices` could be set.
    """
    if cpu_devices is not None:
        configure_cpu_devices(cpu_devices)
        import jax

        found = jax.local_device_count("cpu")
        if found != cpu_devices:
            raise StrategyError(
                f"cpu_devices={cpu_devices} came too late: JAX had already initialized {found} CPU device(s) in "
                f"this process (XLA_FLAGS={HOST_DEVICE_FLAG}={cpu_devices} must be set before its first array)."
            )
    devices = keras.distribution.list_devices("cpu" if cpu_devices is not None else None)
    # auto_shard_dataset=False: Keras shards only tf.data; ProcessBatches gives each process its rows instead.
    return keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)


def device_names(distribution: Any) -> list[str]:
    """The mesh's devices as "platform:id" strings, in mesh order (process 0's first)."""
    return [str(device) for device in np.asarray(distribution.device_mesh.devices).flatten()]


def describe(distribution: Any) -> str:
    """E.g. "DataParallel (2 devices)" or "DataParallel (4 devices, 2 processes)"."""
    devices = len(device_names(distribution))
    processes = distribution.num_processes
    where = f", {processes} processes" if processes > 1 else ""
    return f"{type(distribution).__name__} ({devices} device{'s' if devices > 1 else ''}{where})"


def local_row_range(distribution: Any) -> tuple[int, int, int]:
    """(first, end, total): this process's devices are mesh positions [first, end) of `total` along the batch."""
    import jax

    devices = np.asarray(distribution.device_mesh.backend_mesh.devices).flatten()
    mine = [i for i, device in enumerate(devices) if device.process_index == jax.process_index()]
    if not mine or mine != list(range(mine[0], mine[-1] + 1)):
        raise StrategyError(
            f"This process's devices are not one contiguous block of the mesh (positions {mine})."
        )
    return mine[0], mine[-1] + 1, len(devices)


class ProcessBatches(keras.utils.PyDataset):
    """This process's rows of each global batch of `source`; checks that each batch splits over the devices.

    With D devices in the mesh, of which this process holds positions [first, end), global batch rows
    [n * first / D, n * end / D) are this process's; `jax.make_array_from_process_local_data` puts them back
    together into the global batch on the mesh. With one process this only checks the batch sizes.
    """

    def __init__(self, source: Any, distribution: Any):
        super().__init__()
        self.source = source
        self.first, self.end, self.devices = local_row_range(distribution)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> Any:
        batch = self.source[index]
        rows = {len(a) for a in keras.tree.flatten(batch) if a is not None}
        if len(rows) != 1:
            raise StrategyError(f"Batch {index} has parts of different lengths {sorted(rows)}.")
        (count,) = rows
        if count % self.devices:
            raise StrategyError(
                f"Batch {index} has {count} rows, which do not split evenly over {self.devices} devices; use a "
                f"batch size (and a data size) that is a multiple of {self.devices}, or another device count."
            )
        start, stop = count * self.first // self.devices, count * self.end // self.devices
        if (start, stop) == (0, count):
            return batch
        return keras.tree.map_structure(lambda a: None if a is None else a[start:stop], batch)


class ArrayBatchesInOrder(keras.utils.PyDataset):
    """In-memory validation arrays as batches of `batch_size` rows, in order (what `fit` does with arrays)."""

    def __init__(self, arrays: Any, batch_size: int):
        super().__init__()
        self.arrays, self.batch_size = arrays, batch_size
        self.rows = len(keras.tree.flatten(arrays)[0])

    def __len__(self) -> int:
        return -(-self.rows // self.batch_size)

    def __getitem__(self, index: int) -> Any:
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return keras.tree.map_structure(lambda a: a[rows], self.arrays)


def for_fit(data: Any, distribution: Any, batch_size: int = 32) -> Any:
    """`data` (a PyDataset, an (x, y) array tuple or None) as this process's share for `fit` under DataParallel.

    Array tuples (validation data) become batches of `batch_size` rows, Keras' default for arrays.
    """
    if data is None:
        return None
    if isinstance(data, (tuple, list)):
        data = ArrayBatchesInOrder(tuple(data), batch_size)
    return ProcessBatches(data, distribution)


@contextlib.contextmanager
def local_copy(model: keras.Model) -> Iterator[keras.Model]:
    """The model, saved and reloaded outside any distribution: a one-device copy for evaluation on this process.

    Also leaves the distribution for the duration, so that the copy's `predict` runs unsharded.
    """
    previous = keras.distribution.distribution()
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "model.keras")
        model.save(path)
        keras.distribution.set_distribution(None)
        try:
            yield keras.saving.load_model(path)
        finally:
            keras.distribution.set_distribution(previous)
