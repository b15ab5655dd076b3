"""Tests of the MNIST loader in zoo/datasets.py, on the shipped fixture (and the full MNIST when present)."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

from zoo import datasets
from zoo.datasets import DataError, load_mnist

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "mnist_tiny.npz")
SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "mnist")
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def fixture_arrays() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as f:
        return {name: f[name] for name in IDX_NAMES}


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes written from the format's description (independent of zoo.datasets.idx_bytes)."""
    magic = bytes([0, 0, 8, array.ndim])
    return magic + b"".join(struct.pack(">i", dim) for dim in array.shape) + array.astype(np.uint8).tobytes()


def write_idx_dir(
    directory: str, arrays: dict[str, np.ndarray], gz: bool = False, dotted: bool = False
) -> None:
    for name, filename in IDX_NAMES.items():
        if dotted:
            filename = filename.replace("-idx", ".idx")
        data = encode_idx(arrays[name])
        if gz:
            with gzip.open(os.path.join(directory, filename + ".gz"), "wb") as f:
                f.write(data)
        else:
            with open(os.path.join(directory, filename), "wb") as f:
                f.write(data)


def use_fixture_as_reference(monkeypatch: pytest.MonkeyPatch, arrays: dict[str, np.ndarray]) -> None:
    """Makes the fixture the "official" data set: its shapes and its md5s computed here with hashlib."""
    monkeypatch.setattr(datasets, "MNIST_SHAPES", {name: a.shape for name, a in arrays.items()})
    monkeypatch.setattr(
        datasets,
        "MNIST_IDX_MD5",
        {name: hashlib.md5(encode_idx(a)).hexdigest() for name, a in arrays.items()},
    )


def assert_same(loaded: datasets.MNISTData, arrays: dict[str, np.ndarray]) -> None:
    for name, expected in arrays.items():
        got = getattr(loaded, name)
        assert got.dtype == np.uint8 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def test_fixture_is_small_uint8_mnist_layout():
    arrays = fixture_arrays()
    assert os.path.getsize(FIXTURE) < 300_000
    assert arrays["x_train"].shape == (300, 28, 28) and arrays["x_test"].shape == (100, 28, 28)
    assert all(a.dtype == np.uint8 for a in arrays.values())
    assert set(np.unique(arrays["y_train"])) == set(range(10))


@pytest.mark.parametrize("gz, dotted", [(False, False), (True, False), (False, True)])
def test_idx_files_load_and_verify(tmp_path, monkeypatch, gz, dotted):
    arrays = fixture_arrays()
    write_idx_dir(str(tmp_path), arrays, gz=gz, dotted=dotted)
    use_fixture_as_reference(monkeypatch, arrays)
    loaded = load_mnist(str(tmp_path))
    assert_same(loaded, arrays)
    assert loaded.content_md5 == datasets.MNIST_IDX_MD5


def test_npz_layout_loads_and_one_changed_pixel_is_caught(tmp_path, monkeypatch):
    arrays = fixture_arrays()
    use_fixture_as_reference(monkeypatch, arrays)
    np.savez(tmp_path / "mnist.npz", **arrays)
    assert_same(load_mnist(str(tmp_path)), arrays)
    corrupt = dict(arrays, x_test=arrays["x_test"].copy())
    corrupt["x_test"][5, 14, 14] ^= 1
    np.savez(tmp_path / "mnist.npz", **corrupt)
    with pytest.raises(
        DataError, match=r"mnist\.npz: x_test is corrupt.*expected " + datasets.MNIST_IDX_MD5["x_test"]
    ):
        load_mnist(str(tmp_path))
    # verify=False accepts it, for users who knowingly load a modified copy.
    assert load_mnist(str(tmp_path), verify=False).x_test[5, 14, 14] == corrupt["x_test"][5, 14, 14]


def test_subset_fails_verification_against_full_mnist(tmp_path):
    np.savez(tmp_path / "mnist.npz", **fixture_arrays())
    with pytest.raises(
        DataError, match=r"x_train has shape \(300, 28, 28\), the full MNIST has \(60000, 28, 28\)"
    ):
        load_mnist(str(tmp_path))


