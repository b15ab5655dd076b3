"""NRAM core, loss, metrics, clipping and curriculum against hand-written programs and numpy references."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo import TrainConfig
from zoo.nram import ENTRY, curriculum, modules, tasks
from zoo.nram.model import NRAMCore, NRAMLoss, answer_from_trace, score

_INDEX = {name: i for i, name in enumerate(modules.MODULE_NAMES)}


def _programmed_access_machine(memory_size: int) -> NRAMCore:
    """A one-register machine whose constant logits run: r0 <- INC(READ(r0)); WRITE(ZERO, READ(r0)).

    Step 1 reads k from cell 0 and sets r0 = k + 1; step 2 reads A[k] from cell k + 1 and writes it to cell 0.
    """
    core = NRAMCore(
        memory_size=memory_size, num_registers=1, max_timesteps=3, controller="feedforward", hidden_units=1
    )
    core.build((None, memory_size))
    bias = np.zeros(core._num_logits, dtype=np.float32)
    r = 1  # candidates: registers first, then module j's output at index r + j

    def choose(module, argument, candidate):
        start, width = core._argument_slices[_INDEX[module]][argument]
        assert candidate < width
        bias[start + candidate] = 40.0

    choose("INC", 0, r + _INDEX["READ"])
    choose("WRITE", 0, r + _INDEX["ZERO"])
    choose("WRITE", 1, r + _INDEX["READ"])
    bias[core._register_offset + r + _INDEX["INC"]] = 40.0
    bias[core._stop_offset] = -40.0
    core.output_kernel.assign(np.zeros(core.output_kernel.shape, dtype=np.float32))
    core.output_bias.assign(bias)
    return core


def test_hand_programmed_machine_solves_access():
    memory_size = 8
    batch = tasks.generate("access", 5, memory_size, np.random.default_rng(0), count=64)
    core = _programmed_access_machine(memory_size)
    trace = keras.ops.convert_to_numpy(core(batch["memory"], np.full(64, 2, dtype=np.int32)))
    predicted = answer_from_trace(trace)
    np.testing.assert_array_equal(predicted[:, 0], batch["target"][:, 0])
    assert score(predicted, batch["target"]) == {"cell_accuracy": 1.0, "example_accuracy": 1.0}
    # With one more step the same program reads past A[k] and overwrites the answer: the budget matters.
    late = answer_from_trace(
        keras.ops.convert_to_numpy(core(batch["memory"], np.full(64, 3, dtype=np.int32)))
    )
    assert (late[:, 0] != batch["target"][:, 0]).mean() > 0.5


def test_stop_distribution_sums_to_one_and_ends_at_the_budget():
    core = NRAMCore(memory_size=6, num_registers=2, max_timesteps=5, hidden_units=4)
    memory = np.random.default_rng(0).integers(0, 6, size=(5, 6)).astype(np.int32)
    budget = np.array([1, 2, 3, 4, 5], dtype=np.int32)
    trace = keras.ops.convert_to_numpy(core(memory, budget))
    stops = trace[:, :, 0, -1]
    np.testing.assert_allclose(stops.sum(axis=1), 1.0, atol=1e-5)
    for row, steps in enumerate(budget):
        assert (stops[row, steps:] == 0).all() and (stops[row, :steps] > 0).all()
    np.testing.assert_allclose(trace[..., :-1].sum(-1), 1.0, atol=1e-4)  # every cell stays a distribution


def test_loss_matches_the_papers_formula():
    rng = np.random.default_rng(3)
    batch, steps, m = 3, 4, 5
    memories = rng.dirichlet(np.ones(m), size=(batch, steps, m)).astype(np.float32)
    memories[0, 1, 2] = 0.0  # a zero probability: the log(max(x, eps)) guard must apply
    memories[0, 1, 2, 0] = 1.0
    stops = rng.dirichlet(np.ones(steps), size=batch).astype(np.float32)
    trace = np.concatenate(
        [memories, np.broadcast_to(stops[:, :, None, None], (batch, steps, m, 1))], axis=-1
    )
    target = rng.integers(0, m, size=(batch, m)).astype(np.int32)
    target[:, ::2] = -1
    target[0, 2] = 3
    eps = 1e-4
    expected = []
    for b in range(batch):
        total = 0.0
        for t in range(steps):
            for i in range(m):
                if target[b, i] >= 0:
                    total -= stops[b, t] * np.log(max(memories[b, t, i, target[b, i]], eps))
        expected.append(total)
    got = keras.ops.convert_to_numpy(NRAMLoss(log_eps=eps, reduction=None)(target, trace))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="reads gradients with tf.GradientTape")
def test_clip_and_renormalize_have_the_papers_backward_passes():
    import tensorflow as tf

    from zoo.nram.core import _clip_gradient, renormalize

    x = tf.constant(np.random.default_rng(0).random((3, 5)).astype(np.float32) + 0.1)
    upstream = tf.constant(np.random.default_rng(1).normal(scale=5.0, size=(3, 5)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        clipped = _clip_gradient(2.0)(x)
        rescaled = renormalize(x)
        clip_loss = tf.reduce_sum(upstream * clipped)
        rescale_loss = tf.reduce_sum(upstream * rescaled)
    np.testing.assert_array_equal(clipped.numpy(), x.numpy())  # the clip is the identity going forward
    np.testing.assert_allclose(tape.gradient(clip_loss, x).numpy(), np.clip(upstream.numpy(), -2.0, 2.0))
    # Rescaling divides by the sum going forward and is the identity going backward.
    np.testing.assert_allclose(rescaled.numpy(), x.numpy() / x.numpy().sum(-1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(rescale_loss, x).numpy(), upstream.numpy())


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="reads gradients with tf.GradientTape")
def test_first_clip_acts_on_the_activations_gradients():
    """With C1 tiny, the output bias's gradient is a sum of batch x steps clipped logit gradients: bounded."""
    import tensorflow as tf

    batch = tasks.generate("list_k", 2, 8, np.random.default_rng(0), count=4)
    clip, steps = 1e-4, 4
    gradients = {}
    for value in (None, 1e6, clip):
        keras.utils.set_random_seed(1)
        core = NRAMCore(
            memory_size=8, num_registers=2, max_timesteps=steps, hidden_units=4, gradient_clip_value=value
        )
        with tf.GradientTape() as tape:
            trace = core(batch["memory"], batch["timesteps"])
            loss = NRAMLoss()(batch["target"], trace)
        grads = tape.gradient(loss, core.trainable_variables)
        gradients[value] = {v.path.split("/")[-1]: g.numpy() for v, g in zip(core.trainable_variables, grads)}
    for name, unclipped in gradients[None].items():  # a clip that never binds changes nothing
        np.testing.assert_allclose(gradients[1e6][name], unclipped, rtol=1e-5, atol=1e-8)
    # NRAMLoss averages over the batch, so a logit's gradient carries a factor 1/4 before the clip.
    bound = 4 * steps * clip
    assert np.abs(gradients[None]["output_bias"]).max() > 10 * bound  # the clip has something to do
    assert np.abs(gradients[clip]["output_bias"]).max() <= bound * (1 + 1e-4)
    # The LSTM output h lies in (-1, 1), so the output kernel's gradient obeys the same bound.
    assert np.abs(gradients[clip]["output_kernel"]).max() <= bound * (1 + 1e-4)


