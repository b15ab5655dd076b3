"""Real data on disk: find a local copy under `--data_dir`, or download it once with a verified checksum.

The development and CI machines have no network, so every loader looks in `data_dir` first and downloads
only when the file is missing there and the user gave no `data_dir`. A missing or corrupt file is a
`DataError` naming the file and what was expected.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Sequence

import numpy as np


class DataError(ValueError):
    """A data file is missing, corrupt or malformed. The message names the file and what was expected."""


# What np.load and reading its arrays raise for a truncated or corrupted .npz: a damaged zip structure or CRC
# (BadZipFile), a damaged deflate stream (zlib.error), a cut-off member (EOFError), a mangled .npy header
# (ValueError, struct.error, OverflowError, MemoryError for an absurd shape), an unknown compression method
# (NotImplementedError).
def error_text(error: BaseException) -> str:
    """`<type>: <message>` with the module of non-builtin types ("zlib.error: Error -3 ...")."""
    kind = type(error)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return f"{name}: {error}"


NPZ_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    NotImplementedError,
    OverflowError,
    MemoryError,
)


def default_cache_dir() -> str:
    """Where downloads go: $KERAS_GRADNOISE_DATA, else ~/.keras/datasets (shared with keras.datasets)."""
    return os.environ.get("KERAS_GRADNOISE_DATA", os.path.join(os.path.expanduser("~"), ".keras", "datasets"))


def sha256_file(path: str) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_file(data_dir: str, candidates: Sequence[str], what: str) -> str:
    """The first of `candidates` (paths relative to data_dir) that exists.

    Raises:
        DataError: data_dir does not exist, or none of the candidates is in it.
    """
    if not os.path.isdir(data_dir):
        raise DataError(f"--data_dir {data_dir!r} does not exist or is not a directory (looking for {what}).")
    for candidate in candidates:
        path = os.path.join(data_dir, candidate)
        if os.path.exists(path):
            return path
    raise DataError(f"No {what} in {data_dir!r}: expected one of {', '.join(candidates)}.")


def verify_sha256(path: str, expected: str | None, what: str) -> str:
    """Checks a file's sha256 (skipped when `expected` is None); returns the actual digest."""
    actual = sha256_file(path)
    if expected is not None and actual != expected:
        raise DataError(
            f"{path} is corrupt or not the expected {what}: sha256 {actual}, expected {expected}."
        )
    return actual


def download(url: str, filename: str, sha256: str | None, what: str, cache_dir: str | None = None) -> str:
    """Downloads `url` to cache_dir/filename unless a verified copy is already there; returns the path.

    The file is written to a temporary name and renamed only after its checksum matched, so an interrupted
    download never leaves a file that a later call would take for valid.
    """
    cache_dir = cache_dir or default_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, filename)
    if os.path.exists(path):
        verify_sha256(path, sha256, what)
        return path
    fd, tmp_path = tempfile.mkstemp(dir=cache_dir, prefix=f".{filename}.")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    shutil.copyfileobj(response, out)
            except OSError as error:
                raise DataError(
                    f"Could not download {what} from {url} ({error}). Without network access, pass "
                    f"--data_dir pointing at a local copy."
                ) from error
        verify_sha256(tmp_path, sha256, what)
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
    return path


# ----------------------------------------------------------------------------------------------------------
# MNIST
# ----------------------------------------------------------------------------------------------------------

# md5 of the four official, uncompressed IDX files (yann.lecun.com). A local `mnist.npz` is not compared
# byte-wise (its compression and member order vary between copies); instead each array is re-encoded as the
# IDX file it came from and that encoding's md5 must equal the official one, so any exact copy passes.
MNIST_IDX_MD5: dict[str, str] = {
    "x_train": "6bbc9ace898e44ae57da46a324031adb",
    "y_train": "a25bea736e30d166cdddb491f175f624",
    "x_test": "2646ac647ad5339dbf082846283269ea",
    "y_test": "27ae3e4e09519cfbb04c329615203637",
}
MNIST_SHAPES: dict[str, tuple[int, ...]] = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
_MNIST_IDX_STEMS: dict[str, tuple[str, str]] = {
    "x_train": ("train-images", "idx3-ubyte"),
    "y_train": ("train-labels", "idx1-ubyte"),
    "x_test": ("t10k-images", "idx3-ubyte"),
    "y_test": ("t10k-labels", "idx1-ubyte"),
}
MNIST_NPZ_CANDIDATES: tuple[str, ...] = ("mnist.npz", os.path.join("mnist", "mnist.npz"))
# The full MNIST ships inside the package (11 MB), so the main job and the pretrained-model checks need neither
# network nor --data_dir. Its sha256 is checked at every load, before the per-array IDX md5s.
SHIPPED_MNIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "mnist.npz")
SHIPPED_MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
# IDX magic numbers: 0x08 = unsigned byte data, last byte = number of dimensions.
_IDX_UBYTE = 0x08


