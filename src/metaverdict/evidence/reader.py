"""The read interface of the evidence: what the synthesis needs from a store.

:class:`metaverdict.evidence.Store` (a database) and
:class:`metaverdict.synthesis.EvidenceBase` (a snapshot read from one once) both satisfy it,
so the synthesis is typed against this protocol and never against a database session.
"""
from __future__ import annotations

from typing import Protocol

import pandas as pd

from metaverdict.evidence.queries import IncludedTrialRow, OpinionRow, ResultRow
from metaverdict.evidence.vocabulary import Vocabulary


class EvidenceReader(Protocol):
    """Read-only access to stored results, opinions, sources and included trials."""

    @property
    def vocabulary(self) -> Vocabulary:
        """The vocabulary the evidence was normalised with (and queries are matched by)."""

    @property
    def url(self) -> str:
        """Where the evidence comes from (no password)."""

    def results(self, treatment: str | None = None, condition: str | None = None,
                outcome: str | None = None, kind: str | None = None, *,
                comparator: str | None = None, source: str | None = None,
                window: str | None = None) -> list[ResultRow]:
        """Results matching the filters (see :mod:`metaverdict.evidence.queries`)."""

    def opinions(self, treatment: str | None = None,
                 condition: str | None = None) -> list[OpinionRow]:
        """Expert opinions."""

    def sources(self) -> pd.DataFrame:
        """One row per source."""

    def included_trials(self) -> list[IncludedTrialRow]:
        """Reviews' included trials."""

    def counts(self) -> dict[str, int]:
        """Row counts."""

    def meta(self, key: str) -> str | None:
        """A key/value fact about the store."""
