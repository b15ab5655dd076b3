"""Distribution strategies by name, and the workaround that makes `model.fit` run under multi-worker training.

`get_strategy(name)` turns the `--strategy` flag into a `tf.distribute.Strategy` (TensorFlow backend), a
`keras.distribution.DataParallel` (JAX backend, `data_parallel`; see zoo/jax_distribution.py) or None (JAX, one
device). `prepare_backend` does what must precede the backend's first array: JAX's CPU device count and joining a
multi-process JAX run (`ProcessGroup`, from flags or Keras' KERAS_DISTRIBUTION_* variables).

Two upstream problems of Keras 3.15.1 + TensorFlow 2.21 are handled here:

1. `model.fit` under `MultiWorkerMirroredStrategy` fails before the first step. The TF trainer's
   `_maybe_symbolic_build` reduces the first distributed batch with `strategy.reduce("MEAN", batch, axis=None)`,
   which CollectiveAllReduce cannot do for a PerReplica batch ("Attempt to convert a value (PerReplica...) with an
   unsupported type"). Then, once past that, every train step fails in `reduce_per_replica`, which for multi-worker
   strategies reduces each scalar log with `axis=0` ("Invalid reduction dimension 0 for input with 0
   dimensions"). `patch_for_multi_worker(model)` fixes both on that one model instance only: the symbolic build
   takes the shapes from the first local replica's batch (only shapes matter there), and the train/test steps
   return their scalar logs as shape-(1,) tensors, so the axis-0 mean over all replicas is the cross-replica mean
   the single-worker path computes.
2. Gradient accumulation (`gradient_accumulation_steps`) under MirroredStrategy fails upstream
   (keras-team/keras#20582); `check_supported` refuses it with one clear line instead.

Multi-worker runs also need every worker to issue the same collectives in the same order: reading a compiled
metric's (sync-on-read) variable is an all-reduce, so zoo.checkpoint snapshots and the final save run on every
worker, and only the chief (`is_chief`) writes files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

# keras (and with it TensorFlow) is imported inside the functions, so that train.py can check --strategy and
# TF_CONFIG and fail with one line before the slow, noisy TensorFlow import.
if TYPE_CHECKING:
    import keras

STRATEGIES = ("auto", "one_device", "data_parallel", "mirrored", "multi_worker", "tpu")
# Keras' names for a multi-process run's settings (keras.distribution.initialize reads them too).
ENV_ADDRESS = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
ENV_NUM_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"


class StrategyError(ValueError):
    """A strategy name, its environment (TF_CONFIG, devices) or its combination with the backend is unusable."""


def parse_tf_config(text: str | None = None) -> dict[str, Any]:
    """Reads and checks TF_CONFIG (the environment variable unless `text` is given).

    Returns:
        The parsed dict with "cluster" (a dict of job name -> list of "host:port") and "task" ({"type", "index"}).

    Raises:
        StrategyError: TF_CONFIG is unset, not JSON, or lacks a cluster/task that names a valid worker.
    """
    text = os.environ.get("TF_CONFIG") if text is None else text
    if not text:
        raise StrategyError(
            "--strategy=multi_worker needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}.'
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise StrategyError(f"TF_CONFIG is not valid JSON ({error.msg} at position {error.pos}).") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise StrategyError(
            'TF_CONFIG must be a JSON object with a "cluster" object of job name -> address list.'
        )
    cluster = config["cluster"]
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(isinstance(a, str) and ":" in a for a in addresses):
            raise StrategyError(
                f'TF_CONFIG cluster job {job!r} must be a list of "host:port" strings; got {addresses!r}.'
            )
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise StrategyError(
            'TF_CONFIG needs a "task" object with "type" and "index", e.g. {"type": "worker", "index": 0}.'
        )
    job, index = task["type"], task["index"]
    if job not in cluster:
        raise StrategyError(f"TF_CONFIG task type {job!r} is not a job of the cluster ({sorted(cluster)}).")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[job]):
        raise StrategyError(
            f"TF_CONFIG task index {index!r} must be an int in [0, {len(cluster[job]) - 1}] for job {job!r}."
        )
    return config


@dataclasses.dataclass(frozen=True)
class ProcessGroup:
    """One process of a multi-process run: the coordinator's "host:port", the process count and this one's id."""

    coordinator_address: str
    num_processes: int
    process_id: int

    @property
    def is_chief(self) -> bool:
        return self.process_id == 0


def resolve_process_group(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProcessGroup | None:
    """The multi-process setting from the arguments (flags), else the environment; None for a single process.

    Environment variables (Keras' own): KERAS_DISTRIBUTION_JOB_ADDRESSES (comma-separated; the first is the
    coordinator), KERAS_DISTRIBUTION_NUM_PROCESSES, KERAS_DISTRIBUTION_PROCESS_ID.

    Raises:
        StrategyError: some but not all three are set, or a value is malformed or out of range.
    """
    environ = os.environ if environ is None else environ
    address = coordinator_address or environ.get(ENV_ADDRESS) or None
    count: Any = num_processes if num_processes is not None else environ.get(ENV_NUM_PROCESSES) or None
    index: Any = process_id if process_id is not None else environ.get(ENV_PROCESS_ID) or None
    if address is None and count is None and index is None:
        return None
    if address is None or count is None or index is None:
        missing = [
            name
            for name, value in (
                ("coordinator_address", address),
                ("num_processes", count),
                ("process_id", index),
            )
            if value is None
        ]
        raise StrategyError(
            f"A multi-process run needs --coordinator_address, --num_processes and --process_id (or "
            f"{ENV_ADDRESS}, {ENV_NUM_PROCESSES}, {ENV_PROCESS_ID}); missing: {', '.join(missing)}."
        )
    address = address.split(",")[0].strip()
    if not re.fullmatch(r"[^\s:]+:\d+|\[[0-9a-fA-F:.]+\]:\d+", address):
        raise StrategyError(f'The coordinator address must be "host:port"; got {address!r}.')
    try:
        count, index = int(count), int(index)
    except ValueError:
        raise StrategyError(
            f"num_processes and process_id must be integers; got {count!r} and {index!r}."
        ) from None
    if count < 1 or not 0 <= index < count:
        raise StrategyError(
            f"num_processes must be >= 1 and process_id in [0, num_processes - 1]; got {count} and {index}."
        )
    return ProcessGroup(address, count, index)


def prepare_backend(strategy: str, cpu_devices: int | None = None, group: ProcessGroup | None = None) -> None:
    """What must happen before the backend makes its first array; train.py calls it right after its flag checks.

    On JAX: asks for `cpu_devices` logical CPU devices (XLA_FLAGS) and joins the multi-process run `group`.
    On TensorFlow nothing (the CPU split is done by `get_strategy`).

    Raises:
        StrategyError: a process group with a strategy other than data_parallel or on a backend other than JAX.
    """
    import keras

    backend = keras.backend.backend()
    if group is not None and (backend != "jax" or strategy != "data_parallel"):
        raise StrategyError(
            "--coordinator_address/--num_processes/--process_id (or KERAS_DISTRIBUTION_*) are for "
            f"--strategy=data_parallel on the JAX backend (got --strategy={strategy} on {backend}); on "
            "TensorFlow use --strategy=multi_worker with TF_CONFIG."
        )
    if backend != "jax":
        return
    from zoo import jax_distribution

    if cpu_devices is not None:
        jax_distribution.configure_cpu_devices(cpu_devices)
    if group is not None and group.num_processes > 1:
        jax_distribution.initialize_processes(group)


def get_strategy(name: str, cpu_devices: int | None = None) -> Any:
    """The distribution strategy named by `--strategy`.

    Args:
        name: "auto" (MirroredStrategy over all local GPUs when there are several, else the default strategy),
            "one_device" (the first GPU, else the CPU), "data_parallel" (JAX: keras.distribution.DataParallel over
            the devices of every process; TensorFlow: the same as "mirrored"), "mirrored" (all local GPUs, else all
            logical CPUs), "multi_worker" (MultiWorkerMirroredStrategy from TF_CONFIG) or "tpu" (TPUStrategy).
        cpu_devices: split the CPU into this many logical devices first, so that "mirrored"/"data_parallel" can be
            tried on a machine without GPUs (on JAX, data_parallel then runs on these CPU devices). Must come
            before the backend initializes its devices.

    Returns:
        A `tf.distribute.Strategy` on the TensorFlow backend; on JAX a `keras.distribution.DataParallel` for
        "data_parallel", else None ("auto"/"one_device": Keras places the computation itself).

    Raises:
        StrategyError: an unknown name, malformed TF_CONFIG, no TPU, or a strategy the backend cannot run.
    """
    if name not in STRATEGIES:
        raise StrategyError(f"Unknown strategy {name!r}. Known strategies: {', '.join(STRATEGIES)}.")
    import keras

    backend = keras.backend.backend()
    if backend == "jax" and name == "data_parallel":
        from zoo import jax_distribution

        return jax_distribution.data_parallel(cpu_devices)
    if backend != "tensorflow":
        if name in ("auto", "one_device"):
            return None
        raise StrategyError(
            f"--strategy={name} needs the TensorFlow backend (tf.distribute); the {backend} backend runs "
            + (
                "--strategy=auto, one_device or data_parallel (keras.distribution.DataParallel)."
                if backend == "jax"
                else "only --strategy=auto or one_device here."
            )
        )
    import tensorflow as tf

    if cpu_devices is not None:
        _split_cpu(tf, cpu_devices)
    if name == "multi_worker":
        parse_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as error:
            raise StrategyError(
                f"--strategy=tpu found no usable TPU ({str(error).splitlines()[0]})."
            ) from None
        return tf.distribute.TPUStrategy(resolver)
    gpus = tf.config.list_logical_devices("GPU")
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name in ("mirrored", "data_parallel"):
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def _split_cpu(tf: Any, count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise StrategyError(f"cpu_devices must be a positive integer; got {count!r}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return  # split already, e.g. by the previous run of a sweep in this process
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise StrategyError(
            f"cpu_devices={count} came too late: TensorFlow already initialized its devices in this process."
        ) from None


def _is_keras_distribution(strategy: Any) -> bool:
    return type(strategy).__module__.startswith("keras.src.distribution")


def describe(strategy: Any) -> str:
    """A short name for results.json: the strategy class and its replica (device) count."""
    if strategy is None:
        import keras

        return f"{keras.backend.backend()} default device"
    if _is_keras_distribution(strategy):
        from zoo import jax_distribution

        return jax_distribution.describe(strategy)
    # The public names: MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy.
    name = {
        "CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy",
        "_DefaultDistributionStrategy": "default",
    }
    return f"{name.get(type(strategy).__name__, type(strategy).__name__)} ({strategy.num_replicas_in_sync} replicas)"


def device_names(strategy: Any) -> list[str]:
    """The devices the run computes on, for results.json: all processes' on JAX, this worker's on TensorFlow."""
    import keras

    if _is_keras_distribution(strategy):
        from zoo import jax_distribution

        return jax_distribution.device_names(strategy)
    if keras.backend.backend() == "jax":
        import jax

        return [f"{device.platform}:{device.id}" for device in jax.devices()[:1]]
    if strategy is None:
        return []
    try:
        return [str(device) for device in strategy.extended.worker_devices]
    except (AttributeError, RuntimeError):  # the default strategy has none: TensorFlow's default placement
        import tensorflow as tf

        return [
            d.name for d in tf.config.list_logical_devices("GPU")[:1] or tf.config.list_logical_devices("CPU")
        ]


def scope(strategy: Any) -> contextlib.AbstractContextManager:
    """`strategy.scope()`, or a no-op context when there is no strategy (JAX)."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def run_scope(strategy: Any) -> contextlib.AbstractContextManager:
    """The scope a whole run (build, fit, evaluation) needs: a keras.distribution's, which `fit` looks up when it
    runs; a no-op for tf.distribute strategies, which the model remembers from its build."""
    return strategy.scope() if _is_keras_distribution(strategy) else contextlib.nullcontext()


