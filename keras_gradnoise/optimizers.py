"""Annealed Gaussian gradient noise for any Keras optimizer (Neelakantan et al. 2015, arXiv 1511.06807).

`with_gradient_noise(keras.optimizers.Adam)` returns `NoisyAdam`, a subclass that adds N(0, sigma_t^2) to every
gradient before the base optimizer's update, with sigma_t^2 = eta / (1 + t)^gamma.

Where the noise goes, and why there. Keras 3 processes gradients in this order (base_optimizer.py):

    apply(): filter None grads -> unscale by loss_scale_factor -> _backend_apply_gradients():
        [gradient accumulation: average micro-steps, only on real update steps]
        _clip_gradients() -> weight decay -> _backend_update_step():
            [TensorFlow: all-reduce over replicas] -> update_step() per variable
    iterations += 1

`apply_gradients` is the wrong place: it runs only on the TensorFlow backend, before clipping, on every
micro-step under gradient accumulation, and LossScaleOptimizer bypasses it. `update_step` is the wrong place too:
under tf.distribute it runs once per mirrored copy of each variable, and it sees one variable at a time. So the
noisy optimizer overrides `_backend_update_step`, which every backend calls exactly once per real update with the
unscaled, accumulated gradients, and moves the clipping there:

    _clip_gradients(): deferred (identity)
    _backend_update_step(): sum over replicas -> clip (the base's clipnorm / global_clipnorm / clipvalue) -> + noise
        -> the base class's own _backend_update_step, with its all-reduce turned off (the sum is done)

so that clipping sees the all-reduced gradient (N replicas make the same update as one device with the same global
batch; stock Keras clips each replica's partial gradient), the noise std does not depend on the replica count, and
every replica adds the identical sample. Calling the base class's `_backend_update_step` (not its pieces) keeps
whatever per-step work it does before `update_step` (Nadam advances its `_u_product` there; a user's subclass may
do the same), once per real update, on every backend and strategy.

The sample for update t is a pure function of (seed, t): a counter-based RNG (rng.py, the same numbers on every
backend) keyed by two int32 optimizer variables, `noise_seed` and `noise_step`. Being optimizer variables, they are threaded through JAX's stateless
train step and saved with the model, so `model.save` -> `load_model` -> `fit` continues bit-identically.
`noise_step` counts the updates actually applied: it does not advance on gradient-accumulation micro-steps nor on
steps skipped for non-finite gradients.

Variables excluded with `exclude_from_gradient_noise` get the clipped gradient without noise. The sample is drawn
for all variables as before and the excluded slices are left out, so excluding one variable (say a BatchNorm
gamma) leaves the noise of every other variable exactly as it was.
"""

from __future__ import annotations

import inspect
import math
import numbers
import random
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops
from keras.optimizers import Optimizer
from keras.saving import register_keras_serializable

from keras_gradnoise import backend, rng
from keras_gradnoise.schedules import PACKAGE, AnnealedNoise, ConstantNoise, NoiseSchedule

DEFAULT_ETA = 0.01
DEFAULT_GAMMA = 0.55
_MAX_SEED = 2**31 - 1


