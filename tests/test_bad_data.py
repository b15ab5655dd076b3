"""Corrupt data files through train.py: exit status 2, one line naming the file and what is expected, no workdir.

The corrupt copies are made from the shipped fixtures in tests/fixtures. train.py's `main` runs in this process, so
that TensorFlow is imported once (test_bad_input.py runs the scripts as processes, for the flag errors that absl
handles before `main`).
"""

from __future__ import annotations

import io
import os
import shutil
import zipfile
import zlib

import numpy as np
import pytest

from tests import sweep_helpers

FIXTURES = os.path.join(sweep_helpers.REPO, "tests", "fixtures")
BABI_TRAIN = "qa1_single-supporting-fact_train.txt"


def _flipped_mnist(folder) -> str:
    """mnist.npz with 16 bytes inverted inside x_train's compressed data: zlib fails, not the zip CRC check."""
    data = bytearray(open(os.path.join(FIXTURES, "mnist_tiny.npz"), "rb").read())
    data[2100:2116] = bytes(b ^ 0xFF for b in data[2100:2116])
    with pytest.raises(zlib.error), np.load(io.BytesIO(bytes(data))) as arrays:
        arrays["x_train"]
    (folder / "mnist.npz").write_bytes(bytes(data))
    return str(folder / "mnist.npz")


def _truncated_cifar(folder) -> str:
    data = open(os.path.join(FIXTURES, "cifar10_tiny.npz"), "rb").read()
    (folder / "cifar10_tiny.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(zipfile.BadZipFile):
        np.load(str(folder / "cifar10_tiny.npz"))
    return str(folder / "cifar10_tiny.npz")


def _undecodable_babi(folder) -> str:
    for split in ("train", "test"):
        name = BABI_TRAIN.replace("train", split)
        shutil.copy(os.path.join(FIXTURES, "babi", name), folder / name)
    text = (folder / BABI_TRAIN).read_bytes()
    third_line = text.index(b"\n", text.index(b"\n") + 1) + 1
    (folder / BABI_TRAIN).write_bytes(text[:third_line] + b"3 Mary \xff\xfe went home.\n" + text[third_line:])
    return str(folder / BABI_TRAIN)


CASES = {
    # model, config (reads data_dir), corrupt copy maker, what the message must say after the path
    "mnist": (
        "deep_mlp",
        "default",
        _flipped_mnist,
        " as an npz file: it is truncated or corrupt (zlib.error: Error -3 while decompressing data: invalid "
        "distance too far back); expected an intact npz in Keras' mnist.npz layout",
    ),
    "cifar10": (
        "resnet34",
        "default",
        _truncated_cifar,
        ": it is truncated or corrupt (zipfile.BadZipFile: File is not a zip file); expected an intact .npz with "
        "x_train, y_train, x_test, y_test",
    ),
    "babi": (
        "memn2n",
        "default",
        _undecodable_babi,
        ":3: not UTF-8 text (byte b'\\xff' at offset",
    ),
}


@pytest.fixture
def train_main():
    """train.py's main in this process (one TensorFlow import for all cases): flags -> (exit status, stderr)."""
    from absl import flags

    import train

    def call(*argv: str) -> int:
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["train.py", *argv])
        with pytest.raises(SystemExit) as exit_info:
            train.main(["train.py"])
        return exit_info.value.code

    yield call
    flags.FLAGS.unparse_flags()


@pytest.mark.parametrize("name", list(CASES))
def test_corrupt_data_exits_2_with_one_line_naming_the_file(train_main, capsys, tmp_path, name):
    model, config, make, expected = CASES[name]
    (tmp_path / "data").mkdir()
    path = make(tmp_path / "data")
    workdir = tmp_path / "run"
    status = train_main(
        f"--model={model}", f"--config={config}", f"--data_dir={tmp_path / 'data'}", f"--workdir={workdir}"
    )
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"train.py: error: Cannot read {path}" if name != "babi" else f"train.py: error: {path}"
    )
    assert expected in lines[0], lines[0]
    assert not workdir.exists()  # nothing half-written
