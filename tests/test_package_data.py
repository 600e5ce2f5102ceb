"""Every data file of the package ships in a wheel: each non-Python file under
src/metaverdict matches a ``[tool.setuptools.package-data]`` pattern. (A non-editable
``pip install .`` once lacked synthesis/data/article_claims.csv, so the README's main command
failed there while the editable test install passed.)"""
from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "metaverdict"


def test_every_data_file_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["metaverdict"]
    files = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*")
             if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert files, "no data files found: the check would compare nothing"
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, f"not in package-data (a wheel would lack them): {missing}"