def test_controllers_are_the_papers_relu_networks():
    """The first step's stop probability against a numpy forward pass of the paper's two controllers."""
    memory = np.random.default_rng(0).integers(0, 6, size=(3, 6)).astype(np.int32)
    budget = np.full(3, 4, dtype=np.int32)
    for controller in ("lstm", "feedforward"):
        keras.utils.set_random_seed(2)
        core = NRAMCore(
            memory_size=6, num_registers=3, max_timesteps=4, controller=controller, hidden_units=5
        )
        core.build((None, 6))
        rng = np.random.default_rng(3)
        for variable in core.trainable_variables:  # random biases too, so that every ReLU sometimes bites
            variable.assign(rng.normal(size=variable.shape).astype(np.float32))
        weights = {v.path.split("/")[-1]: v.numpy() for v in core.weights}
        x = np.ones((1, 3))  # registers start at 0: P(r_i = 0) = 1
        layers = 1 if controller == "lstm" else 2
        assert [k for k in weights if k.startswith("hidden_kernel")] == [
            f"hidden_kernel_{i}" for i in range(layers)
        ]
        for i in range(layers):
            x = np.maximum(x @ weights[f"hidden_kernel_{i}"] + weights[f"hidden_bias_{i}"], 0.0)
        if controller == "lstm":
            gates = x @ weights["kernel"] + weights["bias"]  # h = c = 0 before the first step
            i, _, g, o = np.split(gates, 4, axis=-1)
            x = _sigmoid(o) * np.tanh(_sigmoid(i) * np.tanh(g))
        stop = _sigmoid(x @ weights["output_kernel"] + weights["output_bias"])[0, -1]
        trace = keras.ops.convert_to_numpy(core(memory, budget))
        np.testing.assert_allclose(trace[:, 0, 0, -1], stop, rtol=1e-5)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _programmed_write_chain(write_output: str) -> NRAMCore:
    """Every step: WRITE(r0, TWO), then r0 <- the output of WRITE."""
    core = NRAMCore(
        memory_size=6,
        num_registers=1,
        max_timesteps=2,
        controller="feedforward",
        hidden_units=1,
        write_output=write_output,
    )
    core.build((None, 6))
    bias = np.zeros(core._num_logits, dtype=np.float32)
    for argument, candidate in ((0, 0), (1, 1 + _INDEX["TWO"])):
        start, _ = core._argument_slices[_INDEX["WRITE"]][argument]
        bias[start + candidate] = 40.0
    bias[core._register_offset + 1 + _INDEX["WRITE"]] = 40.0
    bias[core._stop_offset] = -40.0
    core.output_kernel.assign(np.zeros(core.output_kernel.shape, dtype=np.float32))
    core.output_bias.assign(bias)
    return core


