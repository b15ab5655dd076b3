"""The very deep fully-connected ReLU network of Neelakantan et al. 2015, section 4.1 (arXiv 1511.06807).

20 hidden layers of 50 ReLU units and a softmax output, trained on MNIST with plain SGD. The paper's point is
that this network is hard to optimize from a poor initialization ("Simple Init", N(0, 0.1^2); or all zeros)
and that annealed gradient noise rescues it, while a good (He) initialization trains without noise.
"""

from __future__ import annotations

import math
from typing import Any

import keras

from zoo.config import TrainConfig

INITS: tuple[str, ...] = ("simple", "good", "zero", "random_walk")
SIMPLE_INIT_STDDEV = 0.1


def random_walk_gain(fan_in: int) -> float:
    """Sussillo & Abbott's (2014, arXiv 1412.6558) weight gain g for a ReLU layer of `fan_in` inputs.

    They scale N(0, 1/N) weights by g = sqrt(2) exp(1.2 / (max(N, 6) - 2.4)) so that the log of the
    back-propagated gradient norm performs an unbiased random walk over the layers of a ReLU network.
    """
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1; got {fan_in!r}.")
    return 2.0**0.5 * math.exp(1.2 / (max(fan_in, 6) - 2.4))


class RandomWalkNormal(keras.initializers.Initializer):
    """N(0, g(N)^2 / N) kernels with N the kernel's fan-in and g `random_walk_gain` (the paper's Experiment 4)."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        fan_in = int(math.prod(shape[:-1]))
        stddev = random_walk_gain(fan_in) / math.sqrt(fan_in)
        return keras.initializers.RandomNormal(stddev=stddev, seed=self.seed)(shape, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


def kernel_initializer(init: str, seed: int | None) -> keras.initializers.Initializer:
    """The weight initializer named `init`.

    Args:
        init: "simple" (N(0, 0.1^2), the paper's Simple Init), "good" (He normal, He et al. 2015: the paper's
            Experiment 5), "zero" (all weights zero: the paper's Bad Init, Experiment 6) or "random_walk"
            (Sussillo & Abbott 2014: the paper's Experiment 4; see `RandomWalkNormal`).
        seed: seed of the random initializers; None draws from Keras' global seed
            (`keras.utils.set_random_seed`).

    Returns:
        A Keras initializer.
    """
    if init == "simple":
        return keras.initializers.RandomNormal(mean=0.0, stddev=SIMPLE_INIT_STDDEV, seed=seed)
    if init == "good":
        return keras.initializers.HeNormal(seed=seed)
    if init == "zero":
        return keras.initializers.Zeros()
    if init == "random_walk":
        return RandomWalkNormal(seed=seed)
    raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}.")


@keras.saving.register_keras_serializable(package="keras_gradnoise_zoo")
class DeepMLP(keras.Model):
    """A deep fully-connected ReLU classifier (Neelakantan et al. 2015, section 4.1, Table 1).

    Input: images of any shape (e.g. MNIST's raw (28, 28) uint8), multiplied by `input_scale` and flattened.
    Output: class probabilities (softmax). Biases start at zero whatever `init` says.

    Args:
        hidden_layers: number of hidden layers (the paper: 20).
        hidden_units: units per hidden layer (the paper: 50).
        num_classes: softmax outputs.
        init: "simple", "good", "zero" or "random_walk", see `kernel_initializer`; applies to every kernel, output included.
        dropout: dropout rate after each hidden layer, 0 for none (the paper's "No Noise + Dropout" row; the
            paper does not give its rate).
        input_scale: factor applied to the inputs; 1/255 maps raw MNIST pixels to [0, 1].
        seed: base seed of the initializers and dropout (layer i uses seed + i); None uses Keras' global seed.
        **kwargs: keras.Model arguments (name, ...).
    """

    def __init__(
        self,
        hidden_layers: int = 20,
        hidden_units: int = 50,
        num_classes: int = 10,
        init: str = "simple",
        dropout: float = 0.0,
        input_scale: float = 1.0 / 255.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("hidden_layers", hidden_layers), ("hidden_units", hidden_units)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2; got {num_classes!r}.")
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}.")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a rate in [0, 1); got {dropout!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer or None; got {seed!r}.")
        self.hidden_layers = hidden_layers
        self.hidden_units = hidden_units
        self.num_classes = num_classes
        self.init = init
        self.dropout = float(dropout)
        self.input_scale = float(input_scale)
        self.seed = seed

        def layer_seed(index: int) -> int | None:
            return None if seed is None else seed + index

        self.flatten = keras.layers.Flatten(name="flatten")
        self.hidden = [
            keras.layers.Dense(
                hidden_units,
                activation="relu",
                kernel_initializer=kernel_initializer(init, layer_seed(i)),
                bias_initializer="zeros",
                name=f"hidden_{i}",
            )
            for i in range(hidden_layers)
        ]
        self.dropouts = (
            [
                keras.layers.Dropout(self.dropout, seed=layer_seed(1000 + i), name=f"dropout_{i}")
                for i in range(hidden_layers)
            ]
            if self.dropout > 0
            else []
        )
        self.classifier = keras.layers.Dense(
            num_classes,
            activation="softmax",
            kernel_initializer=kernel_initializer(init, layer_seed(hidden_layers)),
            bias_initializer="zeros",
            name="classifier",
        )

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        # Explicit so that the weights exist right after construction (for checkpoints and `.keras` loading).
        features = 1
        for dim in input_shape[1:]:
            if dim is None:
                raise ValueError(f"DeepMLP needs a fixed input shape; got {tuple(input_shape)}.")
            features *= dim
        shape = (input_shape[0], features)
        for dense in self.hidden:
            dense.build(shape)
            shape = (input_shape[0], self.hidden_units)
        self.classifier.build(shape)
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = self.flatten(keras.ops.cast(inputs, self.compute_dtype) * self.input_scale)
        for i, dense in enumerate(self.hidden):
            x = dense(x)
            if self.dropouts:
                x = self.dropouts[i](x, training=training)
        return self.classifier(x)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            hidden_layers=self.hidden_layers,
            hidden_units=self.hidden_units,
            num_classes=self.num_classes,
            init=self.init,
            dropout=self.dropout,
            input_scale=self.input_scale,
            seed=self.seed,
        )
        return config


def build_model(input_shape: tuple[int, ...] = (28, 28), **kwargs: Any) -> DeepMLP:
    """Builds a `DeepMLP` with its weights created for inputs of `input_shape` (without the batch axis).

    Args:
        input_shape: shape of one input example; MNIST images are (28, 28).
        **kwargs: `DeepMLP` arguments (hidden_layers, hidden_units, num_classes, init, dropout, input_scale,
            seed).

    Returns:
        A built, uncompiled model.
    """
    model = DeepMLP(**kwargs)
    model.build((None, *input_shape))
    return model


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """Softmax outputs and integer labels: sparse cross-entropy and accuracy."""
    return {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}