def for_fit(data: Any, strategy: Any) -> Any:
    """`fit`'s data for this process: under a keras.distribution, this process's rows of each batch (checked to
    split over the devices; see zoo.jax_distribution.ProcessBatches); else `data` unchanged."""
    if not _is_keras_distribution(strategy):
        return data
    from zoo import jax_distribution

    return jax_distribution.for_fit(data, strategy)


def evaluation_model(model: keras.Model, strategy: Any) -> contextlib.AbstractContextManager:
    """A context giving the model for the task's final evaluation: under a keras.distribution a one-device copy
    on this process (zoo.jax_distribution.local_copy), else the model itself."""
    if not _is_keras_distribution(strategy):
        return contextlib.nullcontext(model)
    from zoo import jax_distribution

    return jax_distribution.local_copy(model)


def chief_process(strategy: str, group: ProcessGroup | None = None) -> bool:
    """Whether this process writes the workdir, from the command line alone (train.py's closing message)."""
    if group is not None:
        return group.is_chief
    if strategy != "multi_worker":
        return True
    config = parse_tf_config()
    task, cluster = config["task"], config["cluster"]
    return task["type"] == "chief" or (
        task["type"] == "worker" and task["index"] == 0 and "chief" not in cluster
    )


def is_multi_worker(strategy: Any) -> bool:
    """Whether `strategy` spans several worker processes (the case that needs `patch_for_multi_worker`)."""
    extended = getattr(strategy, "extended", None)
    return bool(getattr(extended, "_in_multi_worker_mode", lambda: False)())


