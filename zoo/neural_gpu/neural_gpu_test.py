"""Tests of the Neural GPU: task generators against Python integers, the model against a plain-numpy Neural GPU,
the curriculum and its resume, a JAX training step, and the pretrained preset's length-200 error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import zoo
from keras_gradnoise.testing import assert_weights_equal
from zoo.neural_gpu import tasks
from zoo.neural_gpu.curriculum import ArithmeticDataset, CurriculumCallback
from zoo.neural_gpu.model import BitError, MaskedSequenceCrossentropy, SequenceError, build_model
from zoo.neural_gpu.paper import first_longer_length_error_percent, succeeded, summarize_table7

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ----------------------------------------------------------------------------------------------- task generators
def _lsb_first_value(symbols: list[int]) -> int:
    """The integer of LSB-first bit symbols (1 = bit 0, 2 = bit 1), written here from the task's definition."""
    return sum((symbol - 1) << position for position, symbol in enumerate(symbols))


def test_hand_encoded_examples() -> None:
    # 5 + 3 = 8 at length 7 (3-bit operands): 5 = 101 -> LSB first 1,0,1 -> symbols 2,1,2; 3 = 011 -> 2,2,1;
    # 8 = 1000 -> LSB first 0,0,0,1 -> 1,1,1,2, then padding.
    inputs = np.array([2, 1, 2, tasks.PLUS, 2, 2, 1])
    assert _decode_example(inputs) == (5, 3, tasks.PLUS)
    assert tasks.decode_number([1, 1, 1, 2, 0, 0, 0]) == 8
    assert tasks.decode_number([1, 0, 0]) == 0  # the number 0 is one zero bit


def _decode_example(inputs: np.ndarray) -> tuple[int, int, int]:
    """Splits an encoded input at its separator and returns (a, b, separator symbol)."""
    symbols = [int(s) for s in inputs if s != tasks.PAD]
    separator_index = next(i for i, s in enumerate(symbols) if s in (tasks.PLUS, tasks.TIMES))
    a = sum((s - 1) << i for i, s in enumerate(symbols[:separator_index]))
    b = sum((s - 1) << i for i, s in enumerate(symbols[separator_index + 1 :]))
    return a, b, symbols[separator_index]


@pytest.mark.parametrize(
    "task,length,mixed",
    [("badd", 3, False), ("badd", 20, False), ("badd", 201, False), ("bmul", 4, False), ("bmul", 41, False)]
    + [("badd", 20, True), ("bmul", 41, True)],
)
def test_examples_decode_to_true_sums_and_products(task: str, length: int, mixed: bool) -> None:
    inputs, targets = tasks.make_examples(task, length, 200, np.random.default_rng(length), mixed_sizes=mixed)
    assert inputs.shape == targets.shape == (200, length)
    full_bits = (length - 1) // 2
    sizes = []
    for x, y in zip(inputs, targets):
        a, b, separator = _decode_example(x)
        bits = int(np.flatnonzero(x == separator)[0])
        sizes.append(bits)
        assert bits == full_bits or mixed
        assert a < 2**bits and b < 2**bits
        assert int((x != tasks.PAD).sum()) == 2 * bits + 1 and x[bits] == separator
        expected = a + b if task == "badd" else a * b
        assert separator == (tasks.PLUS if task == "badd" else tasks.TIMES)
        assert _lsb_first_value(written := [int(s) for s in y if s != tasks.PAD]) == expected
        # No leading (most-significant) zero bits, and padding only after the result.
        assert len(written) == max(1, expected.bit_length())
        assert list(y[: len(written)]) == written
    if not mixed:
        assert set(sizes) == {full_bits}
    else:
        # Half full-size, half uniform over 1..full_bits: expected full share 0.5 + 0.5 / full_bits.
        full_share = sizes.count(full_bits) / len(sizes)
        assert 0.4 < full_share < 0.75 and len(set(sizes)) > full_bits // 2 and min(sizes) < full_bits // 2


@pytest.mark.parametrize("task", ["badd", "bmul"])
def test_padded_examples_hold_the_requested_operand_size(task: str) -> None:
    inputs, targets = tasks.make_padded_examples(task, 5, 41, 50, np.random.default_rng(3))
    for x, y in zip(inputs, targets):
        a, b, separator = _decode_example(x)
        assert x[5] == separator and int((x != tasks.PAD).sum()) == 11 and not x[11:].any()
        assert _lsb_first_value([int(s) for s in y if s != tasks.PAD]) == (a + b if task == "badd" else a * b)
    with pytest.raises(ValueError, match="bits must be an integer in \\[1, \\(length - 1\\) // 2 = 20\\]"):
        tasks.make_padded_examples(task, 21, 41, 1, np.random.default_rng(0))


