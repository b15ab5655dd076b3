"""Registration of the zoo's classes with Keras, in fresh interpreters (the import order is the point)."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CGRU = "keras_gradnoise_zoo>CGRU"  # a class of zoo.neural_gpu.model


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def test_keras_imported_by_a_half_initialized_zoo_module_registers_when_it_finishes():
    """`from zoo.memn2n import babi` first: zoo.batches imports Keras while it is itself half-initialized, so the
    families that need zoo.batches cannot be imported when Keras finishes. Registering then failed with a
    warning (an error under -W error); now it runs as soon as babi, the outermost zoo module, has finished, with
    no further import needed, and the finder leaves sys.meta_path."""
    for first_import in ("from zoo.memn2n import babi", "import zoo.batches", "import zoo.training"):
        result = _python(
            f"{first_import}\n"
            "import sys, keras\n"
            f"print(keras.saving.get_registered_object({CGRU!r}).__module__)\n"
            "print(sum(type(finder).__module__ == 'zoo.registration' for finder in sys.meta_path))\n"
        )
        assert result.returncode == 0, (first_import, result.stderr[-2000:])
        assert result.stdout.strip().splitlines()[-2:] == ["zoo.neural_gpu.model", "0"], first_import
        assert "could not register" not in result.stderr


def test_import_zoo_then_keras_registers_at_once():
    result = _python(f"import zoo, keras\nprint(keras.saving.get_registered_object({CGRU!r}).__module__)\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "zoo.neural_gpu.model"
