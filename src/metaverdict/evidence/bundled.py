"""The bundled evidence: ``data/studies_raw.csv`` (an unchanged copy of the extraction) plus
``data/vocabulary.json`` (raw strings -> normalised terms, directions, per-row sign conventions).

Build step (run by a maintainer when the extraction changes)::

    python -m metaverdict.evidence.bundled /path/to/shared/evidence/studies.csv

copies the CSV byte for byte and checks that the vocabulary covers every raw string.
:func:`load_bundled` turns raw CSV + vocabulary into domain objects; :func:`seed` does that once
per store, at first open.
"""
from __future__ import annotations

import csv
import hashlib
import shutil
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from metaverdict.evidence.io import read_rows, validate_rows
from metaverdict.evidence.models import (
    Condition,
    IncludedTrial,
    Opinion,
    Result,
    RiskOfBias,
    Source,
    StoreMeta,
    Study,
    Treatment,
)
from metaverdict.evidence.store import Store
from metaverdict.evidence.vocabulary import Vocabulary, bundled_vocabulary
from metaverdict.evidence.writer import write_drafts

RAW_FILE = "studies_raw.csv"
#: Rows added to the extraction (stated nulls, adjusted differences), each with its quote and
#: location; loaded after the raw rows, in the same layout plus the EXTRA_COLUMNS.
SUPPLEMENT_FILE = "supplement.csv"
#: The included trials of reviews, where a stored copy lists them (for overlap / CCA).
INCLUDED_FILE = "included_trials.csv"
SEED_KEY = "bundled_evidence_sha256"
SUPPLEMENT_KEY = "bundled_supplement_sha256"
BUNDLE_KEY = "bundle_sha256"
_OVERRIDE_KEYS = ("kind", "study", "comparator_name", "sign_convention", "sign_reason",
                  "direction_reported", "direction_reason", "comparator_class", "data_problem",
                  "evidence_about", "stated_mid", "stated_mid_text", "n_treatment", "n_control")
#: Override keys appended to a column rather than replacing it (provenance of an override).
_APPEND_KEYS = {"notes_append": "notes"}

SANKOFF_KEY = "sankoff_dry_needling"
SANKOFF_CITATION = ('Sankoff J. Evaluating & Debunking "Alternative" Injury Recovery Methods: '
                    "Part 3, Dry Needling.")
SANKOFF_LOCATION = ("article by J. Sankoff (the starting point of the extraction, per "
                    "shared/evidence/README.md); no stored copy was located, so no URL or DOI")
#: Dr Cushman's opinions as the article reports them. The article's author (Sankoff) flags
#: them as unsupported by trial evidence; the opinion is Cushman's, not the author's.
SANKOFF_OPINIONS: tuple[dict[str, str], ...] = (
    {"condition": "iliotibial band syndrome",
     "claim": "Dry needling gives better pain control in iliotibial band syndrome, which lets "
              "rehabilitation progress faster."},
    {"condition": "patellofemoral pain",
     "claim": "Dry needling gives better pain control in patellofemoral pain, which lets "
              "rehabilitation progress faster."},
)
OPINION_EXPERT = "D. M. Cushman (as reported by J. Sankoff)"
OPINION_EVIDENCE_LEVEL = "expert opinion; the article's author notes it is not backed by trials"


def data_path(name: str) -> Path:
    """Path of a file in ``metaverdict/evidence/data``."""
    return Path(str(resources.files("metaverdict.evidence").joinpath("data", name)))


def raw_sha256(name: str = RAW_FILE) -> str:
    """SHA-256 of a bundled data file (the raw CSV by default; recorded in the store when
    seeded)."""
    return hashlib.sha256(data_path(name).read_bytes()).hexdigest()


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


def _overrides(vocab: Vocabulary) -> Callable[[int, dict[str, Any]], dict[str, Any]]:
    """The vocabulary's per-row corrections of the raw CSV, as ``validate_rows`` takes them."""
    def fn(row: int, raw: dict[str, Any]) -> dict[str, Any]:
        conv = vocab.row_overrides(raw["source_id"], row)
        out = {k: conv[k] for k in _OVERRIDE_KEYS if k in conv}
        for key, col in _APPEND_KEYS.items():
            if key in conv:
                out[col] = " ".join(t for t in (raw.get(col) or "", conv[key]) if t)
        return out
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
        s.add(Opinion(source=src, expert=OPINION_EXPERT, claim=op["claim"],
                      treatment=treatment, condition=cond,
                      evidence_level=OPINION_EVIDENCE_LEVEL, verbatim_quote=None,
                      notes="Paraphrase of the article's account of Dr Cushman's view (see "
                            "the project's clinical review, shared/reviews/report-review-"
                            "2026-12.md, section 3); the article's own wording was not "
                            "retrieved, so no verbatim quote is stored."))