class GradientNoiseMixin:
    """Adds annealed Gaussian gradient noise to a Keras optimizer; use through `with_gradient_noise`.

    Args:
        eta: noise VARIANCE at step 0 of sigma_t^2 = eta / (1 + t)^gamma (>= 0; 0 disables the noise). Default
            0.01 when neither `noise_std` nor `noise_schedule` is given. The paper uses 0.01, 0.3 or 1.0.
        gamma: annealing exponent (>= 0; default 0.55 as in the paper).
        noise_std: a constant noise standard deviation instead of the annealed schedule.
        noise_schedule: any `NoiseSchedule` (step -> std) instead of the two above.
        seed: int in [0, 2**31 - 1]; the same seed gives the same noise. None draws one at random (it is kept in
            the optimizer's variables, so a saved and reloaded run still continues identically).
        skip_nonfinite: under tf.distribute with several replicas, skip the update (and keep t) when the summed
            gradient is not finite. None (default) enables it under the "mixed_float16" policy, where Keras'
            LossScaleOptimizer checks only the first replica's gradient for infs.
        track_gradient_rms: also accumulate the mean square of the clipped gradient's entries (of the variables
            that get noise) at each update, so that `NoiseStddevLogger` can log the gradient's RMS entry and the
            noise-to-gradient ratio sigma_t / RMS: whether the noise dominates the update. Adds two optimizer
            variables. Default False.
        **kwargs: the base optimizer's own arguments (learning_rate, clipnorm, global_clipnorm, ...).
    """

    def __init__(
        self,
        *args: Any,
        eta: float | None = None,
        gamma: float | None = None,
        noise_std: float | None = None,
        noise_schedule: NoiseSchedule | dict | None = None,
        seed: int | None = None,
        skip_nonfinite: bool | None = None,
        track_gradient_rms: bool = False,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.eta, self.gamma, self.noise_std = eta, gamma, noise_std
        self.noise_schedule = _resolve_schedule(eta, gamma, noise_std, noise_schedule)
        self._custom_schedule = noise_schedule is not None
        self.seed = _check_seed(seed)
        if skip_nonfinite is not None and not isinstance(skip_nonfinite, bool):
            raise ValueError(f"`skip_nonfinite` must be True, False or None; got {skip_nonfinite!r}.")
        self.skip_nonfinite = skip_nonfinite
        if not isinstance(track_gradient_rms, bool):
            raise ValueError(f"`track_gradient_rms` must be True or False; got {track_gradient_rms!r}.")
        self.track_gradient_rms = track_gradient_rms
        self._noise_exclude_keys: set[Any] = set()
        self._noise_exclude_names: list[str] = []
        self._noise_exclude_paths: list[str] = []  # the var_list's paths, as saved in get_config

    def exclude_from_gradient_noise(
        self, var_list: Sequence[Any] | None = None, var_names: Sequence[str] | None = None
    ) -> None:
        """Keeps the gradient noise off some variables: they are updated with the clipped gradient, noiseless.

        The counterpart of Keras' `optimizer.exclude_from_weight_decay`, and like it callable only before the
        optimizer is built; a second call replaces the first. A variable is excluded when it is in `var_list`, or
        when one of `var_names` occurs in its path (`variable.path`, e.g. "batch_normalization/gamma" or
        "predictions/kernel") as a plain substring. (Keras' weight-decay rule searches `variable.name`, the
        last part of the path only, with the names joined into a regular expression; a path is what tells a
        BatchNorm's variables or the classifier's apart, and a substring has no special characters.)

        The exclusion is kept by `get_config`, so `model.save` -> `keras.saving.load_model` keeps it: names as
        they are, and the variables of `var_list` by their paths (up to the enclosing models' names, which a
        reload may change: "sequential_1/dense/kernel" is "dense/kernel" in the reloaded model).

        Why: with SGD momentum 0.9, the noise's random walk is amplified about tenfold in every parameter, which
        can wreck BatchNorm's scale and offset or a classifier while helping the deep layers.

        Args:
            var_list: variables to exclude (e.g. `[model.get_layer("predictions").kernel]`).
            var_names: substrings of the paths of the variables to exclude (e.g. `["batch_normalization",
                "predictions"]`).

        Raises:
            ValueError: the optimizer is already built, or `var_names` is not a list of non-empty strings.

        Example:
            >>> optimizer = NoisySGD(learning_rate=0.1, momentum=0.9, eta=0.01)
            >>> optimizer.exclude_from_gradient_noise(var_names=["batch_normalization", "predictions"])
            >>> model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")

        Reference: Neelakantan et al. 2015 add noise to every parameter; this is a departure from the paper.
        """
        if self.built:
            raise ValueError(
                "`exclude_from_gradient_noise()` can only be configured before the optimizer is built."
            )
        self._noise_exclude_names = check_var_names(var_names)
        self._noise_exclude_keys = {self._var_key(variable) for variable in var_list or ()}
        self._noise_exclude_paths = sorted({variable.path for variable in var_list or ()})

    def uses_gradient_noise(self, variable: Any) -> bool:
        """Whether `variable` gets noise (False when `exclude_from_gradient_noise` excluded it)."""
        if self._var_key(variable) in self._noise_exclude_keys:
            return False
        path = getattr(variable, "path", None) or variable.name
        if any(_same_variable_path(saved, path) for saved in self._noise_exclude_paths):
            return False
        return not any(name in path for name in self._noise_exclude_names)

    def build(self, variables: list[Any]) -> None:
        if self.built:
            return
        super().build(variables)
        initial_seed = self.seed if self.seed is not None else random.SystemRandom().randint(0, _MAX_SEED)
        self._noise_seed = self.add_variable(
            shape=(),
            dtype="int32",
            initializer=keras.initializers.Constant(initial_seed),
            aggregation="only_first_replica",
            name="noise_seed",
        )
        self._noise_step = self.add_variable(
            shape=(), dtype="int32", initializer="zeros", aggregation="only_first_replica", name="noise_step"
        )
        if self.track_gradient_rms:
            # Running totals over all updates (see gradient_square_totals).
            self._gradient_mean_square_sum, self._gradient_updates = (
                self.add_variable(shape=(), dtype="float32", initializer="zeros", name=name, aggregation=how)
                for name, how in (
                    ("gradient_mean_square_sum", "only_first_replica"),
                    ("gradient_updates", "only_first_replica"),
                )
            )
        self.noise_schedule.build(self)  # a schedule's own variables (GatedNoise's gate), after ours

    @property
    def noise_step(self) -> Any:
        """t: the number of noisy updates applied so far (an int32 optimizer variable)."""
        return self._noise_step

    def current_noise_stddev(self) -> float:
        """sigma_t for the next update, as a Python float (0.0 before the optimizer is built)."""
        step = int(ops.convert_to_numpy(self._noise_step)) if self.built else 0
        return float(self.noise_schedule(step))

    def gradient_square_totals(self) -> tuple[float, float] | None:
        """(sum over the updates so far of the clipped gradient's mean square entry, number of updates), of the
        variables that get noise; None without `track_gradient_rms` or before the optimizer is built. Two
        readings give the RMS over the updates between them (`NoiseStddevLogger` logs it per epoch); the totals
        are never reset, so that nothing but the train step writes them (also under multi-process JAX)."""
        if not (self.track_gradient_rms and self.built):
            return None
        return (
            float(ops.convert_to_numpy(self._gradient_mean_square_sum)),
            float(ops.convert_to_numpy(self._gradient_updates)),
        )

    def _track_gradient_rms(self, grads: list[Any], noised: list[bool], applied: Any = None) -> None:
        tracked = [g for g, noise_it in zip(grads, noised) if noise_it]
        if not tracked:
            return
        size = sum(math.prod(g.shape) for g in tracked)
        mean_square = sum(ops.sum(ops.square(ops.cast(g, "float32"))) for g in tracked) / size
        count = 1.0
        if applied is not None:  # a skipped, non-finite step must not poison the running totals
            mean_square = ops.where(applied, mean_square, 0.0)
            count = ops.cast(applied, "float32")
        self._gradient_mean_square_sum.assign_add(mean_square)
        self._gradient_updates.assign_add(count)

    def _clip_gradients(self, grads: list[Any]) -> list[Any]:
        # Deferred to _backend_update_step, after the cross-replica sum (see the module docstring).
        return grads

    def _backend_update_step(
        self, grads: list[Any], trainable_variables: list[Any], learning_rate: Any
    ) -> None:
        grads = backend.sum_across_replicas(self, grads, trainable_variables)
        grads = [backend.densify(g, v.shape) for g, v in zip(grads, trainable_variables)]
        grads = super()._clip_gradients(grads)  # the base class's clipping, now after the sum
        step = ops.convert_to_tensor(self._noise_step)
        apply_if = None
        if self._skips_nonfinite():
            apply_if = backend.all_finite(grads)  # the noise is finite: checked before it is added
        if self.track_gradient_rms or not self.noise_schedule.is_zero:
            # Static, decided when traced; built only when a step needs it (eager torch pays it every step).
            noised = [self.uses_gradient_noise(v) for v in trainable_variables]
            if self.track_gradient_rms:
                self._track_gradient_rms(grads, noised, apply_if)
            if not self.noise_schedule.is_zero:
                grads = self._add_noise(grads, noised, step)
        backend.apply_updates(
            self, self._base_update_step, grads, trainable_variables, learning_rate, apply_if=apply_if
        )
        increment = 1 if apply_if is None else ops.cast(apply_if, "int32")
        self._noise_step.assign_add(increment)

    def _base_update_step(self, grads: list[Any], trainable_variables: list[Any], learning_rate: Any) -> None:
        """The base class's `_backend_update_step` (its per-step work, then `update_step` per variable), with
        its cross-replica sum turned off: the gradients are already summed."""
        with backend.gradients_already_summed(self):
            super()._backend_update_step(grads, trainable_variables, learning_rate)

    def _all_reduce_sum_gradients(self, grads_and_vars: list[Any]) -> list[Any]:
        # TensorFlow only (TFOptimizer's all-reduce, called by its _backend_update_step and by
        # backend.sum_across_replicas): the identity while the base class's step runs on summed gradients.
        if backend.is_gradients_already_summed(self):
            return list(grads_and_vars)
        return super()._all_reduce_sum_gradients(grads_and_vars)

    def _add_noise(self, grads: list[Any], noised: list[bool], step: Any) -> list[Any]:
        if not any(noised):
            return grads
        sizes = [math.prod(g.shape) for g in grads]  # static: densify restored sparse gradients' shapes
        if sum(sizes) > rng.MAX_SAMPLES:
            raise ValueError(
                f"The noise generator draws at most 2**32 samples per update (one per parameter); these "
                f"{len(grads)} variables hold {sum(sizes)} parameters."
            )
        # One RNG call for all variables: per-call overhead dominates for the many small tensors of a deep net.
        sample = backend.standard_normal(sum(sizes), ops.convert_to_tensor(self._noise_seed), step)
        sample = sample * self.noise_schedule(step)
        # The whole vector is drawn even when variables are excluded: the others' noise does not depend on it.
        noisy, offset = [], 0
        for grad, size, noise_it in zip(grads, sizes, noised):
            if noise_it:
                noise = ops.reshape(sample[offset : offset + size], grad.shape)
                grad = ops.add(grad, ops.cast(noise, grad.dtype))  # ops: also for numpy gradients
            noisy.append(grad)
            offset += size
        return noisy

    def _skips_nonfinite(self) -> bool:
        if backend.num_replicas(self) < 2:
            return False
        if self.skip_nonfinite is not None:
            return self.skip_nonfinite
        return keras.config.dtype_policy().name == "mixed_float16"

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "eta": self.eta,
                "gamma": self.gamma,
                "noise_std": self.noise_std,
                "noise_schedule": (
                    keras.saving.serialize_keras_object(self.noise_schedule)
                    if self._custom_schedule
                    else None
                ),
                "seed": self.seed,
                "skip_nonfinite": self.skip_nonfinite,
                "track_gradient_rms": self.track_gradient_rms,
                "noise_exclude": self._noise_exclude_config(),
            }
        )
        return config

    def _noise_exclude_config(self) -> dict[str, list[str]] | None:
        if not (self._noise_exclude_names or self._noise_exclude_paths):
            return None
        return {"var_names": list(self._noise_exclude_names), "var_paths": list(self._noise_exclude_paths)}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Optimizer:
        config = dict(config)
        exclude = config.pop("noise_exclude", None) or {}  # absent in models saved before 0.2
        if isinstance(config.get("noise_schedule"), dict):
            config["noise_schedule"] = keras.saving.deserialize_keras_object(
                config["noise_schedule"], custom_objects=custom_objects
            )
        optimizer = super().from_config(config, custom_objects=custom_objects)
        optimizer._noise_exclude_names = check_var_names(exclude.get("var_names"))
        optimizer._noise_exclude_paths = check_var_names(exclude.get("var_paths"), "var_paths")
        return optimizer