def test_write_returns_the_written_value():
    """Appendix C: WRITE returns a. Step 1 writes 2 to cell 0 and r0 becomes 2; step 2 writes 2 to cell 2."""
    memory = np.ones((2, 6), dtype=np.int32)
    budget = np.full(2, 2, dtype=np.int32)
    for write_output, expected in (("value", [2, 1, 2, 1, 1, 1]), ("zero", [2, 1, 1, 1, 1, 1])):
        trace = keras.ops.convert_to_numpy(_programmed_write_chain(write_output)(memory, budget))
        np.testing.assert_array_equal(answer_from_trace(trace), [expected] * 2)


def test_configs_saved_before_the_paper_check_load_their_old_architecture():
    legacy = {
        "memory_size": 8,
        "num_registers": 2,
        "max_timesteps": 3,
        "hidden_units": 4,
        "name": "nram_core",
    }
    lstm = NRAMCore.from_config({**legacy, "controller": "lstm"})
    lstm.build((None, 8))
    assert (lstm.controller_layers, lstm.write_output) == (0, "zero")
    assert [tuple(v.shape) for v in lstm.weights][:3] == [(2, 16), (4, 16), (16,)]
    mlp = NRAMCore.from_config({**legacy, "controller": "feedforward"})
    assert (mlp.controller_layers, mlp.activation, mlp.write_output) == (1, "tanh", "zero")
    paper = NRAMCore.from_config(lstm.get_config() | {"controller_layers": 1, "write_output": "value"})
    assert paper.get_config()["controller_layers"] == 1


def test_combined_curriculum_shares():
    rng = np.random.default_rng(0)
    drawn = curriculum.sample_difficulties(rng, 40000, current=3, max_difficulty=10)
    assert drawn.min() >= 1 and drawn.max() <= 10
    # P(d = D) = 0.1 / max + 0.25 * E[1 / min(D + e, max)] + 0.65 * P(e = 0), e ~ Geometric(1/2) - 1.
    expected = 0.1 / 10 + 0.25 * sum(0.5 ** (e + 1) / min(3 + e, 10) for e in range(60)) + 0.65 * 0.5
    assert abs((drawn == 3).mean() - expected) < 0.01
    # P(d = max) = 0.1 / max + 0.25 * E[[D + e >= max] / max] + 0.65 * P(e >= max - D).
    tail = 0.5**7
    assert abs((drawn == 10).mean() - (0.01 + 0.25 * tail / 10 + 0.65 * tail)) < 0.005


