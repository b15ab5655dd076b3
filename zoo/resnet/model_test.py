"""Tests of zoo/resnet/model.py against independent truth: keras.applications, parameter arithmetic, statistics."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from zoo.resnet.model import ResNet, build_resnet34, build_resnet50


def _conv(k: int, c_in: int, c_out: int, bias: bool) -> int:
    return k * k * c_in * c_out + (c_out if bias else 0)


def _bn(c: int) -> int:
    return 4 * c  # gamma, beta, moving mean, moving variance


def expected_basic_resnet_params(stage_blocks, widths, num_classes, bias=False) -> int:
    """Parameters of a CIFAR basic-block ResNet, counted by hand from He et al.'s layer list."""
    total = _conv(3, 3, widths[0], bias) + _bn(widths[0])
    c_in = widths[0]
    for stage, (blocks, width) in enumerate(zip(stage_blocks, widths)):
        for index in range(blocks):
            stride = 2 if stage > 0 and index == 0 else 1
            total += _conv(3, c_in, width, bias) + _bn(width) + _conv(3, width, width, bias) + _bn(width)
            if stride != 1 or c_in != width:
                total += _conv(1, c_in, width, bias) + _bn(width)
            c_in = width
    return total + c_in * num_classes + num_classes


def test_resnet50_equals_keras_applications_resnet50():
    reference = keras.applications.ResNet50(weights=None)
    model = build_resnet50(input_normalization=None)
    assert model.count_params() == reference.count_params() == 25_636_712
    assert model.output.shape == (None, 1000)
    # Same weights in, same probabilities out: the layouts (strides, shortcuts, padding) are identical.
    for layer in reference.layers:
        if layer.weights:
            name = "logits" if layer.name == "predictions" else layer.name
            model.get_layer(name).set_weights(layer.get_weights())
    images = np.random.default_rng(0).uniform(-2, 2, size=(2, 224, 224, 3)).astype("float32")
    ours = keras.ops.convert_to_numpy(keras.ops.softmax(model(images, training=False)))
    theirs = keras.ops.convert_to_numpy(reference(images, training=False))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert model.get_layer("conv5_block3_out").output.shape == (None, 7, 7, 2048)


def test_resnet34_parameter_count_and_shapes():
    model = build_resnet34()
    assert model.count_params() == expected_basic_resnet_params((3, 4, 6, 3), (64, 128, 256, 512), 10)
    # The 3x3 stride-1 stem keeps 32x32; the later stages halve it: 32, 16, 8, 4.
    for stage, (blocks, size, width) in enumerate(zip((3, 4, 6, 3), (32, 16, 8, 4), (64, 128, 256, 512))):
        assert model.get_layer(f"conv{stage + 2}_block{blocks}_out").output.shape == (None, size, size, width)
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)
    assert model.output.shape == (None, 10)


def test_width_and_depth_options():
    model = build_resnet34(width_multiplier=0.25, stage_blocks=[1, 1, 1, 1], num_classes=7, conv_bias=True)
    assert model.count_params() == expected_basic_resnet_params((1,) * 4, (16, 32, 64, 128), 7, bias=True)
    logits = model(np.zeros((3, 32, 32, 3), "float32"), training=False)
    assert tuple(logits.shape) == (3, 7)
    bottleneck = build_resnet50(
        width_multiplier=0.125, stage_blocks=[2, 1], input_shape=[64, 64, 3], num_classes=5
    )
    # 64 px / 4 (stem) / 2 (second stage) = 8; bottleneck output width = 4 x 16.
    assert bottleneck.get_layer("conv3_block1_out").output.shape == (None, 8, 8, 64)


def test_weight_decay_is_half_lambda_l2_on_kernels_only():
    decay = 5e-4
    model = build_resnet34(width_multiplier=0.125, stage_blocks=[1, 1], weight_decay=decay, conv_bias=True)
    model(np.zeros((1, 32, 32, 3), "float32"))
    kernels = [w for w in model.trainable_weights if w.path.endswith("kernel")]
    expected = decay / 2 * sum(float(np.sum(keras.ops.convert_to_numpy(w) ** 2)) for w in kernels)
    actual = float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses))
    assert len(model.losses) == len(kernels) == 7  # stem, 2 x 2 block convs, 1 projection, classifier
    assert actual == pytest.approx(expected, rel=1e-5)
    assert not build_resnet34(width_multiplier=0.125, stage_blocks=[1]).losses


def test_he_initialization_scale():
    model = build_resnet34(width_multiplier=0.5, stage_blocks=[1, 1, 1, 1])
    kernel = keras.ops.convert_to_numpy(model.get_layer("conv5_block1_2_conv").kernel)  # 3x3x256x256
    fan_in = 3 * 3 * kernel.shape[2]
    assert kernel.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.03)
    assert abs(kernel.mean()) < 0.05 * kernel.std()


def test_dropout_before_classifier_acts_only_in_training():
    model = build_resnet34(width_multiplier=0.125, stage_blocks=[1], dropout=0.5)
    layer_types = [type(layer).__name__ for layer in model.layers[-3:]]
    assert layer_types == ["GlobalAveragePooling2D", "Dropout", "Dense"]
    images = np.random.default_rng(1).uniform(0, 255, size=(4, 32, 32, 3)).astype("float32")
    inference = [keras.ops.convert_to_numpy(model(images, training=False)) for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    # Batch norm in training mode is deterministic for a fixed batch, so any difference is dropout's.
    training = [keras.ops.convert_to_numpy(model(images, training=True)) for _ in range(2)]
    assert np.abs(training[0] - training[1]).max() > 1e-4
    no_dropout = build_resnet34(width_multiplier=0.125, stage_blocks=[1])
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in no_dropout.layers)


def test_input_normalization_uses_cifar_statistics():
    model = build_resnet34(width_multiplier=0.125, stage_blocks=[1])
    normalize = model.get_layer("input_normalization")
    pixel = np.array([[[[125.307, 122.950, 113.865 + 66.705]]]], "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(normalize(pixel)), [[[[0, 0, 1]]]], atol=1e-4)


def test_config_round_trip_and_keras_file(tmp_path):
    kwargs = dict(width_multiplier=0.25, stage_blocks=[1, 2], dropout=0.2, weight_decay=1e-4, num_classes=3)
    model = build_resnet34(**kwargs)
    config = model.get_config()
    for key, value in kwargs.items():
        assert config[key] == value
    clone = ResNet.from_config(config)
    assert clone.get_config() == config and clone.count_params() == model.count_params()
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(2).uniform(0, 255, size=(6, 32, 32, 3)).astype("float32")
    model.fit(images, np.arange(6) % 3, epochs=1, batch_size=3, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ResNet) and loaded.get_config() == config
    assert int(loaded.optimizer.iterations) == 2
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"block_type": "wide"}, "block_type"),
        ({"width_multiplier": 0}, "width_multiplier"),
        ({"stage_blocks": [2, 0]}, "stage_blocks"),
        ({"stage_blocks": []}, "stage_blocks"),
        ({"dropout": 1.0}, "dropout"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"stem": "tiny"}, "stem"),
        ({"input_normalization": "mnist"}, "input_normalization"),
        ({"num_classes": 1}, "num_classes"),
        ({"input_shape": [4, 4, 3]}, "at least 8"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_resnet34(**kwargs)