def _resolve_schedule(
    eta: float | None, gamma: float | None, noise_std: float | None, noise_schedule: Any
) -> NoiseSchedule:
    given = [
        name
        for name, value in (("eta", eta), ("noise_std", noise_std), ("noise_schedule", noise_schedule))
        if value is not None
    ]
    if len(given) > 1:
        raise ValueError(
            f"Give at most one of `eta` (annealed schedule), `noise_std` (constant) and `noise_schedule`; got "
            f"{' and '.join(given)}."
        )
    if gamma is not None and given and given[0] != "eta":
        raise ValueError(
            f"`gamma` belongs to the annealed schedule; it cannot be combined with `{given[0]}`."
        )
    if noise_schedule is not None:
        if isinstance(noise_schedule, dict):
            noise_schedule = keras.saving.deserialize_keras_object(noise_schedule)
        if not isinstance(noise_schedule, NoiseSchedule):
            raise ValueError(
                "`noise_schedule` must be a keras_gradnoise.NoiseSchedule (subclass it to write your own); got "
                f"{noise_schedule!r}."
            )
        return noise_schedule
    if noise_std is not None:
        return ConstantNoise(noise_std)
    return AnnealedNoise(DEFAULT_ETA if eta is None else eta, DEFAULT_GAMMA if gamma is None else gamma)


