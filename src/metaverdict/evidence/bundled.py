"""The bundled evidence: ``data/studies_raw.csv`` (an unchanged copy of the extraction) plus
``data/vocabulary.json`` (raw strings -> normalised terms, directions, per-row sign conventions).

Build step (run by a maintainer when the extraction changes)::

    python -m metaverdict.evidence.bundled /path/to/shared/evidence/studies.csv

copies the CSV byte for byte and checks that the vocabulary covers every raw string.
:func:`load_bundled` turns raw CSV + vocabulary into domain objects; :func:`seed` does that once
per store, at first open.
"""
from __future__ import annotations

import hashlib
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from metaverdict.evidence.io import read_rows, validate_rows
from metaverdict.evidence.models import Condition, Opinion, Source, StoreMeta, Treatment
from metaverdict.evidence.store import Store
from metaverdict.evidence.vocabulary import Vocabulary, bundled_vocabulary
from metaverdict.evidence.writer import write_drafts

RAW_FILE = "studies_raw.csv"
SEED_KEY = "bundled_evidence_sha256"
_OVERRIDE_KEYS = ("kind", "study", "comparator_name", "sign_convention", "sign_reason",
                  "direction_reported", "direction_reason")

SANKOFF_KEY = "sankoff_dry_needling"
SANKOFF_CITATION = ('Sankoff J. Evaluating & Debunking "Alternative" Injury Recovery Methods: '
                    "Part 3, Dry Needling.")
SANKOFF_LOCATION = ("article by J. Sankoff (the starting point of the extraction, per "
                    "shared/evidence/README.md); no stored copy was located, so no URL or DOI")
SANKOFF_OPINIONS: tuple[dict[str, str], ...] = (
    {"condition": "iliotibial band syndrome",
     "claim": "Support for dry needling in iliotibial band syndrome is expert opinion only "
              "(no trial data)."},
    {"condition": "patellofemoral pain",
     "claim": "Support for dry needling in patellofemoral pain is expert opinion only "
              "(no trial data)."},
)


def data_path(name: str) -> Path:
    """Path of a file in ``metaverdict/evidence/data``."""
    return Path(str(resources.files("metaverdict.evidence").joinpath("data", name)))


def raw_sha256() -> str:
    """SHA-256 of the bundled raw CSV (recorded in the store when seeded)."""
    return hashlib.sha256(data_path(RAW_FILE).read_bytes()).hexdigest()


def unmapped_terms(rows: list[dict[str, str]], vocab: Vocabulary) -> list[str]:
    """Raw strings of the rows that the vocabulary file does not list (should be empty)."""
    d = vocab.data
    tables = {"treatment": d["treatments"]["raw"], "comparator": d["comparators"]["raw"],
              "condition": d["conditions"]["raw"], "outcome": d["outcomes"]["raw"],
              "timepoint": d["timepoints"]["raw"], "effect_measure": d["effect_measures"]["raw"],
              "source_id": d["sources"]}
    missing = []
    for i, row in enumerate(rows, start=1):
        for col, table in tables.items():
            if row[col] not in table:
                missing.append(f"row {i}, column {col!r}: {row[col]!r}")
    return missing


def build(studies_csv: str | Path, out_dir: str | Path | None = None) -> Path:
    """Copy the extraction CSV unchanged into the package data and check vocabulary coverage.

    Raises
    ------
    ValueError
        If any raw string is missing from ``vocabulary.json``.
    """
    target = Path(out_dir) / RAW_FILE if out_dir else data_path(RAW_FILE)
    shutil.copyfile(studies_csv, target)
    missing = unmapped_terms(read_rows(target), bundled_vocabulary())
    if missing:
        raise ValueError("vocabulary.json lacks:\n" + "\n".join(missing))
    return target


def _overrides(vocab: Vocabulary) -> Any:
    def fn(row: int, raw: dict[str, Any]) -> dict[str, Any]:
        conv = vocab.row_overrides(raw["source_id"], row)
        return {k: conv[k] for k in _OVERRIDE_KEYS if k in conv}
    return fn


def _add_opinions(s: Session) -> None:
    src = Source(key=SANKOFF_KEY, citation=SANKOFF_CITATION, doi=None,
                 url_or_location=SANKOFF_LOCATION, design="opinion",
                 notes="Expert opinion; holds no trial data and no numbers.")
    s.add(src)
    treatment = s.query(Treatment).filter_by(term="dry needling").one()
    for op in SANKOFF_OPINIONS:
        cond = s.query(Condition).filter_by(term=op["condition"]).first()
        if cond is None:
            cond = Condition(term=op["condition"], body_region="knee")
            s.add(cond)
        s.add(Opinion(source=src, expert="J. Sankoff", claim=op["claim"],
                      treatment=treatment, condition=cond, evidence_level="expert opinion",
                      verbatim_quote=None,
                      notes="Claim as summarised in the project brief; the article's own "
                            "wording was not retrieved, so no verbatim quote is stored."))


def load_bundled(store: Store) -> int:
    """Load the 145 bundled results (42 sources) and the Sankoff opinions into ``store``.

    Returns
    -------
    int
        Number of results loaded.
    """
    drafts = validate_rows(store, read_rows(data_path(RAW_FILE)), _overrides(store.vocabulary))
    with store.transaction() as s:
        n = write_drafts(s, drafts)
        _add_opinions(s)
        s.merge(StoreMeta(key=SEED_KEY, value=raw_sha256()))
    return n


def seed(store: Store) -> bool:
    """Load the bundled evidence if this store has never held it; True if loaded now."""
    if store.meta(SEED_KEY) is not None or not store.is_empty():
        return False
    load_bundled(store)
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m metaverdict.evidence.bundled STUDIES.csv``: the build step."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m metaverdict.evidence.bundled STUDIES.csv", file=sys.stderr)
        return 2
    print(build(args[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
