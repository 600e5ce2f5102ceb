"""metaverdict.evidence: the evidence domain model, its store, CSV import/export and the
bundled evidence (dry needling, PRP, corticosteroid injection).

>>> from metaverdict.evidence import open_store          # doctest: +SKIP
>>> store = open_store()                                 # doctest: +SKIP
>>> store.results(treatment="dry needling", outcome="pain")   # doctest: +SKIP
"""
from __future__ import annotations

from metaverdict.evidence.bundled import load_bundled, seed
from metaverdict.evidence.io import export_csv, import_csv
from metaverdict.evidence.queries import OpinionRow, ResultRow
from metaverdict.evidence.store import Store, default_url, open_store
from metaverdict.evidence.timepoints import Timepoint, parse_timepoint
from metaverdict.evidence.vocabulary import Vocabulary, bundled_vocabulary

__all__ = [
    "OpinionRow", "ResultRow", "Store", "Timepoint", "Vocabulary", "bundled_vocabulary",
    "default_url", "export_csv", "import_csv", "load_bundled", "open_store", "parse_timepoint",
    "seed",
]
