"""The one training loop of the zoo: a `TrainConfig` in, a trained model and its results in a workdir out.

`train_and_evaluate(config, workdir)` seeds everything, builds the distribution strategy, the model and the noisy
optimizer inside its scope, trains with `model.fit` (progress bars, TensorBoard, the noise std, the task's
callbacks, checkpoints), evaluates with the task's own metrics and writes:

    <workdir>/config.json      the resolved config (a resumed run must match it)
    <workdir>/tensorboard/     TensorBoard logs (loss, metrics, noise_stddev per epoch)
    <workdir>/checkpoint/      the latest resumable state (see zoo/checkpoint.py)
    <workdir>/model.keras      the final model, optimizer state included
    <workdir>/results.json     {"config", "metrics", "history", "wall_seconds", "backend", "strategy", "devices",
                                ...}
    <workdir>/extensions.json  only for a run extended by `resume` with more epochs: [{from_epochs, to_epochs,
                               date}]; the results of the shorter run are kept as results_epochs_<from>.json

Exact resumption rests on the data: the training batches come from `EpochView`, which asks the task's data for
batch i of epoch e explicitly, so a resumed run (even one resumed in the middle of an epoch) sees exactly the
batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import keras

import keras_gradnoise
from zoo import checkpoint, cli, distribute, summaries
from zoo.batches import SeededBatches
from zoo.config import TrainConfig
from zoo.registry import TaskData, ZooEntry, differing_fields, get, with_option_defaults


def build_optimizer(config: TrainConfig, steps_per_epoch: int | None = None) -> keras.optimizers.Optimizer:
    """The noisy version of `config.optimizer`, configured from `config`.

    Args:
        config: gives the optimizer name and kwargs, the learning rate and its step decay, the noise (eta, gamma
            or a constant std; eta 0 and no std means no noise), the variables kept noiseless
            (`config.noise_exclude`), clipping and the noise seed (`config.seed`).
        steps_per_epoch: needed when `config.lr_decay_every_epochs` is set, to turn epochs into steps.

    Returns:
        An instance of `keras_gradnoise.with_gradient_noise(<the Keras optimizer class>)`.

    Raises:
        ValueError: an unknown optimizer name, lr decay without steps_per_epoch, or an invalid config (e.g. both
            noise_eta > 0 and noise_std: `TrainConfig.validate` decides between the two schedules).
    """
    config.validate()
    try:
        base = keras.optimizers.get(config.optimizer)
    except ValueError:
        known = "sgd, adam, adamw, rmsprop, adagrad, adadelta, adamax, nadam, ftrl, lion, lamb, adafactor"
        raise ValueError(f"Unknown optimizer {config.optimizer!r}. Known optimizers: {known}.") from None
    noisy_class = keras_gradnoise.with_gradient_noise(type(base))
    learning_rate: Any = config.learning_rate
    if config.lr_decay_every_epochs:
        if not steps_per_epoch:
            raise ValueError(
                "lr_decay_every_epochs needs steps_per_epoch to convert epochs to optimizer steps."
            )
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate,
            decay_steps=config.lr_decay_every_epochs * steps_per_epoch,
            decay_rate=config.lr_decay_factor,
            staircase=True,
        )
    if config.noise_std is not None:  # then noise_eta is 0 (validate refuses both)
        noise: dict[str, Any] = {"noise_std": config.noise_std}
    else:
        # eta=0 must be passed explicitly: keras_gradnoise's default eta is 0.01, not "off".
        noise = {"eta": config.noise_eta, "gamma": config.noise_gamma}
    if config.noise_gate_metric is not None:
        base = (
            keras_gradnoise.ConstantNoise(config.noise_std)
            if config.noise_std is not None
            else keras_gradnoise.AnnealedNoise(config.noise_eta, config.noise_gamma)
        )
        noise = {"noise_schedule": keras_gradnoise.GatedNoise(base)}
    optimizer = noisy_class(
        learning_rate=learning_rate,
        clipnorm=config.clipnorm,
        global_clipnorm=config.global_clipnorm,
        seed=config.seed,
        **noise,
        # Logged per epoch as gradient_rms and noise_to_gradient (NoiseStddevLogger): whether the noise dominates.
        **{"track_gradient_rms": True, **config.optimizer_kwargs},
    )
    if config.noise_exclude:
        optimizer.exclude_from_gradient_noise(var_names=config.noise_exclude)
    return optimizer


def build_compiled_model(
    entry: ZooEntry, config: TrainConfig, steps_per_epoch: int | None = None
) -> keras.Model:
    """`entry`'s model built from `config.model_kwargs` and compiled with the noisy optimizer and the task's loss and
    metrics, exactly as `train_and_evaluate` does; for tests, benchmarks and notebooks.

    Call it inside the strategy's scope when there is one (`with strategy.scope():`); it opens none itself. It
    does not seed: call `keras.utils.set_random_seed(config.seed)` first for the run's initialization.

    Args:
        entry: the zoo entry (`zoo.get(config.model)`).
        config: the run; checked against the entry's option classes (`ZooEntry.check_options`).
        steps_per_epoch: optimizer steps per epoch, needed by `config.lr_decay_every_epochs`; None:
            `config.steps_per_epoch`.

    Returns:
        The compiled, not yet built, keras.Model.

    Raises:
        ValueError: an invalid config, an unknown option key, or an unknown optimizer.
    """
    entry.check_options(config)
    model = entry.build_model(**config.model_kwargs)
    optimizer = build_optimizer(config, steps_per_epoch or config.steps_per_epoch)
    model.compile(optimizer=optimizer, **entry.compile_kwargs(config))
    return model


class ArrayBatches(SeededBatches):
    """Shuffled mini-batches of in-memory arrays; the order of epoch e is a pure function of (seed, e).

    Args:
        arrays: (x, y) or (x, y, sample_weight); x and y may be nested lists/dicts of arrays with equal length.
        batch_size: rows per batch; the last batch of an epoch may be smaller.
        seed: seeds the per-epoch permutation.
        shuffle: False keeps the original order.
    """

    def __init__(self, arrays: tuple, batch_size: int, seed: int, shuffle: bool = True):
        super().__init__(batch_size, seed)
        self.arrays = arrays
        lengths = {len(a) for a in keras.tree.flatten(arrays)}
        if len(lengths) != 1:
            raise ValueError(
                f"The training arrays have different lengths {sorted(lengths)}; they must be equal."
            )
        self.num_examples = lengths.pop()
        self.shuffle = shuffle

    def __getitem__(self, index: int) -> tuple:
        rows = self.batch_rows(index, shuffle=self.shuffle)
        return keras.tree.map_structure(lambda a: a[rows], self.arrays)


class EpochView(keras.utils.PyDataset):
    """Steps [start, steps) of one epoch of `source`, for `model.fit`.

    `fit` knows nothing of epochs inside the data; this view serves batch `start + i` of epoch `epoch` (set by
    `EpochSetter` before each epoch) and calls `source.set_epoch(epoch)` first when the source has it. With
    `steps` larger than the source's length the batches wrap around.
    """

    def __init__(self, source: Any, steps: int, start: int = 0, epoch: int = 0):
        super().__init__()
        self.source, self.steps, self.start, self.epoch = source, steps, start, epoch

    def __len__(self) -> int:
        return self.steps - self.start

    def __getitem__(self, index: int) -> Any:
        if index >= len(self):
            raise IndexError(f"EpochView index {index} out of range ({len(self)} batches).")
        if hasattr(self.source, "set_epoch"):
            self.source.set_epoch(self.epoch)
        return self.source[(self.start + index) % len(self.source)]


class _RestoreMetricsOnce(keras.callbacks.Callback):
    """Puts restored compiled-metric accumulators back after `fit` reset them at the start of the resumed epoch.

    So the logs of an epoch interrupted mid-way cover all of its steps, as in the uninterrupted run.
    """

    def __init__(self, model: keras.Model):
        super().__init__()
        self.values = [keras.ops.convert_to_numpy(v) for v in model.metrics_variables]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.values is not None:
            for variable, value in zip(self.model.metrics_variables, self.values):
                variable.assign(value)
            self.values = None


class EpochSetter(keras.callbacks.Callback):
    """Tells the training `EpochView` which epoch is starting (before `fit` draws the epoch's first batch)."""

    def __init__(self, view: EpochView):
        super().__init__()
        self.view = view

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.view.epoch = epoch


def training_source(data: TaskData, config: TrainConfig) -> keras.utils.PyDataset:
    """What the training batches are drawn from: `data.train` itself when it is a PyDataset, or `ArrayBatches`
    over its (x, y) arrays (shuffled per epoch by `config.seed`).

    Args:
        data: the task's data (`entry.make_data(config, data_dir)`).
        config: gives the batch size and seed of in-memory arrays.

    Returns:
        A PyDataset; `EpochView(source, steps)` turns it into the batches of one epoch.

    Raises:
        ValueError: `data.train` is neither.
    """
    train = data.train
    if isinstance(train, (tuple, list)):
        return ArrayBatches(tuple(train), config.batch_size, config.seed)
    if isinstance(train, keras.utils.PyDataset):
        return train
    raise ValueError(
        f"TaskData.train must be a keras.utils.PyDataset or an (x, y) tuple of arrays; got {type(train).__name__}."
    )


EXTENSIONS = "extensions.json"


def _check_workdir(workdir: str, config: TrainConfig, resume: bool, write: bool) -> int | None:
    """Refuses a workdir the run cannot use; returns the saved epochs when `config` extends the saved run.

    A resumed run must have the saved config, except that it may raise `epochs` (to extend a run): what was
    trained so far is then exactly what the longer run would have trained, since nothing in a run depends on the
    total number of epochs.
    """
    cli.check_output_dir(workdir, "--workdir")
    config_path = os.path.join(workdir, "config.json")
    if resume:
        if not os.path.exists(config_path):
            # Killed before its first write, or never started: a preemptible job always passing --resume starts.
            return None
        current = json.loads(config.to_json())
        with open(config_path) as f:
            recorded = json.load(f)
        differing = differing_fields(recorded, current)  # a field or option added since counts as its default
        if (
            differing == ["epochs"]
            and isinstance(recorded.get("epochs"), int)
            and current["epochs"] > recorded["epochs"]
        ):
            return recorded["epochs"]
        if differing:
            saved = with_option_defaults(recorded, current)  # the values as compared
            details = "; ".join(f"{k}: saved {saved.get(k)!r}, now {current.get(k)!r}" for k in differing)
            raise ValueError(
                f"--resume: the config differs from the one in {config_path} ({details}). A resumed run may only "
                "raise epochs (to extend it); for anything else choose a new --workdir."
            )
    elif write and (checkpoint.exists(workdir) or os.path.exists(config_path)):
        raise ValueError(
            f"--workdir {workdir!r} already holds a run; pass --resume to continue it, or choose a new --workdir."
        )
    return None


def _extensions(workdir: str) -> list[dict[str, Any]]:
    path = os.path.join(workdir, EXTENSIONS)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def _record_extension(workdir: str, from_epochs: int, to_epochs: int) -> None:
    """Appends {from_epochs, to_epochs, date} to <workdir>/extensions.json; an earlier results.json is kept.

    Written before the new config.json, so a run killed in between is extended (and recorded once) again.
    """
    records = _extensions(workdir)
    if not records or (records[-1]["from_epochs"], records[-1]["to_epochs"]) != (from_epochs, to_epochs):
        date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        records.append({"from_epochs": from_epochs, "to_epochs": to_epochs, "date": date})
        checkpoint.atomic_write_json(os.path.join(workdir, EXTENSIONS), records)
    finished = os.path.join(workdir, "results.json")
    if os.path.exists(finished):
        # Until the longer run finishes, the workdir must not look finished; its earlier results stay readable.
        os.replace(finished, os.path.join(workdir, f"results_epochs_{from_epochs}.json"))


def train_and_evaluate(
    config: TrainConfig,
    workdir: str,
    *,
    data_dir: str | None = None,
    strategy: Any = "auto",
    resume: bool = False,
    verbose: int = 1,
    checkpoint_every_steps: int | None = None,
    cpu_devices: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, Any]:
    """Trains `config.model` as `config` says and writes the run into `workdir` (see the module docstring).

    Args:
        config: the run; validated here, with its model_kwargs and data_kwargs checked against the entry's option
            classes (`ZooEntry.check_options`) before any work.
        workdir: output directory (created). Must not hold another run unless `resume`.
        data_dir: local data for the task (None: the task's default location or download).
        strategy: a `--strategy` name (zoo.distribute.STRATEGIES), a tf.distribute.Strategy or (JAX) a
            keras.distribution.DataParallel instance.
        resume: continue from the latest checkpoint in `workdir`; its config.json must equal `config`, except
            that `config.epochs` may be larger, which extends the run (finished or not) from its last checkpoint
            and is recorded in results.json's "extended_from_epochs". A workdir without a checkpoint yet starts
            from the beginning (so preemptible jobs can always pass it).
        verbose: Keras fit verbosity (1 progress bars, 2 one line per epoch, 0 silent).
        checkpoint_every_steps: also checkpoint every this many steps within an epoch (epoch ends always are).
        cpu_devices: split the CPU into this many logical devices (to try "mirrored" without GPUs).
        callbacks: extra Keras callbacks (a probe, early stopping by time, ...), called after the zoo's own
            (noise gate and std, the task's, TensorBoard), so they see the complete logs of each epoch, and
            before the checkpoint saver, so what they add to the logs is recorded and a `stop_training` they set
            still ends with a checkpoint. Ones with get_state/set_state are checkpointed and restored like the
            task's (a resumed run must then pass the same callbacks).

    Returns:
        The results dict also written to `<workdir>/results.json`.
    """
    started = time.time()
    entry = get(config.model)
    config = entry.check_options(config)
    if isinstance(strategy, str):
        strategy_obj = distribute.get_strategy(strategy, cpu_devices=cpu_devices)
    else:
        strategy_obj = strategy
    with distribute.run_scope(strategy_obj):
        return _train(
            entry,
            config,
            workdir,
            strategy_obj,
            started,
            data_dir,
            resume,
            verbose,
            checkpoint_every_steps,
            list(callbacks),
        )


def _train(
    entry: ZooEntry,
    config: TrainConfig,
    workdir: str,
    strategy_obj: Any,
    started: float,
    data_dir: str | None,
    resume: bool,
    verbose: int,
    checkpoint_every_steps: int | None,
    user_callbacks: list[Any],
) -> dict[str, Any]:
    chief = distribute.is_chief(strategy_obj)
    extends = _check_workdir(workdir, config, resume, write=chief)
    keras.utils.set_random_seed(config.seed)
    data = entry.make_data(config, data_dir)
    source = training_source(data, config)
    steps = config.steps_per_epoch or len(source)
    with distribute.scope(strategy_obj):
        model = build_compiled_model(entry, config, steps)
        distribute.check_supported(strategy_obj, model.optimizer)
    distribute.patch_for_multi_worker(model)
    # Build weights, metrics and optimizer now (fit would do it lazily) so a checkpoint can be loaded into them.
    first = EpochView(source, steps)[0]
    with distribute.scope(strategy_obj):
        model._symbolic_build(data_batch=first)

    task_callbacks = list(data.callbacks)
    noise_logger = keras_gradnoise.NoiseStddevLogger()
    # Positions key the states (checkpoint.stateful): the task's come first, so their keys do not depend on
    # whether the caller passes callbacks.
    # The logger's key is fixed: a resumed run may pass other callbacks (and older checkpoints lack it).
    stateful = {**checkpoint.stateful([*task_callbacks, *user_callbacks]), "noise_logger": noise_logger}
    epoch, step, history = 0, 0, {}
    resumed_from = None
    if resume and checkpoint.exists(workdir):
        metadata = checkpoint.restore(workdir, model)
        checkpoint.restore_callback_states(stateful, metadata["callback_states"])
        epoch, step, history = metadata["epoch"], metadata["step"], metadata["history"]
        resumed_from = {"epoch": epoch, "step": step}
        if verbose:
            print(f"Resuming {workdir} at epoch {epoch + 1}, step {step} of {steps}.")
    elif resume and verbose:
        print(f"--resume: {workdir} holds no checkpoint yet; starting from the beginning.")
    if chief:
        os.makedirs(workdir, exist_ok=True)
        if extends is not None and resumed_from is not None:
            _record_extension(workdir, extends, config.epochs)
            if verbose:
                print(f"Extending {workdir} from {extends} to {config.epochs} epochs.")
        checkpoint.atomic_write_json(os.path.join(workdir, "config.json"), json.loads(config.to_json()))

    saver = checkpoint.CheckpointCallback(workdir, checkpoint_every_steps, history, stateful, write=chief)
    view = EpochView(source, steps, epoch=epoch)
    # The gate is written before the std is logged, so the logged std is the one of the next update. It reads the
    # compiled metrics' logs (task callbacks run later and may add their own keys, which it cannot read).
    gate = (
        [keras_gradnoise.NoiseGateCallback(config.noise_gate_metric, config.noise_gate_every_steps)]
        if config.noise_gate_metric is not None
        else []
    )
    callbacks: list[Any] = [EpochSetter(view), *gate, noise_logger, *task_callbacks]
    if chief:
        callbacks += summaries.callbacks(os.path.join(workdir, "tensorboard"))
    callbacks += [*user_callbacks, saver]
    # shuffle=False: fit would shuffle the batch order with Python's global RNG, which no checkpoint restores.
    # The order is the data's own business (ArrayBatches permutes by (seed, epoch)).
    fit_kwargs = {
        "validation_data": distribute.for_fit(data.validation, strategy_obj),
        "callbacks": callbacks,
        "verbose": verbose,
        "shuffle": False,
    }
    if step and epoch < config.epochs:
        # The interrupted epoch: its remaining steps only, as a fit of its own (fit cannot start mid-epoch).
        partial = EpochView(source, steps, start=step, epoch=epoch)
        saver.start_epoch_at(step, steps)
        model.fit(
            distribute.for_fit(partial, strategy_obj),
            initial_epoch=epoch,
            epochs=epoch + 1,
            callbacks=[EpochSetter(partial), _RestoreMetricsOnce(model), *callbacks[1:]],
            **{k: v for k, v in fit_kwargs.items() if k != "callbacks"},
        )
        epoch += 1
    if epoch < config.epochs:
        saver.start_epoch_at(0, steps)
        model.fit(
            distribute.for_fit(view, strategy_obj), initial_epoch=epoch, epochs=config.epochs, **fit_kwargs
        )

    metrics = {key: values[-1] for key, values in saver.history.items() if values}
    if data.evaluate is not None:
        with distribute.evaluation_model(model, strategy_obj) as evaluated:
            metrics.update(data.evaluate(evaluated))
    results = {
        "config": json.loads(config.to_json()),
        "metrics": metrics,
        "history": saver.history,
        "wall_seconds": time.time() - started,
        "backend": keras.backend.backend(),
        "strategy": distribute.describe(strategy_obj),
        "devices": distribute.device_names(strategy_obj),
        "resumed_from": resumed_from,
        # The earlier epoch targets of a run extended with --resume and more epochs, oldest first; else None.
        "extended_from_epochs": [
            r["from_epochs"] for r in _extensions(workdir) if r["to_epochs"] <= config.epochs
        ]
        or None,
        "data_info": data.info,
        "keras_version": keras.__version__,
        "machine": f"{platform.node()} {platform.machine()} ({os.cpu_count()} CPUs)",
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if chief:
        checkpoint.atomic_save(os.path.join(workdir, "model.keras"), model.save)
        checkpoint.atomic_write_json(os.path.join(workdir, "results.json"), results)
    else:
        # Saving reads sync-on-read variables, a collective op every worker must join: save to a scratch dir.
        with tempfile.TemporaryDirectory() as scratch:
            model.save(os.path.join(scratch, "model.keras"))
    return results