def is_chief(strategy: Any) -> bool:
    """Whether this process writes the run's files: always, except on non-chief workers of a multi-worker run
    (TensorFlow) and on processes other than process 0 of a multi-process JAX run."""
    if _is_keras_distribution(strategy):
        import jax

        return jax.process_index() == 0
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    return (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().jobs
    )


def check_supported(strategy: Any, optimizer: Any) -> None:
    """Refuses combinations that fail upstream, with one clear line instead of a deep traceback.

    Raises:
        StrategyError: gradient accumulation under a strategy with several replicas (keras-team/keras#20582).
    """
    replicas = getattr(strategy, "num_replicas_in_sync", 1)
    accumulates = False
    while optimizer is not None:  # a LossScaleOptimizer (mixed precision) holds the configured one inside
        accumulates = accumulates or bool(getattr(optimizer, "gradient_accumulation_steps", None))
        optimizer = getattr(optimizer, "inner_optimizer", None)
    if replicas > 1 and accumulates:
        raise StrategyError(
            f"gradient_accumulation_steps does not work under {type(strategy).__name__} with {replicas} replicas "
            "in Keras 3.15 (upstream keras-team/keras#20582); raise --batch_size instead or train on one device."
        )


def patch_for_multi_worker(model: keras.Model) -> None:
    """Makes `model.fit`/`evaluate` work under MultiWorkerMirroredStrategy (see the module docstring).

    Only this model instance is changed (instance attributes shadowing three methods); other models and the Keras
    classes are untouched, and the model saves and loads as usual. A no-op outside multi-worker strategies.
    """
    strategy = getattr(model, "distribute_strategy", None)  # only TensorFlow models have one
    if not is_multi_worker(strategy):
        return
    import keras
    import tensorflow as tf

    def first_local(value: Any) -> Any:
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self: keras.Model, iterator: Any = None, data_batch: Any = None) -> None:
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(first_local, next(batches))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def rank_one_logs(step: Any) -> Any:
        def wrapped(data: Any) -> Any:
            logs = step(data)
            return keras.tree.map_structure(
                lambda t: tf.reshape(t, [1]) if isinstance(t, tf.Tensor) and t.shape.rank == 0 else t, logs
            )

        return wrapped

    # object.__setattr__ keeps Keras' attribute tracking away from these plain functions.
    object.__setattr__(model, "_maybe_symbolic_build", types.MethodType(maybe_symbolic_build, model))
    object.__setattr__(model, "train_step", rank_one_logs(model.train_step))
    object.__setattr__(model, "test_step", rank_one_logs(model.test_step))
