"""The site's view of the store: one :class:`Snapshot` per store state, computed once.

A snapshot holds the evidence read once (:func:`metaverdict.synthesis.read_evidence`) and,
computed on first use and then kept, each treatment's synthesis, page views, question
figures, the downloadable report and rendered pages. :class:`SiteState` knows the store's
**state token** (row counts, the newest result id, the newest evidence change in the audit log
and the bundled copy's checksum, read with one small query) and replaces the snapshot only
when the token changes: after an edit through the site (at once), or after another process
(``metaverdict evidence import``, a second web worker) wrote to the store (noticed within
``check_interval`` seconds). Read pages therefore never refit anything.

>>> from metaverdict.evidence import open_store
>>> with open_store() as store:
...     site = SiteState(store)
...     snap = site.snapshot()
...     snap is site.snapshot(), snap.treatments[0].term
(True, 'dry needling')
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, select

from metaverdict.evidence.accounts import AuditEntry
from metaverdict.evidence.bundled import BUNDLE_KEY
from metaverdict.evidence.models import IncludedTrial, Opinion, Result, Source, StoreMeta
from metaverdict.evidence.store import Store
from metaverdict.grade.mcid import MCIDTable
from metaverdict.report.build import build_report, network_section
from metaverdict.report.document import NetworkSection
from metaverdict.report.render import render_html
from metaverdict.synthesis import EvidenceBase, Synthesis, read_evidence, synthesize
from metaverdict.synthesis.networks import active_networks
from metaverdict.web.accounts import ACCOUNT_ACTIONS
from metaverdict.web.views import (
    FIGURE_LOCK,
    ClaimsView,
    QuestionView,
    StudyView,
    TreatmentInfo,
    TreatmentView,
    claims_view,
    question_view,
    study_view,
    treatment_info,
    treatment_terms,
    treatment_view,
)

T = TypeVar("T")


def state_token(store: Store) -> tuple[Any, ...]:
    """What changes whenever the evidence changes, read in one query."""
    def scalar(stmt: Any) -> Any:
        return stmt.scalar_subquery()
    stmt = select(
        scalar(select(func.count()).select_from(Result)),
        scalar(select(func.max(Result.id))),
        scalar(select(func.count()).select_from(Source)),
        scalar(select(func.count()).select_from(Opinion)),
        scalar(select(func.count()).select_from(IncludedTrial)),
        scalar(select(func.max(AuditEntry.id)).where(AuditEntry.action.not_in(ACCOUNT_ACTIONS))),
        scalar(select(StoreMeta.value).where(StoreMeta.key == BUNDLE_KEY)))
    with store.session() as s:
        return tuple(s.execute(stmt).one())


class Snapshot:
    """Everything the site shows for one store state (computed lazily, then kept).

    Parameters
    ----------
    evidence : EvidenceBase
        The store, read once.
    token : tuple
        The state token it was read at.
    mcid_table : MCIDTable, optional
    """

    def __init__(self, evidence: EvidenceBase, token: tuple[Any, ...],
                 mcid_table: MCIDTable | None = None) -> None:
        self.evidence = evidence
        self.token = token
        self.mcid_table = mcid_table
        self.treatments: tuple[TreatmentInfo, ...] = tuple(
            treatment_info(evidence, t) for t in treatment_terms(evidence))
        self.by_slug = {t.slug: t for t in self.treatments}
        self._values: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._guard = threading.Lock()
        #: Rendered pages for anonymous visitors (path -> bytes).
        self.pages: dict[str, bytes] = {}

    def _once(self, key: Any, compute: Callable[[], T]) -> T:
        """``compute()`` once per snapshot (one thread computes, the others wait)."""
        if key in self._values:
            return self._values[key]          # type: ignore[no-any-return]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
        return self._values[key]              # type: ignore[no-any-return]

    def find(self, name: str) -> TreatmentInfo | None:
        """A treatment by slug, term or alias; None if it has no stored evidence."""
        if name in self.by_slug:
            return self.by_slug[name]
        term = self.evidence.vocabulary.treatment(name)[0]
        return next((t for t in self.treatments if t.term == term), None)

    def synthesis(self, term: str) -> Synthesis:
        """The treatment's synthesis (:func:`metaverdict.synthesis.synthesize`)."""
        return self._once(("synthesis", term), lambda: synthesize(
            self.evidence, term, mcid_table=self.mcid_table))

    def syntheses(self) -> dict[str, Synthesis]:
        """Every treatment's synthesis, by term."""
        return {t.term: self.synthesis(t.term) for t in self.treatments}

    def treatment(self, info: TreatmentInfo) -> TreatmentView:
        """The treatment page's values."""
        return self._once(("treatment", info.term), lambda: treatment_view(
            self.synthesis(info.term), info, self.evidence, self.network(info.term)))

    def network(self, term: str) -> NetworkSection:
        """The networks of a treatment's active comparisons, over every treatment's answers
        (:func:`metaverdict.synthesis.networks.active_networks`), as the report shows them."""
        def compute() -> NetworkSection:
            every = [a for s in self.syntheses().values() for a in s.answers]
            return network_section(active_networks(every, term))
        return self._once(("network", term), compute)

    def treatment_views(self) -> dict[str, TreatmentView]:
        """Every treatment page's values, by term."""
        return {t.term: self.treatment(t) for t in self.treatments}

    def question(self, info: TreatmentInfo, qslug: str) -> QuestionView | None:
        """A question page's values (figures drawn once), or None for an unknown slug."""
        link = self.treatment(info).question(qslug)
        if link is None:
            return None
        return self._once(("question", info.term, qslug), lambda: question_view(
            self.synthesis(info.term), info, link, self.evidence))

    def study(self, key: str) -> StudyView | None:
        """A study page's values, or None for an unknown source key."""
        def compute() -> StudyView | None:
            try:
                return study_view(self.evidence, key, self.treatment_views())
            except KeyError:
                return None
        return self._once(("study", key), compute)

    def claims(self) -> ClaimsView:
        """The claims page's values."""
        return self._once("claims", lambda: claims_view(self.evidence, self.syntheses(),
                                                         self.treatment_views()))

    def report_html(self, info: TreatmentInfo) -> str:
        """The treatment's HTML evidence report (as ``metaverdict report`` writes it)."""
        def compute() -> str:
            with FIGURE_LOCK:
                doc = build_report(self.evidence, [info.term], mcid_table=self.mcid_table,
                                   syntheses=[self.synthesis(info.term)])
            return render_html(doc)
        return self._once(("report", info.term), compute)


