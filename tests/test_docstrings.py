"""Every docstring example in the package is executed (issue 13: "so are the docstring examples").

Each module of ``metaverdict`` is imported and its examples run with :mod:`doctest`, in a
temporary working directory whose evidence store (``METAVERDICT_DATABASE_URL``) is a fresh
SQLite file, so that examples may open the store, write files and draw figures. ``+SKIP`` is
not allowed: an example that cannot run is not an example.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import matplotlib
import pytest

import metaverdict

matplotlib.use("Agg")

SRC = Path(metaverdict.__file__).parent


def _modules() -> list[str]:
    names = ["metaverdict"]
    for info in pkgutil.walk_packages([str(SRC)], prefix="metaverdict."):
        if ".migrations" in info.name:  # Alembic scripts import alembic.op's proxies at load
            continue
        names.append(info.name)
    return sorted(names)


def _with_examples() -> list[str]:
    """Modules whose source has an example (found without importing them)."""
    out = []
    for name in _modules():
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        if origin and origin.endswith(".py") and ">>> " in Path(origin).read_text():
            out.append(name)
    return out


MODULES = _with_examples()


def test_examples_exist() -> None:
    # a floor, so that a change in discovery cannot turn this suite into zero checks
    assert len(MODULES) >= 10, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("METAVERDICT_DATABASE_URL", f"sqlite:///{tmp_path / 'evidence.sqlite'}")
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    examples = 0
    for test in finder.find(module, name):
        if test.filename is None or Path(test.filename).resolve().parent.is_relative_to(SRC):
            for ex in test.examples:
                assert doctest.SKIP not in ex.options, (
                    f"{test.name}: '+SKIP' example {ex.source.strip()!r}; make it runnable")
            examples += len(test.examples)
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert examples > 0, f"{name}: no examples found although the source has '>>> '"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
