"""`registry.family_entry`: an entry read from a family folder's files, and a clear error for a missing piece."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest

import zoo
from zoo import registry

# The smallest files that satisfy the convention: every piece family_entry reads, by name.
_FILES = {
    "__init__.py": "",
    "model.py": "def build_model(units=4):\n    return units\n\ndef compile_kwargs(config):\n    return {}\n",
    "data.py": textwrap.dedent(
        """
        import dataclasses

        @dataclasses.dataclass(frozen=True)
        class FamDataOptions:
            size: int = 3

        def make_data(config, data_dir):
            return None
        """
    ),
    "configs.py": "CONFIGS = {}\n",
    "paper.py": "REPRODUCTION = None\n",
    "presets.py": "PRESETS = ()\n",
}


@pytest.fixture
def make_family(tmp_path, monkeypatch) -> Iterator[Callable[..., str]]:
    """Writes a family package (the convention's files, changed by the keyword arguments: file name -> text, or
    None to leave the file out) under tmp_path and returns its import name; forgotten again after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made: list[str] = []

    def make(**changes: str | None) -> str:
        package = f"fam_{len(made)}"
        folder = tmp_path / package
        folder.mkdir()
        for file, text in {
            **_FILES,
            **{name.replace("_py", ".py"): text for name, text in changes.items()},
        }.items():
            if text is not None:
                (folder / file).write_text(text)
        made.append(package)
        return package

    yield make
    for name in [name for name in sys.modules if name.split(".")[0] in made]:
        del sys.modules[name]


def test_the_zoo_families_follow_the_convention():
    from zoo.nram import data, model, paper, presets

    entry = zoo.get("nram")
    assert (entry.build_model, entry.compile_kwargs) == (model.build_model, model.compile_kwargs)
    assert (entry.make_data, entry.data_options) == (data.make_data, data.NRAMDataOptions)
    assert (entry.reproduction, entry.presets, entry.default_preset) == (
        paper.REPRODUCTION,
        presets.PRESETS,
        "access",
    )


def test_a_family_entry_reads_every_piece(make_family):
    package = make_family()
    entry = registry.family_entry(package, name="fam", description="a test family", default_preset="p")
    modules = {name: sys.modules[f"{package}.{name}"] for name in ("model", "data")}
    assert entry.build_model is modules["model"].build_model
    assert entry.compile_kwargs is modules["model"].compile_kwargs
    assert entry.make_data is modules["data"].make_data
    assert entry.data_options is modules["data"].FamDataOptions
    assert (entry.configs, entry.reproduction, entry.presets) == ({}, None, ())
    assert (entry.name, entry.description, entry.default_preset) == ("fam", "a test family", "p")


def test_a_replaced_piece_is_not_looked_up(make_family):
    package = make_family(paper_py=None)
    entry = registry.family_entry(
        package, name="fam", description="d", reproduction=None, configs={"x": None}
    )
    assert entry.configs == {"x": None} and entry.reproduction is None


def test_a_missing_file_is_named(make_family):
    package = make_family(paper_py=None)
    with pytest.raises(
        ImportError, match=rf"no {package}/paper\.py; every family folder has configs\.py, data"
    ):
        registry.family_entry(package, name="fam", description="d")


def test_a_missing_name_is_named_with_its_file(make_family):
    package = make_family(model_py="def build_model():\n    return None\n")
    with pytest.raises(
        ImportError, match=rf"{package}/model\.py defines no 'compile_kwargs'.*ZooEntry\.compile_kwargs"
    ):
        registry.family_entry(package, name="fam", description="d")


@pytest.mark.parametrize(
    "data_py, found",
    [
        ("def make_data(config, data_dir):\n    return None\n", "none"),
        (
            "import dataclasses\nfrom zoo.nram.data import NRAMDataOptions\ndef make_data(c, d):\n    pass\n",
            "none",
        ),
        (
            _FILES["data.py"] + "\n@dataclasses.dataclass\nclass OtherDataOptions:\n    pass\n",
            "FamDataOptions, Other",
        ),
    ],
)
def test_the_data_options_must_be_one_dataclass_of_data_py(make_family, data_py, found):
    package = make_family(data_py=data_py)
    with pytest.raises(ImportError, match=rf"{package}/data\.py must define exactly one .*; found {found}"):
        registry.family_entry(package, name="fam", description="d")


def test_an_import_error_inside_a_file_is_not_hidden(make_family):
    package = make_family(model_py="import no_such_module_anywhere\n")
    with pytest.raises(ModuleNotFoundError, match="no_such_module_anywhere"):
        registry.family_entry(package, name="fam", description="d")
