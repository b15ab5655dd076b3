"""Distribution strategies by name, and the workaround that makes `model.fit` run under multi-worker training.

`get_strategy(name)` turns the `--strategy` flag into a `tf.distribute.Strategy` (TensorFlow backend) or None
(JAX backend, one device). Two upstream problems of Keras 3.15.1 + TensorFlow 2.21 are handled here:

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
import json
import os
import types
from typing import TYPE_CHECKING, Any

# keras (and with it TensorFlow) is imported inside the functions, so that train.py can check --strategy and
# TF_CONFIG and fail with one line before the slow, noisy TensorFlow import.
if TYPE_CHECKING:
    import keras

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


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


def get_strategy(name: str, cpu_devices: int | None = None) -> Any:
    """The distribution strategy named by `--strategy`.

    Args:
        name: "auto" (MirroredStrategy over all local GPUs when there are several, else the default strategy),
            "one_device" (the first GPU, else the CPU), "mirrored" (all local GPUs, else all logical CPUs),
            "multi_worker" (MultiWorkerMirroredStrategy from TF_CONFIG) or "tpu" (TPUStrategy; needs a TPU).
        cpu_devices: split the CPU into this many logical devices first, so that "mirrored" can be tried on a
            machine without GPUs. Must come before TensorFlow initializes its devices.

    Returns:
        A `tf.distribute.Strategy` on the TensorFlow backend; None on the JAX backend ("auto"/"one_device" only),
        where Keras places the computation itself.

    Raises:
        StrategyError: an unknown name, malformed TF_CONFIG, no TPU, or a strategy the backend cannot run.
    """
    if name not in STRATEGIES:
        raise StrategyError(f"Unknown strategy {name!r}. Known strategies: {', '.join(STRATEGIES)}.")
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        if name in ("auto", "one_device"):
            return None
        raise StrategyError(
            f"--strategy={name} needs the TensorFlow backend (tf.distribute); the {backend} backend runs only "
            "--strategy=auto or one_device here. Set KERAS_BACKEND=tensorflow, or for JAX use "
            "keras.distribution (DataParallel) directly."
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
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def _split_cpu(tf: Any, count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise StrategyError(f"cpu_devices must be a positive integer; got {count!r}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise StrategyError(
            f"cpu_devices={count} came too late: TensorFlow already initialized its devices in this process."
        ) from None


def describe(strategy: Any) -> str:
    """A short name for results.json: the strategy class and its replica count."""
    if strategy is None:
        import keras

        return f"{keras.backend.backend()} default device"
    # The public names: MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy.
    name = {
        "CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy",
        "_DefaultDistributionStrategy": "default",
    }
    return f"{name.get(type(strategy).__name__, type(strategy).__name__)} ({strategy.num_replicas_in_sync} replicas)"


def scope(strategy: Any) -> contextlib.AbstractContextManager:
    """`strategy.scope()`, or a no-op context when there is no strategy (JAX)."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def is_multi_worker(strategy: Any) -> bool:
    """Whether `strategy` spans several worker processes (the case that needs `patch_for_multi_worker`)."""
    extended = getattr(strategy, "extended", None)
    return bool(getattr(extended, "_in_multi_worker_mode", lambda: False)())


def is_chief(strategy: Any) -> bool:
    """Whether this process writes the run's files: always, except on non-chief workers of a multi-worker run."""
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
    if replicas > 1 and getattr(optimizer, "gradient_accumulation_steps", None):
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
