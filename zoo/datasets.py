"""Real data on disk: find a local copy under `--data_dir`, or download it once with a verified checksum.

The development and CI machines have no network, so every loader looks in `data_dir` first and downloads only when
the file is missing there and the user gave no `data_dir`. A missing or corrupt file is a `DataError` naming the
file and what was expected.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Sequence


class DataError(ValueError):
    """A data file is missing, corrupt or malformed. The message names the file and what was expected."""


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
        raise DataError(f"{path} is corrupt or not the expected {what}: sha256 {actual}, expected {expected}.")
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
                    f"Could not download {what} from {url} ({error}). Without network access, pass --data_dir "
                    f"pointing at a local copy."
                ) from error
        verify_sha256(tmp_path, sha256, what)
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
    return path