def add_included_trials(s: Session, rows: list[dict[str, str]]) -> int:
    """Add included-trial rows (columns of ``included_trials.csv``) for stored reviews.

    Raises
    ------
    ValueError
        For a review key that is not a stored source or a row without a location.
    """
    sources = {src.key: src for src in s.query(Source)}
    for i, row in enumerate(rows, start=1):
        src = sources.get(row["review_source_id"])
        if src is None:
            raise ValueError(f"row {i}, column 'review_source_id': no stored source "
                             f"{row['review_source_id']!r}")
        if not (row.get("location") or "").strip():
            raise ValueError(f"row {i}, column 'location': is required")
        year = (row.get("trial_year") or "").strip()
        s.add(IncludedTrial(source=src, trial=row["trial"].strip(),
                            year=int(year) if year else None,
                            complete=(row.get("complete") or "").strip().lower() == "true",
                            location=row["location"], quote=row.get("quote") or None,
                            note=row.get("note") or None))
    return len(rows)


def load_bundled(store: Store, *, if_needed: bool = False) -> int | None:
    """Load the bundled results (the 145 raw rows of 42 sources, then the supplement rows),
    the reviews' included trials and the Sankoff opinions into ``store``, in one transaction.

    ``if_needed=True`` (used by :func:`seed`): do nothing, and return None, when the store
    already holds this bundle or unseeded data (checked inside the write transaction).

    Returns
    -------
    int or None
        Number of results loaded.
    """
    drafts = validate_rows(store, read_rows(data_path(RAW_FILE)), _overrides(store.vocabulary))
    supplement = validate_rows(store, read_rows(data_path(SUPPLEMENT_FILE)))
    keys = {d.csv.source_id for d in drafts + supplement} | {SANKOFF_KEY}
    with store.transaction() as s:
        if if_needed and not _needs_seed(s):
            return None
        _remove_sources(s, keys)
        n = write_drafts(s, drafts) + write_drafts(s, supplement)
        _add_opinions(s)
        with data_path(INCLUDED_FILE).open(encoding="utf-8", newline="") as f:
            add_included_trials(s, list(csv.DictReader(f)))
        s.merge(StoreMeta(key=SEED_KEY, value=raw_sha256()))
        s.merge(StoreMeta(key=SUPPLEMENT_KEY, value=raw_sha256(SUPPLEMENT_FILE)))
        s.merge(StoreMeta(key=BUNDLE_KEY, value=bundle_sha256()))
    return n


def bundle_sha256() -> str:
    """SHA-256 over every bundled file that shapes the stored evidence (raw rows, supplement,
    included trials, vocabulary)."""
    h = hashlib.sha256()
    for name in (RAW_FILE, SUPPLEMENT_FILE, INCLUDED_FILE, "vocabulary.json"):
        h.update(data_path(name).read_bytes())
    return h.hexdigest()


def _remove_sources(s: Session, keys: set[str]) -> None:
    """Delete the given sources with their results, studies, opinions and included trials
    (the bundled ones, before they are loaded again)."""
    ids = [src.id for src in s.query(Source).filter(Source.key.in_(keys))]
    if not ids:
        return
    studies = [st.id for st in s.query(Study).filter(Study.source_id.in_(ids))]
    s.query(Result).filter(Result.source_id.in_(ids)).delete(synchronize_session=False)
    s.query(RiskOfBias).filter(RiskOfBias.study_id.in_(studies)).delete(
        synchronize_session=False)
    s.query(Study).filter(Study.id.in_(studies)).delete(synchronize_session=False)
    s.query(Opinion).filter(Opinion.source_id.in_(ids)).delete(synchronize_session=False)
    s.query(IncludedTrial).filter(IncludedTrial.source_id.in_(ids)).delete(
        synchronize_session=False)
    s.query(Source).filter(Source.id.in_(ids)).delete(synchronize_session=False)
    s.flush()


def seed(store: Store) -> bool:
    """Load the bundled evidence into a store that has never held it, or refresh it in a
    store seeded by an earlier bundled copy; True if loaded now.

    A refresh replaces the bundled sources (and every result stored under their keys) in one
    transaction; sources a user imported under other keys are kept. A store that holds data
    but was never seeded is left alone. The decision is taken again under the store's write
    lock, so that two processes opening a fresh store at once load the bundle once.
    """
    with store.session() as s:
        if not _needs_seed(s):
            return False
    return load_bundled(store, if_needed=True) is not None


def _needs_seed(s: Session) -> bool:
    seeded = s.get(StoreMeta, SEED_KEY)
    if seeded is None:
        return s.scalars(select(Source.id).limit(1)).first() is None
    bundle = s.get(StoreMeta, BUNDLE_KEY)
    return bundle is None or bundle.value != bundle_sha256()


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
