"""The few operations whose right form differs between Keras backends.

Everything else in keras_gradnoise is written with keras.ops. What lives here:
- on torch, the int64 form of the noise generator, and the fused class Keras uses for a built-in optimizer;
- running the noise generator (keras_gradnoise/rng.py, a pure function of (seed, t)) compiled on TensorFlow;
- on TensorFlow, the cross-replica sum of the gradients, which stock Keras does inside `_backend_update_step`
  (we need the clipping and the noise after it), and the switch that turns that sum off while the base class's own
  `_backend_update_step` runs on the already summed gradients;
- on TensorFlow, the conditional update that skips a step with non-finite summed gradients on every replica.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import keras
from keras import ops

from keras_gradnoise import rng


def _backend() -> str:
    return keras.backend.backend()


def standard_normal(size: int, seed: Any, step: Any) -> Any:
    """A float32 vector of `size` i.i.d. N(0, 1) samples, a pure function of the integer scalars (seed, step).

    The generator is `keras_gradnoise.rng.standard_normal` on every backend. On TensorFlow it runs as its own
    XLA-compiled function (inlined when the train step is already compiled with jit_compile=True): unfused, its
    dozen elementwise integer ops would each be a separate kernel over the whole vector. On torch it runs in its
    int64 form (`wide=True`: the same bits), eagerly.

    Args:
        size: number of samples (static).
        seed: int32 scalar (tensor or variable) identifying the run.
        step: int32 scalar (tensor or variable) identifying the update.

    Returns:
        A float32 tensor of shape (size,).
    """
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # Plain tensors: a tf.function cannot take a Keras variable as an argument inside a traced train step.
        seed, step = tf.identity(tf.convert_to_tensor(seed)), tf.identity(tf.convert_to_tensor(step))
        return compiled(rng.standard_normal)(size, seed, step)
    if backend == "jax":
        return rng.standard_normal(size, seed, step)
    if backend == "torch":
        # Keras keeps "uint32" as int64 on torch, where the 32-bit hash would not wrap: the int64 form.
        return rng.standard_normal(size, seed, step, wide=True)
    raise NotImplementedError(
        f"keras_gradnoise supports the tensorflow, jax and torch backends; the active backend is {backend!r}."
    )


def optimizer_implementation(optimizer_class: type) -> type:
    """The class Keras instantiates for `optimizer_class` on this backend, for the noisy class to derive from.

    On torch, `keras.optimizers.Adam(...)` (and SGD, AdamW, RMSprop, ...) builds a subclass with a fused update
    (torch._foreach ops) instead; deriving from it keeps "eta = 0 is the base optimizer bit for bit" there. It is
    still a subclass of `optimizer_class`. Every other class, and every class on other backends, is itself.
    """
    if _backend() != "torch" or not optimizer_class.__module__.startswith("keras."):
        return optimizer_class
    # TorchOptimizer.__new__ picks the fused class; an instance without __init__ costs nothing and is dropped.
    return type(optimizer_class.__new__(optimizer_class))


@functools.cache
def compiled(function: Any) -> Any:
    """`function` compiled with XLA on TensorFlow (one cached tf.function per function); unchanged elsewhere."""
    if _backend() != "tensorflow":
        return function
    import tensorflow as tf

    return tf.function(function, jit_compile=True, autograph=False)


def densify(gradient: Any, shape: tuple) -> Any:
    """A dense tensor of the variable's static `shape` for a sparse gradient (TensorFlow's IndexedSlices from an
    Embedding, whose dense form loses the static shape); any other gradient unchanged."""
    if _backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return tf.reshape(tf.convert_to_tensor(gradient), shape)
    return gradient


def num_replicas(optimizer: Any) -> int:
    """How many replicas compute gradients in sync (1 outside tf.distribute)."""
    strategy = getattr(optimizer, "_distribution_strategy", None)
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def sum_across_replicas(optimizer: Any, grads: Sequence[Any], variables: Sequence[Any]) -> list[Any]:
    """The gradients summed over replicas under tf.distribute; unchanged on other backends and one device.

    Keras' TF trainer scales each replica's loss by 1/num_replicas, so the sum is the global-batch mean gradient.
    """
    if _backend() != "tensorflow":
        return list(grads)
    pairs = optimizer._all_reduce_sum_gradients(list(zip(grads, _tf_variables(variables))))
    return [grad for grad, _ in pairs]


# The optimizers (by id) whose gradients, in this thread, are already summed over replicas. Thread-local because
# MirroredStrategy traces each replica's step in its own thread, interleaved at every merge_call.
_summed = threading.local()


@contextlib.contextmanager
def gradients_already_summed(optimizer: Any) -> Iterator[None]:
    """Within this block (in this thread), `optimizer`'s all-reduce of the gradients is the identity."""
    ids = getattr(_summed, "ids", None)
    if ids is None:
        ids = _summed.ids = set()
    added = id(optimizer) not in ids
    ids.add(id(optimizer))
    try:
        yield
    finally:
        if added:
            ids.discard(id(optimizer))


def is_gradients_already_summed(optimizer: Any) -> bool:
    """Whether `optimizer` is inside `gradients_already_summed` in this thread."""
    return id(optimizer) in getattr(_summed, "ids", ())


def all_finite(grads: Sequence[Any]) -> Any:
    """A boolean scalar: every entry of every gradient is finite."""
    return ops.all(ops.stack([ops.all(ops.isfinite(g)) for g in grads]))


def apply_updates(
    optimizer: Any,
    base_update_step: Any,
    grads: Sequence[Any],
    variables: Sequence[Any],
    learning_rate: Any,
    apply_if: Any = None,
) -> None:
    """Runs the base class's `_backend_update_step` (its per-step work and `update_step` per variable) once.

    Args:
        optimizer: the noisy optimizer.
        base_update_step: the base class's `_backend_update_step` for gradients already summed over replicas
            (called in replica context, as Keras calls it).
        grads: gradients after the cross-replica sum, clipping and noise.
        variables: the matching trainable variables.
        learning_rate: the learning rate.
        apply_if: None, or a boolean scalar (the same on every replica); when it is false the base step does not
            run at all (TensorFlow only; the noisy optimizers set it only with several replicas).
    """
    if apply_if is None or _backend() != "tensorflow":
        base_update_step(grads, variables, learning_rate)
        return
    import tensorflow as tf

    def update(distribution: Any, grads: Any, learning_rate: Any, apply_if: Any) -> None:
        if tf.distribute.in_cross_replica_context():
            # A cond in replica context must not contain a merge_call, and the base step makes one for its
            # variable updates; so, as LossScaleOptimizer does, the cond runs here and re-enters every replica.
            def run() -> None:
                distribution.extended.call_for_each_replica(
                    base_update_step, args=(grads, variables, learning_rate)
                )

            apply_if = distribution.experimental_local_results(apply_if)[0]
        else:  # a strategy that needs no merge_call: the base step makes none either

            def run() -> None:
                base_update_step(grads, variables, learning_rate)

        tf.cond(apply_if, run, lambda: None)

    tf.__internal__.distribute.interim.maybe_merge_call(
        update, optimizer._distribution_strategy, list(grads), learning_rate, apply_if
    )


def _tf_variables(variables: Sequence[Any]) -> list[Any]:
    return [v.value if isinstance(v, keras.Variable) else v for v in variables]
