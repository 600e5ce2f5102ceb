"""Constants for the evidence store tests: the bundled data files and their row counts.

The store fixtures (``bundled_store``, ``empty_store``, ``postgres_url``) are in
tests/conftest.py, not in a tests/evidence/conftest.py: tests/ has no packages, so a second
conftest module would shadow the top-level one that other suites import helpers from.
"""
from __future__ import annotations

import csv
from pathlib import Path

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