class SiteState:
    """The current :class:`Snapshot` of a store.

    Parameters
    ----------
    store : Store
        The open evidence store (the web app keeps it open).
    mcid_table : MCIDTable, optional
        MCID overrides (default: the bundled table).
    check_interval : float
        Seconds between two reads of the state token (0: before every request).
    """

    def __init__(self, store: Store, *, mcid_table: MCIDTable | None = None,
                 check_interval: float = 0.5) -> None:
        self.store = store
        self.mcid_table = mcid_table
        self.check_interval = check_interval
        self._current: Snapshot | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def current(self) -> Snapshot | None:
        """The snapshot if the state token was read less than ``check_interval`` seconds
        ago (no database access), else None: call :meth:`snapshot`."""
        current = self._current
        if current is not None and time.monotonic() - self._checked < self.check_interval:
            return current
        return None

    def snapshot(self, *, fresh: bool = False) -> Snapshot:
        """The snapshot of the store's current state (re-read only after a change).

        ``fresh=True`` reads the state token now, whatever the interval (after a write).
        """
        current = self._current
        t = time.monotonic()
        if current is not None and not fresh and t - self._checked < self.check_interval:
            return current
        token = state_token(self.store)
        self._checked = t
        if current is not None and current.token == token:
            return current
        with self._lock:
            current = self._current
            if current is not None and current.token == token:
                return current
            for _ in range(5):                  # a write between the two reads: read again
                evidence = read_evidence(self.store)
                after = state_token(self.store)
                if after == token:
                    break
                token = after
            self._current = Snapshot(evidence, token, self.mcid_table)
            return self._current