class _FakeIncrementModel:
    """Answers cell 0 of Increment right and every other cell wrong: cell accuracy 1/n, example accuracy 0."""

    def __init__(self, memory_size):
        self.memory_size = memory_size
        self.core = NRAMCore(memory_size=memory_size, num_registers=1, max_timesteps=1, hidden_units=1)
        self.core.build((None, memory_size))

    def get_layer(self, name):
        assert name == "nram_core"
        return self.core

    def predict(self, inputs, batch_size=None, verbose=0):
        memory = np.asarray(inputs["memory"])
        answer = (memory + 2) % self.memory_size
        answer[:, 0] = (memory[:, 0] + 1) % self.memory_size
        tape = np.eye(self.memory_size, dtype=np.float32)[answer][:, None]
        return np.concatenate([tape, np.ones(tape.shape[:-1] + (1,), dtype=np.float32)], axis=-1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_curriculum_check_answers_as_an_eager_call_does(seed):
    # The check runs the compiled predict step; its answers must be those of the model called directly.
    keras.utils.set_random_seed(seed)
    config = ENTRY.config("smoke")
    model = ENTRY.build_model(**config.model_kwargs)
    memory = config.model_kwargs["memory_size"]
    batch = tasks.generate("list_k", 2, memory, np.random.default_rng(seed), 40)
    inputs = curriculum.model_inputs(batch)
    eager = answer_from_trace(keras.ops.convert_to_numpy(model(inputs, training=False)))
    assert (
        len(np.unique(eager)) > 1
    )  # a random machine answers differently across examples: a real comparison
    compiled = answer_from_trace(np.asarray(model.predict(inputs, batch_size=16, verbose=0)))
    np.testing.assert_array_equal(compiled, eager)
    expected = score(eager, batch["target"])
    assert curriculum.measure(model, "list_k", 2, memory, examples=40, seed=seed, batch_size=16) == expected


def test_curriculum_advances_on_the_papers_per_cell_error():
    dataset = curriculum.NRAMDataset("increment", 12, 4, 2, True, batch_size=4, batches_per_epoch=1, seed=0)
    callback = curriculum.CurriculumCallback(dataset, threshold=0.5, check_examples=16)
    callback.set_model(_FakeIncrementModel(12))
    logs = {}
    callback.on_epoch_end(0, logs)  # difficulty 2: half the cells right, no example right
    assert (logs["curriculum_cell_accuracy"], logs["curriculum_example_accuracy"]) == (0.5, 0.0)
    assert dataset.current == 3
    callback.on_epoch_end(1, logs)  # difficulty 3: a third of the cells right, below the threshold
    assert dataset.current == 3 and abs(logs["curriculum_cell_accuracy"] - 1 / 3) < 1e-6


def test_dataset_batches_depend_only_on_seed_epoch_index_and_difficulty():
    def make():
        return curriculum.NRAMDataset("list_k", 12, 4, 1, True, batch_size=6, batches_per_epoch=5, seed=9)

    first, second = make(), make()
    second.set_epoch(2)
    x2, y2 = second[3]
    second.set_epoch(0)
    second[0]
    first.set_epoch(2)
    x1, y1 = first[3]
    np.testing.assert_array_equal(x1["memory"], x2["memory"])
    np.testing.assert_array_equal(y1, y2)
    first.current = 4
    x3, _ = first[3]
    assert not np.array_equal(x1["timesteps"], x3["timesteps"])  # the difficulty moves the batches


def test_config_errors_name_the_argument_and_range():
    config = TrainConfig(model="nram", model_kwargs={"memory_size": 12, "max_timesteps": 6})
    with pytest.raises(ValueError, match=r"difficulty must be an integer in \[1, 4\]"):
        ENTRY.make_data(config.replace(data_kwargs={"difficulty": 9}), None)
    with pytest.raises(ValueError, match="max_timesteps=3 is below the 7 steps"):
        ENTRY.make_data(
            config.replace(model_kwargs={"max_timesteps": 3}, data_kwargs={"difficulty": 4}), None
        )
    with pytest.raises(ValueError, match="Unknown data_kwargs key 'length'"):
        ENTRY.check_options(config.replace(data_kwargs={"length": 3}))
    with pytest.raises(ValueError, match="test_examples must be a positive integer"):
        ENTRY.make_data(config.replace(data_kwargs={"test_examples": 0}), None)
    with pytest.raises(ValueError, match="Unknown NRAM task 'sort'"):
        ENTRY.make_data(config.replace(data_kwargs={"task": "sort"}), None)
    with pytest.raises(ValueError, match="controller must be one of"):
        NRAMCore(memory_size=8, controller="gru")


def test_every_named_config_is_consistent():
    from zoo.nram.data import data_settings

    for name in ENTRY.configs:
        config = ENTRY.config(name).validate()
        settings = data_settings(config)
        assert (
            tasks.get_task(settings["task"]).timesteps(settings["difficulty"])
            <= config.model_kwargs["max_timesteps"]
        )
        assert f"--config={name}" in ENTRY.configs[name].__doc__
