"""The zoo entry: configs, data pipeline, evaluation and the Table 5 summary."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import zoo
from zoo.neural_programmer import ENTRY, REPRODUCTION, tables, task


def test_entry_is_registered_with_its_configs():
    assert zoo.get("neural_programmer") is ENTRY
    for name in ("smoke", "default", "paper", "single_column", "five_columns", "text_entries"):
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
    assert task.summarize(results) == {"perfect": "2/4", "best_accuracy": 100.0, "mean_accuracy": 81.2}
    assert task.summarize([])["perfect"] == "0/0"


def test_unknown_data_kwargs_are_rejected():
    config = ENTRY.config("smoke").replace(data_kwargs={"num_colums": 3})
    with pytest.raises(ValueError, match="num_colums"):
        ENTRY.make_data(config, None)


def test_smoke_config_trains_and_evaluates_with_hard_selection():
    config = ENTRY.config("smoke")
    keras.utils.set_random_seed(0)
    data = ENTRY.make_data(config, None)
    model = ENTRY.build_model(**config.model_kwargs)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), **ENTRY.compile_kwargs(config))
    history = model.fit(data.train, epochs=1, verbose=0, callbacks=list(data.callbacks))
    assert 0.0 <= history.history["val_answer_accuracy"][0] <= 1.0
    metrics = data.evaluate(model)
    # The reported accuracy is an independent recount of the hard-selection answers on the test examples.
    examples = tables.generate_examples(32, seed=config.seed, split="test", num_rows=5, num_columns=1)
    x, y = tables.encode(examples)
    outputs = model.predict(x, verbose=0)
    correct = tables.answers_correct(outputs["scalar"], outputs["lookup"], y)
    assert metrics["test_accuracy"] == pytest.approx(float(np.mean(correct)))
    for name in {example.template for example in examples}:
        assert f"test_accuracy_{name}" in metrics