@dataclasses.dataclass
class MNISTData:
    """MNIST as uint8 arrays: images (N, 28, 28) in 0..255, labels (N,) in 0..9.

    Args:
        x_train, y_train, x_test, y_test: the arrays.
        source: the file or directory they were read from (or "keras.datasets").
        content_md5: array name -> md5 of its IDX encoding (equal to `MNIST_IDX_MD5` for the full data set).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    content_md5: dict[str, str]

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in MNIST_SHAPES}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: magic (0, 0, 0x08, ndim), big-endian int32 dims, then the data."""
    header = struct.pack(">BBBB", 0, 0, _IDX_UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def mnist_content_md5(array: np.ndarray) -> str:
    """The md5 of `array` encoded as an IDX file; comparable with the official IDX md5s."""
    return hashlib.md5(idx_bytes(array)).hexdigest()


def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file of unsigned bytes (optionally gzip-compressed, by the .gz suffix).

    Raises:
        DataError: unreadable file, wrong magic number, or a size that does not match the header.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"Cannot read IDX file {path}: it is truncated or corrupt ({error}).") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _IDX_UBYTE:
        raise DataError(
            f"{path} is not an unsigned-byte IDX file: expected magic bytes 00 00 08 <ndim>, got "
            f"{data[:4].hex(' ')}."
        )
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(
            f"{path} is truncated: its header announces {ndim} dimensions but the file is too short."
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    expected_size = header_size + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected_size:
        raise DataError(
            f"{path} is truncated or corrupt: header shape {shape} needs {expected_size} bytes, file has "
            f"{len(data)}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def read_mnist_npz(path: str) -> dict[str, np.ndarray]:
    """Reads an npz in Keras' `mnist.npz` layout (x_train, y_train, x_test, y_test; uint8); any sizes.

    Raises:
        DataError: unreadable file, missing keys, wrong dtype or image size, or unequal image/label counts.
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [name for name in MNIST_SHAPES if name not in f.files]
            if missing:
                raise DataError(
                    f"{path} lacks the arrays {missing}; expected Keras' mnist.npz layout with keys "
                    f"{list(MNIST_SHAPES)}."
                )
            arrays = {name: f[name] for name in MNIST_SHAPES}
    except DataError:
        raise
    except NPZ_READ_ERRORS as error:
        raise DataError(
            f"Cannot read {path} as an npz file: it is truncated or corrupt ({error_text(error)}); expected an "
            f"intact npz in Keras' mnist.npz layout (x_train, y_train, x_test, y_test, uint8)."
        ) from error
    _check_mnist_arrays(arrays, path)
    return arrays


def _check_mnist_arrays(arrays: dict[str, np.ndarray], source: str) -> None:
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise DataError(
                f"{source}: x_{split}/y_{split} must be uint8, got {images.dtype}/{labels.dtype} (MNIST "
                f"pixels 0..255, labels 0..9)."
            )
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
            raise DataError(
                f"{source}: expected x_{split} of shape (N, 28, 28) and y_{split} of shape (N,), got "
                f"{images.shape} and {labels.shape}."
            )
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"{source}: {images.shape[0]} {split} images but {labels.shape[0]} labels.")
        if labels.size and labels.max() > 9:
            raise DataError(f"{source}: y_{split} holds label {labels.max()}; MNIST labels are 0..9.")


def _find_idx_file(data_dir: str, name: str) -> str | None:
    stem, kind = _MNIST_IDX_STEMS[name]
    # LeCun's names use '-' before "idx", several mirrors use '.'; either may be gzip-compressed or in mnist/.
    for folder in ("", "mnist"):
        for base in (f"{stem}-{kind}", f"{stem}.{kind}"):
            for suffix in ("", ".gz"):
                path = os.path.join(data_dir, folder, base + suffix)
                if os.path.exists(path):
                    return path
    return None


def verify_mnist(arrays: dict[str, np.ndarray], source: str) -> dict[str, str]:
    """Checks that the arrays are exactly the official MNIST (via their IDX md5s); returns those md5s.

    Raises:
        DataError: naming the first array (and `source`) whose size or content differs from the official one.
    """
    digests = {}
    for name, expected_shape in MNIST_SHAPES.items():
        if arrays[name].shape != expected_shape:
            raise DataError(
                f"{source}: {name} has shape {arrays[name].shape}, the full MNIST has {expected_shape}. Pass "
                f"verify=False to load a subset."
            )
        digests[name] = mnist_content_md5(arrays[name])
        if digests[name] != MNIST_IDX_MD5[name]:
            raise DataError(
                f"{source}: {name} is corrupt or not the official MNIST: md5 of its IDX encoding is "
                f"{digests[name]}, expected {MNIST_IDX_MD5[name]}."
            )
    return digests


def load_mnist(data_dir: str | None = None, *, verify: bool = True) -> MNISTData:
    """Loads MNIST from a local copy, the copy shipped in the package, or (lacking both) a download.

    In `data_dir` it looks for Keras' `mnist.npz` (also as `mnist/mnist.npz`), else for the four IDX files
    (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`,
    '.' in place of the '-' before "idx" accepted, optionally `.gz`, also under `mnist/`). Without `data_dir`
    it reads the package's own `zoo/assets/mnist.npz` (sha256 checked); if an install lacks that file, it uses
    `keras.datasets.mnist.load_data()` (cached in ~/.keras/datasets; Keras checks that file's sha256).

    Args:
        data_dir: a directory holding MNIST, or None for the shipped copy.
        verify: check that the content is exactly the official MNIST (IDX md5s); False allows subsets.

    Returns:
        An `MNISTData` with uint8 arrays.

    Raises:
        DataError: data_dir missing, no MNIST files in it, a corrupt or malformed file, or a failed download.
    """
    if data_dir is None and os.path.exists(SHIPPED_MNIST):
        verify_sha256(SHIPPED_MNIST, SHIPPED_MNIST_SHA256, "MNIST shipped with keras-gradnoise")
        arrays, source = read_mnist_npz(SHIPPED_MNIST), SHIPPED_MNIST
    elif data_dir is None:
        try:
            import keras

            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as error:  # keras raises plain Exception subclasses for network and hash failures
            raise DataError(
                f"Could not download MNIST through keras.datasets ({error}). Without network access, pass "
                f"--data_dir pointing at a directory with mnist.npz or the four MNIST IDX files."
            ) from error
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        source = "keras.datasets.mnist"
        _check_mnist_arrays(arrays, source)
    else:
        if not os.path.isdir(data_dir):
            raise DataError(
                f"--data_dir {data_dir!r} does not exist or is not a directory (looking for MNIST)."
            )
        npz_candidates = [os.path.join(data_dir, candidate) for candidate in MNIST_NPZ_CANDIDATES]
        npz_path = next((path for path in npz_candidates if os.path.exists(path)), None)
        if npz_path is not None:
            arrays, source = read_mnist_npz(npz_path), npz_path
        else:
            paths = {name: _find_idx_file(data_dir, name) for name in MNIST_SHAPES}
            missing = [name for name, path in paths.items() if path is None]
            if len(missing) == len(paths):
                raise DataError(
                    f"No MNIST in {data_dir!r}: expected {' or '.join(MNIST_NPZ_CANDIDATES)} (Keras layout) "
                    f"or the four IDX files {', '.join('-'.join(s) for s in _MNIST_IDX_STEMS.values())} "
                    f"(optionally .gz)."
                )
            if missing:
                expected = ", ".join("-".join(_MNIST_IDX_STEMS[name]) for name in missing)
                raise DataError(f"Incomplete MNIST in {data_dir!r}: missing {expected} (optionally .gz).")
            arrays = {name: read_idx(path) for name, path in paths.items()}
            source = data_dir
            _check_mnist_arrays(arrays, source)
    digests = verify_mnist(arrays, source) if verify else {n: mnist_content_md5(a) for n, a in arrays.items()}
    return MNISTData(**arrays, source=source, content_md5=digests)
