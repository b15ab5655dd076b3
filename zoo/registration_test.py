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


def test_import_zoo_then_keras_registers_at_once_and_leaves_the_modules_their_own_loaders():
    result = _python(
        "import sys, importlib.machinery, zoo, keras\n"
        f"print(keras.saving.get_registered_object({CGRU!r}).__module__)\n"
        "print(sum(type(finder).__module__ == 'zoo.registration' for finder in sys.meta_path))\n"
        "import zoo.memn2n.babi as babi\n"
        "loaders = {type(m.__loader__).__name__ for m in (keras, babi)}\n"
        "loaders |= {type(m.__spec__.loader).__name__ for m in (keras, babi)}\n"
        "print(sorted(loaders))\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-3:] == ["zoo.neural_gpu.model", "0", "['SourceFileLoader']"]


def test_a_zoo_module_failing_after_importing_keras_breaks_nothing_else(tmp_path):
    """The failure reaches the importer unchanged; the classes are registered after the next import that works."""
    (tmp_path / "broken_for_test.py").write_text("import keras\nraise RuntimeError('broken on purpose')\n")
    result = _python(
        "import sys, zoo\n"
        f"zoo.__path__.append({str(tmp_path)!r})\n"
        "try:\n"
        "    import zoo.broken_for_test\n"
        "except RuntimeError as error:\n"
        "    print('raised', error)\n"
        "import keras\n"
        f"print(keras.saving.get_registered_object({CGRU!r}))\n"
        "import zoo.training\n"
        f"print(keras.saving.get_registered_object({CGRU!r}).__module__)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-3:] == [
        "raised broken on purpose",
        "None",
        "zoo.neural_gpu.model",
    ]


def test_python_dash_m_runs_a_zoo_module_while_registration_waits():
    """`python -m` asks the module's loader for its code (get_code), which the wrapping loader passes on."""
    result = subprocess.run(
        [sys.executable, "-m", "zoo.memn2n.report", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    # absl's --help exits with status 1 after printing the flags.
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "--runs_dir" in result.stdout + result.stderr