def test_examples_are_uniform_and_reproducible() -> None:
    first = tasks.make_examples("badd", 21, 4000, np.random.default_rng(5))
    again = tasks.make_examples("badd", 21, 4000, np.random.default_rng(5))
    np.testing.assert_array_equal(first[0], again[0])
    operand_bits = first[0][:, :10] - 1
    # Each operand bit is a fair coin: 40000 draws, mean within 5 standard deviations of 0.5.
    assert abs(operand_bits.mean() - 0.5) < 5 * 0.5 / np.sqrt(operand_bits.size)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [({"task": "sub"}, "task must be one of"), ({"length": 2}, "length must be an integer >= 3")],
)
def test_bad_task_arguments_are_rejected(kwargs: dict, fragment: str) -> None:
    arguments = {"task": "badd", "length": 10, **kwargs}
    with pytest.raises(ValueError, match=fragment):
        tasks.make_examples(arguments["task"], arguments["length"], 4, np.random.default_rng(0))


def test_error_counts_against_hand_computed_example() -> None:
    targets = np.array([[2, 1, 2, 0, 0], [1, 0, 0, 0, 0]])
    predicted = np.array([[2, 2, 2, 1, 4], [1, 3, 3, 3, 3]])
    assert tasks.errors(predicted, targets) == (1, 4, 1)


class _AdderWithBrokenBit:
    """Predicts the true sum, computed with Python ints from the input symbols, except result bit `broken`; counts
    the result bits of the sums it was asked for."""

    def __init__(self, broken: int) -> None:
        self.broken = broken
        self.result_bits = 0

    def predict_on_batch(self, inputs: np.ndarray) -> np.ndarray:
        logits = np.zeros(inputs.shape + (tasks.VOCAB_SIZE,))
        for row, symbols in enumerate(inputs.tolist()):
            separator = symbols.index(tasks.PLUS)
            operands = [symbols[:separator], [s for s in symbols[separator + 1 :] if s != tasks.PAD]]
            total = _lsb_first_value(operands[0]) + _lsb_first_value(operands[1])
            digits = bin(total)[2:]
            self.result_bits += len(digits)
            for position, bit in enumerate(int(b) for b in reversed(digits)):
                logits[row, position, tasks.BIT0 + (1 - bit if position == self.broken else bit)] = 1.0
        return logits


def test_measure_error_by_position_finds_the_one_wrong_result_bit() -> None:
    adder = _AdderWithBrokenBit(3)
    result = tasks.measure_error(adder, "badd", 21, 40, seed=1, batch_size=16, by_position=True)
    profile = np.array(result["position_error"])
    assert profile.shape == (21,)
    assert profile[3] == 1.0
    assert np.all(profile[[0, 1, 2, 4, 5, 6, 7, 8, 9]] == 0.0)  # every 10-bit sum has these bits
    assert np.isnan(profile[11:]).all()  # no sum of two 10-bit numbers has 12 bits
    assert result["sequence_error"] == 1.0
    assert result["bit_error"] == pytest.approx(40 / adder.result_bits)
    clean = tasks.measure_error(_AdderWithBrokenBit(-1), "badd", 21, 40, seed=1, by_position=True)
    assert clean["bit_error"] == 0.0 and np.nansum(clean["position_error"]) == 0.0