def _same_variable_path(saved: str, path: str) -> bool:
    """Whether a path saved by `get_config` names `path` after a reload, which may add or drop the enclosing
    models' names ("sequential_1/dense/kernel" is "dense/kernel" in the reloaded model): equal, or one ends with
    the other, in whole components and at least two of them (a bare "kernel" names only itself)."""
    if saved == path:
        return True
    a, b = saved.split("/"), path.split("/")
    n = min(len(a), len(b))
    return n >= 2 and a[-n:] == b[-n:]


def check_var_names(names: Any, what: str = "var_names") -> list[str]:
    """`names` (None or a list / tuple of non-empty strings) as a list; otherwise a ValueError naming `what`."""
    if names is None:
        return []
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ValueError(f"`{what}` must be a list of strings (substrings of variable paths); got {names!r}.")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"`{what}` must hold non-empty strings; got {name!r} in {list(names)!r}.")
    return list(dict.fromkeys(names))


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"`seed` must be None or an int in [0, {_MAX_SEED}]; got {seed!r}.")
    return int(seed)


_NOISY_CLASSES: dict[type, type] = {}


def with_gradient_noise(optimizer_class: type) -> type:
    """Returns the noisy subclass of a Keras optimizer class: `with_gradient_noise(keras.optimizers.Lion)`.

    The subclass takes the base class's arguments plus `eta`, `gamma`, `noise_std`, `noise_schedule`, `seed` and
    `skip_nonfinite` (see `GradientNoiseMixin`), and is registered for serialization as
    "keras_gradnoise>Noisy<BaseName>". A class of yours named like a Keras optimizer (`mylib.Adam`) is registered
    as "keras_gradnoise>Noisy<module>.<qualname>" ("keras_gradnoise>Noisymylib.Adam") instead, so that it never
    takes over the name of the noisy Keras optimizer. The same class object is returned for repeated calls. A
    model saved with a noisy version of your own optimizer class loads again once `with_gradient_noise(YourClass)`
    has been called.

    Args:
        optimizer_class: a subclass of `keras.optimizers.Optimizer` (not LossScaleOptimizer: wrap the noisy
            optimizer in it instead, as `model.compile` does under mixed precision; not MultiOptimizer: make its
            inner optimizers noisy).

    Returns:
        The noisy optimizer class.

    Raises:
        ValueError: not an optimizer class; a wrapper class; or another class (from another module) already holds
            the registered name (rename one of them: models saved with one would load with the other). Defining
            the same class again (a reloaded module, a re-run notebook cell) replaces the registration.

    Example:
        >>> NoisyLion = with_gradient_noise(keras.optimizers.Lion)
        >>> optimizer = NoisyLion(learning_rate=1e-4, eta=0.3, seed=1)

    Reference: Neelakantan et al. 2015, "Adding Gradient Noise Improves Learning for Very Deep Networks".
    """
    if not (inspect.isclass(optimizer_class) and issubclass(optimizer_class, Optimizer)):
        raise ValueError(
            f"with_gradient_noise takes a keras.optimizers.Optimizer subclass; got {optimizer_class!r}."
        )
    if issubclass(optimizer_class, GradientNoiseMixin):
        return optimizer_class
    if issubclass(optimizer_class, keras.optimizers.LossScaleOptimizer):
        raise ValueError(
            "with_gradient_noise cannot wrap LossScaleOptimizer; make the inner optimizer noisy instead: "
            "LossScaleOptimizer(NoisyAdam(...))."
        )
    if issubclass(optimizer_class, keras.optimizers.MultiOptimizer):
        # Its apply() hands each variable to an inner optimizer: its own update step, and so the noise, never runs.
        raise ValueError(
            "with_gradient_noise cannot wrap MultiOptimizer; make its inner optimizers noisy instead: "
            "MultiOptimizer(OptimizerMap(NoisyAdam(...), {...}))."
        )
    if optimizer_class not in _NOISY_CLASSES:
        registered = _registered_name(optimizer_class)
        name = f"Noisy{optimizer_class.__name__}"
        noisy_class = type(
            name,
            (GradientNoiseMixin, backend.optimizer_implementation(optimizer_class)),
            {
                "__doc__": f"{optimizer_class.__name__} with annealed Gaussian gradient noise.\n\n"
                + (GradientNoiseMixin.__doc__ or ""),
                "__module__": __name__,
            },
        )
        _NOISY_CLASSES[optimizer_class] = register_keras_serializable(package=PACKAGE, name=registered)(
            noisy_class
        )
    return _NOISY_CLASSES[optimizer_class]


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _registered_name(optimizer_class: type) -> str:
    """The serialization name of the noisy `optimizer_class` (see `with_gradient_noise`); ValueError when another
    class already holds it."""
    name = f"Noisy{optimizer_class.__name__}"
    keras_class = getattr(keras.optimizers, optimizer_class.__name__, None)
    if inspect.isclass(keras_class) and keras_class is not optimizer_class:
        name = f"Noisy{_qualified(optimizer_class)}"  # a user class named like a Keras optimizer
    existing = keras.saving.get_registered_object(f"{PACKAGE}>{name}")
    if existing is not None:
        existing_base = next((base for base, noisy in _NOISY_CLASSES.items() if noisy is existing), existing)
        if _qualified(existing_base) != _qualified(optimizer_class):
            raise ValueError(
                f"with_gradient_noise({_qualified(optimizer_class)}): the serialization name "
                f"'{PACKAGE}>{name}' already belongs to the noisy {_qualified(existing_base)}; registering "
                "another class under it would make models saved with one load as the other. Rename one of "
                "the two classes."
            )
    return name


# The noisy form of each stock Keras optimizer, named "Noisy" + its name; `with_gradient_noise` makes any other.
_stock = keras.optimizers
NoisySGD, NoisyAdam, NoisyAdamW, NoisyAdamax, NoisyNadam, NoisyRMSprop = map(
    with_gradient_noise, (_stock.SGD, _stock.Adam, _stock.AdamW, _stock.Adamax, _stock.Nadam, _stock.RMSprop)
)
NoisyAdagrad, NoisyAdadelta, NoisyAdafactor, NoisyFtrl, NoisyLion, NoisyLamb = map(
    with_gradient_noise,
    (_stock.Adagrad, _stock.Adadelta, _stock.Adafactor, _stock.Ftrl, _stock.Lion, _stock.Lamb),
)
