"""ImageNet (ILSVRC 2012) for ResNet-50 through tensorflow-datasets' `imagenet2012`, as in He et al. 2015.

tensorflow-datasets cannot download ImageNet: register at image-net.org, download ILSVRC2012_img_train.tar and
ILSVRC2012_img_val.tar by hand into one directory and pass it as `--data_dir`. The first run converts them into
tensorflow-datasets' format (hours, ~150 GB) under `data_kwargs["tfds_data_dir"]` (default ~/tensorflow_datasets);
later runs read the converted copy and need no `--data_dir`.

Training images get He et al.'s scale augmentation: the shorter side resized to a random length in [256, 480]
(scaled by image_size / 224), a random image_size x image_size crop and a horizontal flip; the per-channel
normalization happens inside the model. Evaluation uses the centre crop of the image resized to 256 (single crop;
He et al.'s headline numbers average 10 crops). The random draws come from a seeded `tf.data.Dataset.random`
stream, so a given seed gives the same batches run after run; unlike the CIFAR-10 pipeline, a run resumed mid-way
does not replay the exact batches of an uninterrupted one. The training pipeline reaches `model.fit` as a
`StreamBatches` PyDataset, the form the zoo's trainer takes.

tf.data and tf.image are used here, in the input pipeline only; the model itself stays backend-independent.
"""

from __future__ import annotations

import os
from typing import Any

import keras

from zoo.config import TrainConfig
from zoo.datasets import DataError
from zoo.registry import TaskData
from zoo.resnet.data import ResNetDataOptions

IMAGENET_TARS = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")


class StreamBatches(keras.utils.PyDataset):
    """A finite tf.data pipeline served as the indexable PyDataset the zoo's trainer reads batch by batch.

    Batches are read in order: index 0 starts a new pass over `dataset` (with a reshuffling dataset, a new order),
    index i + 1 continues it, and any other index starts a new pass and skips to it.

    Args:
        dataset: a finite tf.data.Dataset of (images, labels) batches.
        length: its number of batches; None reads it from the dataset's cardinality.
    """

    def __init__(self, dataset: Any, length: int | None = None) -> None:
        super().__init__()
        if length is None:
            length = int(dataset.cardinality())
            if length < 0:
                raise ValueError("StreamBatches needs a dataset of known, finite length; pass `length`.")
        self.dataset, self.length = dataset, length
        self._iterator: Any = None
        self._next = 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < self.length:
            raise IndexError(f"batch index {index} out of range [0, {self.length}).")
        if self._iterator is None or index != self._next:
            self._iterator, self._next = self.dataset.as_numpy_iterator(), 0
            for _ in range(index):
                next(self._iterator)
            self._next = index
        self._next += 1
        return next(self._iterator)


def imagenet_builder(data_dir: str | None, tfds_data_dir: str | None) -> Any:
    """The prepared tensorflow-datasets `imagenet2012` builder, preparing it from the manual tars if needed.

    Args:
        data_dir: the manual download directory with ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar, or None
            when the dataset is already prepared.
        tfds_data_dir: where tensorflow-datasets keeps prepared datasets (None: its default).

    Raises:
        DataError: tensorflow-datasets is missing, or the dataset is neither prepared nor given as tars.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise DataError(
            "ImageNet needs tensorflow-datasets: pip install 'keras-gradnoise[zoo]' (or tensorflow-datasets)."
        ) from error
    builder = tfds.builder("imagenet2012", data_dir=tfds_data_dir)
    if builder.is_prepared():
        return builder
    where = f"under {builder.data_dir!r}"
    if data_dir is None:
        raise DataError(
            f"ImageNet (tensorflow-datasets imagenet2012) is not prepared {where} and no --data_dir was given. "
            f"Download {' and '.join(IMAGENET_TARS)} from https://image-net.org/download-images into one "
            f"directory and pass it as --data_dir."
        )
    missing = [name for name in IMAGENET_TARS if not os.path.isfile(os.path.join(data_dir, name))]
    if missing:
        raise DataError(
            f"--data_dir {data_dir!r} lacks {', '.join(missing)}: the ImageNet manual download directory must hold "
            f"{' and '.join(IMAGENET_TARS)} (from https://image-net.org/download-images)."
        )
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=data_dir))
    return builder


def preprocess_train(image: Any, label: Any, seed: Any, image_size: int) -> tuple[Any, Any]:
    """Scale augmentation of one uint8 image: random shorter side, random crop, random flip (stateless, seeded)."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, num=3)
    low, high = round(256 * image_size / 224), round(480 * image_size / 224)
    shorter = tf.random.stateless_uniform([], seeds[0], minval=low, maxval=high + 1, dtype=tf.int32)
    image = _resize_shorter_side(image, shorter)
    image = tf.image.stateless_random_crop(image, [image_size, image_size, 3], seed=seeds[1])
    image = tf.image.stateless_random_flip_left_right(image, seed=seeds[2])
    return tf.cast(image, tf.float32), tf.cast(label, tf.int32)