def test_missing_and_malformed_inputs(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="No MNIST in .*mnist.npz.*train-images-idx3-ubyte"):
        load_mnist(str(tmp_path))
    arrays = fixture_arrays()
    with open(tmp_path / "train-images-idx3-ubyte", "wb") as f:
        f.write(encode_idx(arrays["x_train"]))
    with pytest.raises(DataError, match="Incomplete MNIST.*train-labels-idx1-ubyte.*t10k-images-idx3-ubyte"):
        load_mnist(str(tmp_path))


def test_truncated_or_foreign_idx_files(tmp_path):
    data = encode_idx(fixture_arrays()["x_train"])
    truncated = tmp_path / "truncated"
    truncated.write_bytes(data[:-10])
    with pytest.raises(DataError, match="truncated or corrupt.*needs 235216 bytes, file has 235206"):
        datasets.read_idx(str(truncated))
    foreign = tmp_path / "foreign"
    foreign.write_bytes(b"\x00\x00\x0d\x03" + data[4:])  # 0x0D = float32 data, not unsigned bytes
    with pytest.raises(DataError, match="not an unsigned-byte IDX file"):
        datasets.read_idx(str(foreign))
    gz = tmp_path / "broken.gz"
    gz.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="Cannot read IDX file"):
        datasets.read_idx(str(gz))


def test_malformed_npz(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="Cannot read .*mnist.npz as an npz file"):
        load_mnist(str(tmp_path))
    arrays = fixture_arrays()
    np.savez(tmp_path / "mnist.npz", x_train=arrays["x_train"], y_train=arrays["y_train"])
    with pytest.raises(DataError, match=r"lacks the arrays \['x_test', 'y_test'\]"):
        load_mnist(str(tmp_path))
    np.savez(tmp_path / "mnist.npz", **dict(arrays, y_test=arrays["y_test"][:-1]))
    with pytest.raises(DataError, match="100 test images but 99 labels"):
        load_mnist(str(tmp_path), verify=False)
    np.savez(tmp_path / "mnist.npz", **dict(arrays, x_train=arrays["x_train"].astype(np.float32)))
    with pytest.raises(DataError, match="must be uint8"):
        load_mnist(str(tmp_path), verify=False)


def test_failed_download_names_the_way_out(monkeypatch):
    import keras

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure: no route to host")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    monkeypatch.setattr(datasets, "SHIPPED_MNIST", "/nonexistent/mnist.npz")  # an install without the asset
    with pytest.raises(DataError, match="Could not download MNIST through keras.datasets.*--data_dir"):
        load_mnist(None)


def test_shipped_full_mnist_verifies_and_the_fixture_is_its_head():
    full = load_mnist(None)
    assert full.source == datasets.SHIPPED_MNIST
    assert full.x_train.shape == (60000, 28, 28) and full.x_test.shape == (10000, 28, 28)
    assert full.content_md5 == datasets.MNIST_IDX_MD5
    arrays = fixture_arrays()
    np.testing.assert_array_equal(arrays["x_train"], full.x_train[:300])
    np.testing.assert_array_equal(arrays["y_train"], full.y_train[:300])
    np.testing.assert_array_equal(arrays["x_test"], full.x_test[:100])
    np.testing.assert_array_equal(arrays["y_test"], full.y_test[:100])


def test_a_changed_byte_in_the_shipped_copy_is_refused(tmp_path, monkeypatch):
    data = bytearray(open(datasets.SHIPPED_MNIST, "rb").read())
    data[len(data) // 2] ^= 0xFF  # inside the compressed x_train array
    copy = tmp_path / "mnist.npz"
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(datasets, "SHIPPED_MNIST", str(copy))
    with pytest.raises(DataError, match=r"mnist\.npz is corrupt or not the expected MNIST shipped.*sha256"):
        load_mnist(None)
