"""Tests of the ImageNet pipeline (zoo/resnet/imagenet.py) without ImageNet: errors, crops, a mocked dataset."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf  # pinned in the test extras: a missing install must fail, not skip
import tensorflow_datasets as tfds

from zoo.config import TrainConfig
from zoo.datasets import DataError
from zoo.resnet import imagenet


def test_absent_imagenet_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar"):
        imagenet.imagenet_builder(None, str(tmp_path / "tfds"))
    (tmp_path / "tars").mkdir()
    (tmp_path / "tars" / "ILSVRC2012_img_val.tar").write_bytes(b"")
    with pytest.raises(DataError, match="lacks ILSVRC2012_img_train.tar"):
        imagenet.imagenet_builder(str(tmp_path / "tars"), str(tmp_path / "tfds"))


def test_eval_crop_is_the_centre_of_the_256_resized_image():
    # Shorter side already 256: the resize is the identity and the crop is a plain centre slice.
    image = np.random.default_rng(0).integers(0, 256, size=(256, 300, 3), dtype=np.uint8)
    cropped, label = imagenet.preprocess_eval(tf.constant(image), tf.constant(7, tf.int64), image_size=224)
    np.testing.assert_array_equal(cropped.numpy(), image[16:240, 38:262].astype("float32"))
    assert label.dtype == tf.int32 and int(label) == 7


def test_train_crop_is_seeded_and_scale_augmented():
    image = tf.constant(np.random.default_rng(1).integers(0, 256, size=(120, 90, 3), dtype=np.uint8))
    first = imagenet.preprocess_train(image, 3, tf.constant([4, 0], tf.int64), image_size=64)[0].numpy()
    again = imagenet.preprocess_train(image, 3, tf.constant([4, 0], tf.int64), image_size=64)[0].numpy()
    other = imagenet.preprocess_train(image, 3, tf.constant([5, 0], tf.int64), image_size=64)[0].numpy()
    assert first.shape == (64, 64, 3) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # Different seeds give different scales/offsets/flips: 20 distinct crops.
    crops = [
        imagenet.preprocess_train(image, 0, tf.constant([s, 1], tf.int64), image_size=64)[0].numpy()
        for s in range(20)
    ]
    assert len({c.tobytes() for c in crops}) == 20


def test_mocked_imagenet_pipeline_end_to_end(monkeypatch):
    config = TrainConfig(
        model="resnet50",
        model_kwargs={"input_shape": [64, 64, 3]},
        data_kwargs={"dataset": "imagenet2012", "image_size": 64, "shuffle_buffer": 8},
        batch_size=4,
    )
    with tfds.testing.mock_data(num_examples=8):
        monkeypatch.setattr(
            imagenet, "imagenet_builder", lambda data_dir, tfds_dir: tfds.builder("imagenet2012")
        )
        data = imagenet.make_imagenet_data(config, None)
        assert len(data.train) == 2
        images, labels = data.train[0]
        assert images.shape == (4, 64, 64, 3) and labels.dtype == np.int32
        # In-order reads continue the pass; index 0 starts a new one.
        second = data.train[1]
        assert second[0].shape == (4, 64, 64, 3)
        with pytest.raises(IndexError):
            data.train[2]
        restarted = data.train[0]
        assert restarted[0].shape == (4, 64, 64, 3)
        validation_labels = np.concatenate([y for _, y in data.validation.as_numpy_iterator()])

        class Oracle:
            """Ranks the true label first for the first 4 images, third for the others."""

            seen = 0

            def predict_on_batch(self, batch):
                scores = np.zeros((len(batch), 1000), "float32")
                for row in range(len(batch)):
                    label = validation_labels[self.seen + row]
                    scores[row, label] = 10.0 if self.seen + row < 4 else 1.0
                    scores[row, (label + 1) % 1000] = scores[row, (label + 2) % 1000] = 5.0
                self.seen += len(batch)
                return scores

        metrics = data.evaluate(Oracle())
    assert len(validation_labels) == 8
    assert metrics["test_accuracy"] == pytest.approx(0.5)
    assert metrics["test_top5_accuracy"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="does not match"):
        imagenet.make_imagenet_data(config.replace(data_kwargs={"image_size": 96}), None)


def test_stream_batches_serves_a_dataset_in_order_and_restarts():
    dataset = tf.data.Dataset.range(10).batch(3)  # batches [0 1 2], [3 4 5], [6 7 8], [9]
    stream = imagenet.StreamBatches(dataset)
    assert len(stream) == 4
    assert [list(stream[i]) for i in range(4)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(stream[2]) == [6, 7, 8]  # out of order: a new pass, skipped ahead
    assert list(stream[3]) == [9]
    assert list(stream[0]) == [0, 1, 2]
    with pytest.raises(ValueError, match="known, finite length"):
        imagenet.StreamBatches(tf.data.Dataset.range(3).repeat())
