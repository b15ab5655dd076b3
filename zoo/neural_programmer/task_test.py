"""The zoo entry: configs, data pipeline, evaluation and the Table 5 summary."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from zoo.neural_programmer import ENTRY, data, paper, tables
from zoo.neural_programmer.paper import REPRODUCTION


def test_entry_is_registered_with_its_configs():
    assert zoo.get("neural_programmer") is ENTRY
    for name in ("smoke", "default", "paper", "single_column", "five_columns", "text_entries", "calibrated"):
        config = ENTRY.config(name).validate()
        assert config.model == "neural_programmer"
        assert "python train.py --model=neural_programmer --config=" + name in ENTRY.configs[name].__doc__
        assert config.noise_eta == 1.0 and config.global_clipnorm is not None and config.optimizer == "adam"
    assert ENTRY.config("text_entries").model_kwargs["text_match"] is True


def test_reproduction_settings_cover_table_5():
    names = [setting.name for setting in REPRODUCTION.settings]
    assert len(names) == len(set(names))
    by_name = {setting.name: setting for setting in REPRODUCTION.settings}
    base = ENTRY.config(REPRODUCTION.config)
    assert base.replace(**by_name["five_noise"].overrides).noise_eta == 1.0
    single = dict(by_name["single_no_noise"].overrides)
    grid = single.pop("per_restart")
    assert base.replace(**single).noise_eta == 0.0
    assert [base.replace(**single, **entry).learning_rate for entry in grid] == [0.01, 0.003]
    dropout_noise = base.replace(**by_name["text_dropout_noise"].overrides)
    assert dropout_noise.model_kwargs["dropout"] > 0 and dropout_noise.noise_eta == 1.0
    assert dropout_noise.data_kwargs["num_text_columns"] == 2 and dropout_noise.model_kwargs["text_match"]
    assert by_name["five_dropout_noise"].paper == {"best_accuracy": 99.2}
    assert by_name["single_noise"].paper == {"perfect": "9/216"}


def test_summarize_counts_perfect_runs():
    results = [{"metrics": {"test_accuracy": value}} for value in (1.0, 0.5, 1.0, 0.75)]
    assert paper.summarize(results) == {"perfect": "2/4", "best_accuracy": 100.0, "mean_accuracy": 81.2}
    assert paper.summarize([])["perfect"] == "0/0"


def test_success_is_every_test_question_right_and_comparisons_name_rows():
    def result(accuracy):
        return {"metrics": {"test_accuracy": accuracy}}

    assert [REPRODUCTION.success(result(a)) for a in (1.0, 0.999, 0.0)] == [True, False, False]
    assert REPRODUCTION.success({"metrics": {}}) is False and REPRODUCTION.run_value({"metrics": {}}) == 0.0
    assert REPRODUCTION.run_value(result(0.25)) == 25.0  # in %, like the table's accuracy columns
    by_name = {setting.name: setting for setting in REPRODUCTION.settings}
    for treated, control in REPRODUCTION.comparisons:
        assert {treated, control} <= set(by_name)
        assert by_name[treated].overrides["noise_eta"] > 0 and by_name[control].overrides["noise_eta"] == 0


def test_calibrated_config_draws_only_its_templates():
    config = ENTRY.config("calibrated").replace(
        data_kwargs={"num_train": 60, "num_validation": 10, "num_test": 60}, batch_size=20
    )
    ENTRY.check_options(config)
    task = data.make_data(config)
    allowed = set(config.data_kwargs["templates"])
    assert allowed < set(tables.template_names(0))
    assert set(task.train.templates) <= allowed and len(set(task.train.templates)) > 1


def test_unknown_data_kwargs_are_rejected():
    config = ENTRY.config("smoke").replace(data_kwargs={"num_colums": 3})
    with pytest.raises(ValueError, match="num_colums"):
        ENTRY.check_options(config)


@pytest.mark.parametrize(
    "data_kwargs, message",
    [
        ({"num_test": 0}, r"data_kwargs\['num_test'\] must be a positive integer"),
        ({"num_columns": 6}, r"num_columns must be an integer in \[1, 5\]"),
        ({"num_rows": 0}, r"num_rows must be an integer in \[1, 1000\]"),
    ],
)
def test_out_of_range_data_options_name_the_field_and_range(data_kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.NeuralProgrammerDataOptions(**data_kwargs)


def _right_by_hand(example, scalar: float, lookup: np.ndarray) -> bool:
    """The paper's scoring, written here from its definition: a scalar answer within 0.01 + 0.01 % of the true
    one, with no cell printed; a lookup answer printing exactly the selected cells."""
    printed = [[cell > 0.5 for cell in row] for row in lookup.tolist()]
    if example.answer is not None:
        return not any(any(row) for row in printed) and abs(scalar - example.answer) <= 0.01 + 1e-4 * abs(
            example.answer
        )
    return printed == [[bool(cell) for cell in row] for row in example.lookup.tolist()]


def test_answers_correct_against_hand_scoring_of_perfect_and_spoiled_answers():
    examples = tables.generate_examples(40, seed=3, split="test", num_rows=5, num_columns=2)
    _, y = tables.encode(examples)
    scalar = np.array([e.answer if e.answer is not None else 0.0 for e in examples])
    lookup = np.array([e.lookup if e.lookup is not None else np.zeros((5, 2)) for e in examples], np.float32)
    spoiled = np.arange(len(examples)) % 2 == 1
    scalar[spoiled] += 1.0  # wrong by far more than the tolerance
    lookup[spoiled, 0, 0] = 1.0 - lookup[spoiled, 0, 0]  # a lookup now prints one cell too many or too few
    expected = [_right_by_hand(e, s, lk) for e, s, lk in zip(examples, scalar, lookup)]
    assert expected == [not bad for bad in spoiled]
    assert tables.answers_correct(scalar, lookup, y).tolist() == expected


def test_smoke_config_trains_and_evaluates_with_hard_selection():
    config = ENTRY.config("smoke")
    keras.utils.set_random_seed(0)
    data = ENTRY.make_data(config, None)
    model = ENTRY.build_model(**config.model_kwargs)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), **ENTRY.compile_kwargs(config))
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(data.train, epochs=1, verbose=0, callbacks=list(data.callbacks))
    assert len(history.history["val_answer_accuracy"]) == 1
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    metrics = data.evaluate(model)
    # The reported accuracy recounted by hand on the model's hard-selection outputs for the test examples.
    examples = tables.generate_examples(32, seed=config.seed, split="test", num_rows=5, num_columns=1)
    x, _ = tables.encode(examples)
    outputs = model.predict(x, verbose=0)
    scalar = np.asarray(outputs["scalar"]).reshape(-1)
    right = [
        _right_by_hand(e, float(s), lk) for e, s, lk in zip(examples, scalar, np.asarray(outputs["lookup"]))
    ]
    assert metrics["test_accuracy"] == pytest.approx(sum(right) / len(right))
    for name in {example.template for example in examples}:
        assert f"test_accuracy_{name}" in metrics
