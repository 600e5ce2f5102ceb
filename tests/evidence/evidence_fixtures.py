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


def csv_row(i: int, *, source_prefix: str = "mytrial", citation_prefix: str = "Trial",
            **over: str) -> dict[str, str]:
    """A valid import row (source ``<source_prefix><i % 3>``, an MD on 0-10 pain); ``over``
    replaces any column."""
    from metaverdict.evidence.records import CSV_COLUMNS
    row = {c: "" for c in CSV_COLUMNS}
    row.update(source_id=f"{source_prefix}{i % 3}", citation=f"{citation_prefix} {i % 3}",
               design="rct",
               treatment="dry needling", comparator="sham", condition="neck pain",
               outcome="pain (VAS, 0-10)", timepoint=f"{i % 12 + 1} weeks", effect_measure="MD",
               estimate=f"{-i / 10}", ci_lower=f"{-i / 10 - 1}", ci_upper=f"{-i / 10 + 1}",
               n_treatment="20", n_control="21", url_or_location="https://example.org/t",
               verbatim_quote=f"MD -{i / 10}", p_value="0.04")
    row.update(over)
    return row


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The data rows of a CSV file (header excluded), as dicts."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


#: The bundled store holds every raw row, then every supplement row (counted from the files).
N_RAW = len(csv_rows(RAW))
N_SUPPLEMENT = len(csv_rows(SUPPLEMENT))
N_RESULTS = N_RAW + N_SUPPLEMENT

