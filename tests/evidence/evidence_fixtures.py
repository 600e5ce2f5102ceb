"""Fixtures for the evidence store tests: SQLite stores in tmp_path, PostgreSQL by env URL.

Not a conftest.py: tests/ has no packages, so a second conftest module would shadow the
top-level one that other suites import helpers from. Test modules import these fixtures.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from metaverdict.evidence.store import Store, open_store

DATA = Path(__file__).parents[2] / "src" / "metaverdict" / "evidence" / "data"
RAW = DATA / "studies_raw.csv"
SUPPLEMENT = DATA / "supplement.csv"


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The data rows of a CSV file (header excluded), as dicts."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


#: The bundled store holds every raw row, then every supplement row (counted from the files).
N_RAW = len(csv_rows(RAW))
N_SUPPLEMENT = len(csv_rows(SUPPLEMENT))
N_RESULTS = N_RAW + N_SUPPLEMENT


@pytest.fixture(scope="module")
def bundled_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A SQLite file store seeded with the bundled evidence (shared by a module; read only)."""
    path = tmp_path_factory.mktemp("bundled") / "evidence.sqlite"
    with open_store(f"sqlite:///{path}") as store:
        yield store


@pytest.fixture
def empty_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated, unseeded SQLite file store."""
    with open_store(f"sqlite:///{tmp_path / 'empty.sqlite'}", seed=False) as store:
        yield store


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL URL from METAVERDICT_TEST_POSTGRES_URL (skips when unset)."""
    url = os.environ.get("METAVERDICT_TEST_POSTGRES_URL", "").strip()
    if not url:
        pytest.skip("METAVERDICT_TEST_POSTGRES_URL is not set")
    return url