# ------------------------------------------------------------------------------------- model vs a numpy Neural GPU
def _numpy_conv_same(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Zero-padded "same" cross-correlation over the two spatial axes of [b, L, H, C], by explicit shifts."""
    kw, kh = kernel.shape[:2]
    padded = np.pad(x, ((0, 0), (kw // 2, kw // 2), (kh // 2, kh // 2), (0, 0)))
    out = np.zeros(x.shape[:3] + (kernel.shape[3],))
    for di in range(kw):
        for dj in range(kh):
            window = padded[:, di : di + x.shape[1], dj : dj + x.shape[2], :]
            out += window @ kernel[di, dj]
    return out


def _numpy_neural_gpu(model: keras.Model, symbols: np.ndarray) -> np.ndarray:
    """The Neural GPU's forward pass written independently in numpy from the paper's equations."""

    def cutoff_sigmoid(z: np.ndarray) -> np.ndarray:
        return np.clip(1.2 / (1 + np.exp(-z)) - 0.1, 0.0, 1.0)

    table = model.embedding.embeddings.numpy()
    tape = np.zeros(symbols.shape + (model.height, model.nmaps))
    tape[:, :, 0, :] = table[symbols] * (symbols > 0)[..., None]
    for _ in range(symbols.shape[1]):
        for cgru in model.cgrus:
            gk, gb, ck, cb = (w.numpy() for w in cgru.weights)
            gates = _numpy_conv_same(tape, gk) + gb
            update, reset = (
                cutoff_sigmoid(gates[..., : model.nmaps]),
                cutoff_sigmoid(gates[..., model.nmaps :]),
            )
            candidate = np.tanh(_numpy_conv_same(reset * tape, ck) + cb)
            tape = update * tape + (1 - update) * candidate
    kernel, bias = (w.numpy() for w in model.output_projection.weights)
    return tape[:, :, 0, :] @ kernel + bias


def test_forward_matches_numpy_at_two_lengths_with_the_same_weights() -> None:
    keras.utils.set_random_seed(1)
    model = build_model(nmaps=6, height=3, num_layers=2)
    rng = np.random.default_rng(0)
    short, _ = tasks.make_examples("badd", 7, 3, rng)
    long, _ = tasks.make_examples("bmul", 13, 2, rng)
    short_out = keras.ops.convert_to_numpy(model(short))
    weights_after_short = [w.copy() for w in model.get_weights()]
    long_out = keras.ops.convert_to_numpy(model(long))
    assert short_out.shape == (3, 7, tasks.VOCAB_SIZE) and long_out.shape == (2, 13, tasks.VOCAB_SIZE)
    assert len(model.get_weights()) == len(weights_after_short)
    np.testing.assert_allclose(short_out, _numpy_neural_gpu(model, short), atol=2e-4)
    np.testing.assert_allclose(long_out, _numpy_neural_gpu(model, long), atol=2e-4)


def test_bad_model_arguments_name_the_argument() -> None:
    with pytest.raises(ValueError, match="nmaps must be an integer >= 1"):
        build_model(nmaps=0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        build_model(dropout=1.5)


def test_loss_and_metrics_match_numpy_and_ignore_padding() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 6, 5)).astype("float32")
    targets = np.array([[1, 2, 0, 0, 0, 0], [2, 2, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0], [2, 1, 2, 1, 2, 1]])
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    mask = targets > 0
    expected_loss = np.mean([-(picked[i][mask[i]]).mean() for i in range(4)])
    loss = float(MaskedSequenceCrossentropy()(targets, logits))
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    wrong, scored, wrong_sequences = tasks.errors(logits.argmax(-1), targets)
    bit_error, sequence_error = BitError(), SequenceError()
    bit_error.update_state(targets, logits)
    sequence_error.update_state(targets, logits)
    np.testing.assert_allclose(float(bit_error.result()), wrong / scored, rtol=1e-6)
    np.testing.assert_allclose(float(sequence_error.result()), wrong_sequences / 4, rtol=1e-6)
    # Changing the logits at padded positions changes nothing.
    changed = logits.copy()
    changed[~mask] += 100.0
    np.testing.assert_allclose(float(MaskedSequenceCrossentropy()(targets, changed)), loss, rtol=1e-6)


# -------------------------------------------------------------------------------------------------- curriculum
class _OracleModel:
    """Answers every example correctly (or always wrongly) by decoding it with Python integers."""

    def __init__(self, correct: bool, length: int) -> None:
        self.correct = correct
        self.curriculum_length = keras.Variable(length, dtype="int32", trainable=False)

    def predict_on_batch(self, inputs: np.ndarray) -> np.ndarray:
        logits = np.zeros(inputs.shape + (tasks.VOCAB_SIZE,))
        for row, x in enumerate(inputs):
            a, b, separator = _decode_example(x)
            value = a + b if separator == tasks.PLUS else a * b
            bits = [int(c) for c in reversed(bin(value)[2:])]
            for position, bit in enumerate(bits):
                symbol = bit + 1 if self.correct else 2 - bit
                logits[row, position, symbol] = 1.0
        return logits


def test_curriculum_advances_only_when_the_current_length_is_learned_and_resumes_from_the_model() -> None:
    for correct, expected in ((True, 6), (False, 5)):
        dataset = ArithmeticDataset("badd", 4, 7, batch_size=4, batches_per_epoch=3, seed=0)
        model = _OracleModel(correct, length=5)
        callback = CurriculumCallback(dataset, threshold=0.2, check_examples=16)
        callback.set_model(model)
        callback.on_epoch_begin(0)
        assert dataset.current_length == 5 and dataset[0][0].shape[1] == 5
        logs: dict = {}
        callback.on_epoch_end(0, logs)
        assert int(model.curriculum_length.numpy()) == expected and logs["curriculum_length"] == expected
    # A step of 2 (even lengths only) stops at max_length.
    dataset = ArithmeticDataset("badd", 4, 7, batch_size=4, batches_per_epoch=3, seed=0)
    callback = CurriculumCallback(dataset, threshold=0.2, check_examples=8, step=2)
    callback.set_model(_OracleModel(True, length=6))
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {})
    assert int(callback.model.curriculum_length.numpy()) == 7
    # A resumed run: a fresh dataset and callback take the length stored in the model (the checkpointed value).
    resumed = ArithmeticDataset("badd", 4, 7, batch_size=4, batches_per_epoch=3, seed=0)
    callback = CurriculumCallback(resumed)
    callback.set_model(_OracleModel(True, length=7))
    callback.on_epoch_begin(12)
    assert (resumed.epoch, resumed.current_length) == (12, 7)


def test_dataset_batches_depend_only_on_seed_epoch_index_and_length() -> None:
    def batches(epoch: int, length: int) -> list:
        dataset = ArithmeticDataset("bmul", 4, 12, batch_size=5, batches_per_epoch=30, seed=9)
        dataset.set_state(epoch, length)
        return [dataset[i] for i in range(30)]

    first, again, other_epoch = batches(2, 9), batches(2, 9), batches(3, 9)
    for (x1, y1), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert any(a[0].shape != b[0].shape or (a[0] != b[0]).any() for a, b in zip(first, other_epoch))
    lengths = [x.shape[1] for x, _ in first]
    assert lengths[::2] == [9] * 15 and set(lengths[1::2]) <= set(range(4, 9)) and len(set(lengths[1::2])) > 2
    # At the bottom of the curriculum the odd batches look one length ahead, so consecutive shapes still differ.
    assert [x.shape[1] for x, _ in batches(0, 4)[:4]] == [4, 5, 4, 5]


def test_table7_summary_counts_runs_below_each_threshold() -> None:
    results = [{"metrics": {"bit_error_len401": e}} for e in (0.0, 0.015, 0.025, 0.04, 0.2)] + [
        {"metrics": {}}
    ]
    assert summarize_table7(results) == {
        "runs": 5,
        "error<1%": 1,
        "error<2%": 2,
        "error<3%": 3,
        "error<5%": 4,
    }


def test_success_is_judged_at_the_longest_evaluated_length() -> None:
    def run(eval_lengths, **errors):
        return {"config": {"data_kwargs": {"eval_lengths": eval_lengths}}, "metrics": errors}

    # A calibrated run evaluated at lengths 11 and 41: only the error at 41 counts.
    assert succeeded(run([11, 41], bit_error_len11=0.5, bit_error_len41=0.009))
    assert not succeeded(run([41, 11], bit_error_len11=0.0, bit_error_len41=0.011))
    assert not succeeded(run([11, 41], bit_error_len11=0.0))  # no error reported at 41
    assert summarize_table7([run([11, 41], bit_error_len41=0.015)])["error<2%"] == 1


def test_run_value_is_the_error_at_the_first_length_beyond_training() -> None:
    def run(max_length, eval_lengths, **errors):
        return {
            "config": {"data_kwargs": {"max_length": max_length, "eval_lengths": eval_lengths}},
            "metrics": errors,
        }

    # Trained to 12, evaluated at 48, 12 and 24 (any order): the value is the error at 24, in %.
    assert first_longer_length_error_percent(
        run(12, [48, 12, 24], bit_error_len12=0.0, bit_error_len24=0.25, bit_error_len48=0.5)
    ) == pytest.approx(25.0)
    assert first_longer_length_error_percent(run(41, [41, 401], bit_error_len401=0.02)) == pytest.approx(2.0)
    assert (
        first_longer_length_error_percent(run(41, [41], bit_error_len41=0.0)) is None
    )  # nothing beyond training
    assert (
        first_longer_length_error_percent(run(12, [12, 24], bit_error_len12=0.0)) is None
    )  # 24 not reported


# ------------------------------------------------------------------------------------------- training and saving
def _smoke_model_and_data():
    entry = zoo.get("neural_gpu")
    config = entry.config("smoke")
    keras.utils.set_random_seed(0)
    model = entry.build_model(**config.model_kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), **entry.compile_kwargs(config))
    return entry, config, model, entry.make_data(config, None)


def test_smoke_training_runs_the_curriculum_and_round_trips_through_keras_file(tmp_path) -> None:
    entry, config, model, data = _smoke_model_and_data()
    history = model.fit(data.train, epochs=2, callbacks=list(data.callbacks), verbose=0)
    assert "curriculum_length" in history.history and np.isfinite(history.history["loss"]).all()
    model.curriculum_length.assign(5)
    path = str(tmp_path / "ngpu.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert int(loaded.curriculum_length.numpy()) == 5
    x, y = tasks.make_examples("badd", 15, 4, np.random.default_rng(0))
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)
    # A further training step (with dropout, so the saved seed state matters) is equal in both.
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 4
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    assert_weights_equal(model.get_weights(), loaded.get_weights(), rtol=1e-7, atol=1e-6)
    metrics = data.evaluate(loaded)
    assert set(metrics) == {
        "bit_error_len6",
        "sequence_error_len6",
        "bit_error_len12",
        "sequence_error_len12",
    }


def test_jax_backend_trains_a_step_without_tensorflow() -> None:
    script = textwrap.dedent(
        """
        import sys

        # Makes `import tensorflow` fail, as on the GPU machines where it is not installed.
        class NoTensorFlow:
            def find_spec(self, name, path=None, target=None):
                if name == "tensorflow" or name.startswith("tensorflow."):
                    raise ImportError("tensorflow is blocked in this test")

        sys.meta_path.insert(0, NoTensorFlow())
        import numpy as np
        import keras
        import zoo
        import keras_gradnoise
        entry = zoo.get("neural_gpu")
        config = entry.config("smoke")
        keras.utils.set_random_seed(0)
        model = entry.build_model(**config.model_kwargs)
        model.compile(optimizer=keras_gradnoise.NoisyAdam(learning_rate=1e-2, eta=1.0, seed=1),
                      **entry.compile_kwargs(config))
        data = entry.make_data(config, None)
        model(data.train[0][0])
        before = [w.copy() for w in model.get_weights()]
        history = model.fit(data.train, epochs=1, callbacks=list(data.callbacks), verbose=0)
        changed = any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
        print("RESULT", keras.backend.backend(), changed, np.isfinite(history.history["loss"][0]),
              len(before) > 0, "tensorflow" in sys.modules)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": REPO}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RESULT jax True True True False" in done.stdout, done.stdout + done.stderr[-2000:]


# ------------------------------------------------------------------------------------------------- pretrained
def _preset_json(preset: str) -> str:
    return os.path.join(REPO, "saved_models", "neural_gpu", f"{preset}.json")


def _fresh_error(preset: str, metric: str, length: int, count: int = 16) -> tuple[float, dict, dict]:
    """(the preset's recorded `metric`, its error on `count` fresh examples at `length`, the same for an untrained
    model of the preset's config: the control that the check must fail)."""
    with open(_preset_json(preset)) as f:
        meta = json.load(f)
    model = zoo.load_pretrained("neural_gpu", preset)  # checks the file's sha256 against the metadata
    # A seed no recorded evaluation used: these examples are fresh; each sum is checked against tasks.py's numpy
    # ripple-carry adder.
    fresh = tasks.measure_error(model, "badd", length, count, seed=424242, batch_size=16)
    keras.utils.set_random_seed(0)
    untrained = zoo.get("neural_gpu").build_model(**meta["config"]["model_kwargs"])
    # Four examples are enough to show an untrained model of this config near chance (>= 3 x 40 bits).
    control = tasks.measure_error(untrained, "badd", length, 4, seed=424242, batch_size=16)
    return meta["metrics"][metric], fresh, control


def test_pretrained_addition_model_adds_at_its_training_length_on_fresh_examples() -> None:
    """`badd` is the short CPU run: it adds 9-bit numbers (length 20) and does not generalize to 200."""
    recorded, fresh, control = _fresh_error("badd", "bit_error_len20", 20, count=64)
    assert recorded == 0.0
    # 64 sums of ~10 bits; a true bit error of 1 % would show >= 1 wrong bit with probability 1 - 0.99^640 > 0.998.
    assert fresh["bit_error"] < 0.01 and fresh["sequence_error"] < 0.1, fresh
    assert control["bit_error"] > 0.2, control  # an untrained model of the same config fails the check
    assert (
        json.load(open(_preset_json("badd")))["metrics"]["bit_error_len200"] > 0.4
    )  # at chance, as recorded


def test_pretrained_20bit_adder_generalizes_to_200bit_numbers_on_fresh_examples() -> None:
    # 16 pairs of 200-bit numbers (length 401), about 3,200 result bits.
    recorded, fresh, control = _fresh_error("badd20", "bit_error_len401", 401)
    assert recorded < 0.01  # what the preset claims: Table 7's strictest threshold at 200-bit numbers
    assert fresh["bit_error"] < 0.01, fresh
    assert control["bit_error"] > 0.2, control
