"""metaverdict.evidence: the evidence domain model, its store, CSV import/export and the
bundled evidence (dry needling, PRP, corticosteroid injection).

>>> from metaverdict.evidence import open_store
>>> with open_store() as store:          # METAVERDICT_DATABASE_URL, else the user data file
...     rows = store.results(treatment="dry needling", outcome="pain", comparator="sham")
>>> first = rows[0]                       # in import order
>>> first.source_id, first.condition, first.timepoint_raw
('cushman2021', 'post-marathon muscle soreness', 'day 1')
"""
from __future__ import annotations

from metaverdict.evidence.bundled import load_bundled, seed
from metaverdict.evidence.io import export_csv, import_csv
from metaverdict.evidence.opening import open_store
from metaverdict.evidence.queries import IncludedTrialRow, OpinionRow, ResultRow
from metaverdict.evidence.reader import EvidenceReader
from metaverdict.evidence.store import Store, connect, default_url
from metaverdict.evidence.timepoints import Timepoint, parse_timepoint
from metaverdict.evidence.vocabulary import Vocabulary, bundled_vocabulary

__all__ = [
    "EvidenceReader", "IncludedTrialRow", "OpinionRow", "ResultRow", "Store", "Timepoint",
    "Vocabulary", "bundled_vocabulary", "connect", "default_url", "export_csv", "import_csv",
    "load_bundled", "open_store", "parse_timepoint", "seed",
]
