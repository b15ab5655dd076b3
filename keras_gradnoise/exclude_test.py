"""`exclude_from_gradient_noise`: excluded variables get the noiseless update, the others exactly the noise they
would get without the exclusion, and the exclusion survives serialization, `model.save` and `load_model`."""

import os

import keras
import numpy as np
import pytest

from keras_gradnoise import NoisyAdam, NoisySGD
from keras_gradnoise.testing import assert_weights_equal

STEPS = 3


def _variables():
    """A kernel, a bias and a BatchNorm-like gamma/beta with their real path shapes, in a fixed start state."""
    rng = np.random.default_rng(0)
    variables = []
    for scope, names in (("dense", ("kernel", "bias")), ("batch_normalization", ("gamma", "beta"))):
        with keras.name_scope(scope):
            for name in names:
                shape = (40, 30) if name == "kernel" else (30,)
                variables.append(keras.Variable(rng.standard_normal(shape).astype("float32"), name=name))
    return variables


def _gradients():
    rng = np.random.default_rng(1)
    shapes = [(40, 30), (30,), (30,), (30,)]
    return [[rng.standard_normal(s).astype("float32") for s in shapes] for _ in range(STEPS)]


def _train(optimizer, exclude=None, by_list=False):
    """Three SGD-momentum updates of fixed gradients (they do not depend on the weights); the final values."""
    variables = _variables()
    if exclude is not None:
        if by_list:
            optimizer.exclude_from_gradient_noise(var_list=[v for v in variables if exclude in v.path])
        else:
            optimizer.exclude_from_gradient_noise(var_names=[exclude])
    for grads in _gradients():
        optimizer.apply(grads, variables)
    return [v.numpy() for v in variables]


def _sgd(eta):
    # Momentum carries the noise into later steps; global clipping sees all gradients (noise comes after it).
    return NoisySGD(learning_rate=0.1, momentum=0.9, global_clipnorm=5.0, eta=eta, gamma=0.0, seed=3)


@pytest.mark.parametrize("by_list", [False, True], ids=["var_names", "var_list"])
def test_excluded_variables_get_the_noiseless_update_and_the_others_their_usual_noise(by_list):
    noisy = _train(_sgd(0.5))
    noiseless = _train(_sgd(0.0))  # the second code path: no noise at all
    mixed = _train(_sgd(0.5), exclude="batch_normalization", by_list=by_list)
    # kernel and bias: exactly the noise of the run without exclusions (the sample is not reshuffled) ...
    assert_weights_equal(noisy[:2], mixed[:2])
    # ... gamma and beta: exactly the eta=0 optimizer's update of the same clipped gradients.
    assert_weights_equal(noiseless[2:], mixed[2:])
    for index in range(4):  # and the noise was real: the two references differ in every variable
        assert np.all(noisy[index] != noiseless[index]), index


def test_excluding_everything_equals_eta_zero():
    everything = _train(_sgd(0.5), exclude="/")
    assert_weights_equal(_train(_sgd(0.0)), everything)


def test_a_name_matches_where_it_occurs_in_the_path():
    optimizer = NoisyAdam(eta=0.1)
    optimizer.exclude_from_gradient_noise(var_names=["batch_norm", "dense/bias"])
    used = {v.path: optimizer.uses_gradient_noise(v) for v in _variables()}
    assert used == {
        "dense/kernel": True,
        "dense/bias": False,
        "batch_normalization/gamma": False,
        "batch_normalization/beta": False,
    }


def test_exclusion_is_configured_before_build_with_a_list_of_names():
    optimizer = NoisySGD(eta=0.1)
    with pytest.raises(ValueError, match="must be a list of strings"):
        optimizer.exclude_from_gradient_noise(var_names="gamma")
    with pytest.raises(ValueError, match="must hold non-empty strings"):
        optimizer.exclude_from_gradient_noise(var_names=["gamma", ""])
    optimizer.build(_variables())
    with pytest.raises(ValueError, match="only be configured before the optimizer is built"):
        optimizer.exclude_from_gradient_noise(var_names=["gamma"])


def test_config_round_trip_keeps_names_and_the_var_lists_paths():
    variables = _variables()
    optimizer = NoisySGD(eta=0.1, seed=1)
    optimizer.exclude_from_gradient_noise(var_list=[variables[1]], var_names=["gamma"])
    config = optimizer.get_config()
    assert config["noise_exclude"] == {"var_names": ["gamma"], "var_paths": ["dense/bias"]}
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert clone.get_config() == config
    assert [clone.uses_gradient_noise(v) for v in _variables()] == [True, False, False, True]
    assert NoisySGD(eta=0.1).get_config()["noise_exclude"] is None
    old = dict(config)
    del old["noise_exclude"]  # a model saved by 0.1
    assert all(NoisySGD.from_config(old).uses_gradient_noise(v) for v in variables)


def _bn_model():
    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, name="hidden"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Activation("relu"),
            keras.layers.Dense(3, activation="softmax", name="predictions"),
        ]
    )


def test_save_load_resume_keeps_the_exclusion_bit_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 6)).astype("float32"), rng.integers(0, 3, 64)

    def compiled():
        model = _bn_model()
        optimizer = NoisySGD(learning_rate=0.05, momentum=0.9, eta=0.3, seed=8)
        optimizer.exclude_from_gradient_noise(
            var_list=[model.get_layer("predictions").kernel], var_names=["bn/"]
        )
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        return model

    straight = compiled()
    straight.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
    first = compiled()
    first.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    path = os.path.join(tmp_path, "model.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    excluded = sorted(
        v.path for v in resumed.trainable_variables if not resumed.optimizer.uses_gradient_noise(v)
    )
    assert excluded == ["bn/beta", "bn/gamma", "predictions/kernel"]
    resumed.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    # Had the reload lost the exclusion, the excluded variables would get noise from step 8 on.
    assert_weights_equal(straight.get_weights(), resumed.get_weights())


def test_a_saved_path_finds_its_variable_after_a_reload_renamed_the_model():
    from keras_gradnoise.optimizers import _same_variable_path

    assert _same_variable_path("sequential_1/predictions/kernel", "predictions/kernel")
    assert _same_variable_path("predictions/kernel", "outer/predictions/kernel")
    assert not _same_variable_path("sequential_1/predictions/kernel", "sequential_1/hidden/kernel")
    assert not _same_variable_path("block/predictions/kernel", "other/predictions/kernel")
    assert not _same_variable_path("kernel", "dense/kernel")  # a bare name is no path
    assert not _same_variable_path("ictions/kernel", "predictions/kernel")  # whole components only