def preprocess_eval(image: Any, label: Any, image_size: int) -> tuple[Any, Any]:
    """Resize the shorter side to 256 * image_size / 224 and take the centre image_size x image_size crop."""
    import tensorflow as tf

    image = _resize_shorter_side(image, tf.constant(round(256 * image_size / 224)))
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    top, left = (height - image_size) // 2, (width - image_size) // 2
    image = image[top : top + image_size, left : left + image_size]
    image = tf.ensure_shape(image, [image_size, image_size, 3])
    return tf.cast(image, tf.float32), tf.cast(label, tf.int32)


def _resize_shorter_side(image: Any, shorter: Any) -> Any:
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(shorter, tf.float32) / tf.reduce_min(shape)
    # ceil keeps the shorter side at least `shorter` after rounding, so the crop always fits.
    size = tf.cast(tf.math.ceil(shape * scale), tf.int32)
    return tf.cast(tf.clip_by_value(tf.image.resize(image, size, antialias=True), 0, 255), tf.uint8)


def make_imagenet_data(config: TrainConfig, data_dir: str | None) -> TaskData:
    """ImageNet train/validation tf.data pipelines and a top-1/top-5 evaluation for `train_and_evaluate`.

    data_kwargs are `ResNetDataOptions` (image_size, tfds_data_dir, train_size, test_size, shuffle_buffer); the
    model's input_shape must match image_size.
    """
    import tensorflow as tf

    options = ResNetDataOptions(**{"dataset": "imagenet2012", **config.data_kwargs})
    image_size = options.image_size
    model_shape = config.model_kwargs.get("input_shape")
    if model_shape is not None and tuple(model_shape)[:2] != (image_size, image_size):
        raise ValueError(
            f"model_kwargs input_shape {tuple(model_shape)} does not match data_kwargs image_size {image_size}."
        )
    builder = imagenet_builder(data_dir, options.tfds_data_dir)
    import tensorflow_datasets as tfds

    read_config = tfds.ReadConfig(shuffle_seed=config.seed)
    train = builder.as_dataset(split="train", shuffle_files=True, as_supervised=True, read_config=read_config)
    validation = builder.as_dataset(split="validation", shuffle_files=False, as_supervised=True)
    if options.train_size:
        train = train.take(options.train_size)
    if options.test_size:
        validation = validation.take(options.test_size)
    train = train.shuffle(options.shuffle_buffer, seed=config.seed, reshuffle_each_iteration=True)
    # One int64 per example from a seeded stream that changes every epoch: the example's augmentation seed.
    randoms = tf.data.Dataset.random(seed=config.seed, rerandomize_each_iteration=True)
    train = tf.data.Dataset.zip((train, randoms)).map(
        lambda example, r: preprocess_train(
            example[0], example[1], tf.stack([r, tf.zeros_like(r)]), image_size
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    train = train.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)
    validation = validation.map(
        lambda image, label: preprocess_eval(image, label, image_size), num_parallel_calls=tf.data.AUTOTUNE
    )
    validation = validation.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)

    def evaluate(model: Any) -> dict[str, float]:
        import numpy as np

        top1 = top5 = count = 0
        for images, labels in validation.as_numpy_iterator():
            scores = np.asarray(model.predict_on_batch(images))
            best = np.argsort(-scores, axis=-1, kind="stable")[:, :5]
            top1 += int(np.sum(best[:, 0] == labels))
            top5 += int(np.sum(best == labels[:, None]))
            count += len(labels)
        return {
            "test_accuracy": top1 / count,
            "test_top5_accuracy": top5 / count,
            "test_error": 1 - top1 / count,
        }

    info = {"dataset": "imagenet2012", "tfds_version": tfds.__version__, "tfds_data_dir": builder.data_dir}
    for split, key in (("train", "train_examples"), ("validation", "test_examples")):
        try:
            total = builder.info.splits[split].num_examples
        except KeyError:  # split sizes unknown (e.g. a mocked dataset)
            continue
        info[key] = min(total, getattr(options, key.replace("examples", "size")) or total)
    return TaskData(train=StreamBatches(train), validation=validation, evaluate=evaluate, info=info)
