"""Constants for the evidence store tests: the bundled data files and their row counts.

The store fixtures (``bundled_store``, ``empty_store``, ``postgres_url``) are in
tests/conftest.py, not in a tests/evidence/conftest.py: tests/ has no packages, so a second
conftest module would shadow the top-level one that other suites import helpers from.
"""
from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

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


def _migrations() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location",
                        str(resources.files("metaverdict.evidence").joinpath("migrations")))
    return cfg


def upgrade_from_0002(url: str) -> None:
    """Build the schema of revision 0002 with one source in it, then open the store (which
    migrates it to the head) and check the source became a real (not simulated) one."""
    engine = create_engine(url)
    cfg = _migrations()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        assert "simulated" not in {c["name"] for c in inspect(conn).get_columns("sources")}
        conn.execute(text("INSERT INTO sources (key, citation, url_or_location, design) "
                          "VALUES ('old', 'An old source', 'somewhere', 'rct')"))
        # a row that references the source: a table rebuild of sources would break it
        conn.execute(text("INSERT INTO studies (source_id, label, design) SELECT id, "
                          "'Old 2001', 'rct' FROM sources WHERE key = 'old'"))
    engine.dispose()
    from metaverdict.evidence.store import connect
    with connect(url) as st:
        src = st.sources()
        assert src["key"].tolist() == ["old"] and src["simulated"].tolist() == [False]
        with st.engine.connect() as conn:
            col = {c["name"]: c for c in inspect(conn).get_columns("sources")}["simulated"]
            assert col["nullable"] is False
    engine = create_engine(url)
    with engine.begin() as conn:                     # and down again: the column goes away
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
        assert "simulated" not in {c["name"] for c in inspect(conn).get_columns("sources")}
    engine.dispose()
