"""Serialization names of the noisy classes: a user's class named like a Keras optimizer does not take over the
name of the noisy Keras optimizer (it used to, silently), and two different classes never share one name."""

import os

import keras
import numpy as np
import pytest

from keras_gradnoise import NoisyAdam, with_gradient_noise
from keras_gradnoise.schedules import PACKAGE


def _class(name, module, base=keras.optimizers.Adam):
    return type(name, (base,), {"__module__": module, "__qualname__": name})


def test_a_user_class_named_adam_does_not_hijack_noisy_adam(tmp_path):
    user_adam = _class("Adam", "mylib.optim")
    noisy_user_adam = with_gradient_noise(user_adam)
    assert noisy_user_adam is not NoisyAdam and issubclass(noisy_user_adam, user_adam)
    assert keras.saving.get_registered_object(f"{PACKAGE}>NoisyAdam") is NoisyAdam
    assert keras.saving.get_registered_name(noisy_user_adam) == f"{PACKAGE}>Noisymylib.optim.Adam"
    for optimizer_class in (NoisyAdam, noisy_user_adam):
        restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer_class(eta=0.1, seed=1)))
        assert type(restored) is optimizer_class
    # The symptom of the issue: a model saved with NoisyAdam loaded with the user's class.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=NoisyAdam(eta=0.1, seed=1), loss="mse")
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    assert type(keras.saving.load_model(path).optimizer) is NoisyAdam


def test_two_classes_with_one_name_are_refused_and_a_redefinition_is_not():
    first = with_gradient_noise(_class("MyOptimizerForRegistrationTest", "lib_a", keras.optimizers.SGD))
    with pytest.raises(
        ValueError, match=r"'keras_gradnoise>NoisyMyOptimizerForRegistrationTest' already belongs"
    ):
        with_gradient_noise(_class("MyOptimizerForRegistrationTest", "lib_b", keras.optimizers.SGD))
    name = f"{PACKAGE}>NoisyMyOptimizerForRegistrationTest"
    assert keras.saving.get_registered_object(name) is first  # the refused class registered nothing
    # The same class defined again (a reloaded module, a re-run notebook cell) takes the name over.
    again = with_gradient_noise(_class("MyOptimizerForRegistrationTest", "lib_a", keras.optimizers.SGD))
    assert again is not first and keras.saving.get_registered_object(name) is again
