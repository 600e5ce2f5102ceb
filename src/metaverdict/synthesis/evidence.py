"""The evidence as one value: everything the synthesis, the report, the CLI and the web app
need, read from the store once (:func:`read_evidence`), then filtered in memory.

:class:`EvidenceBase` answers the same read calls as :class:`metaverdict.evidence.Store`
(``results``, ``opinions``, ``sources``, ``counts``, ``meta``, ``included_trials``) so code
written against a store runs on it unchanged, but it never touches the database again.

Head-to-head trials belong to both treatments: :func:`treatment_rows` (on any
:class:`~metaverdict.evidence.EvidenceReader`: a store or a snapshot) adds, for a treatment T,
the rows whose *comparator* is T (PRP vs corticosteroid appears in the corticosteroid answers
as corticosteroid vs PRP), mirrored: the harmonised estimate is negated (a ratio inverted),
its CI swapped, arms and stated directions exchanged, and the row says so in
``sign_reason``. A comparator that names a group of treatments (:func:`is_group`: "other
therapies incl. physiotherapy") is not mirrored: the source did not compare the treatment with
physiotherapy alone.

Simulated sources (``sources.simulated``: numbers computed from simulated data, e.g. the
bundled demo trial imported with ``metaverdict trial import``) are left out by default:
:func:`read_evidence` drops their results, opinions, included trials and source records, and
records their keys in :attr:`EvidenceBase.left_out`. ``include_simulated=True`` keeps them;
:attr:`EvidenceBase.simulated_sources` then names them, so that every output can label them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from metaverdict.evidence.bundled import SEED_KEY, SUPPLEMENT_KEY
from metaverdict.evidence.queries import IncludedTrialRow, OpinionRow, ResultRow, row_matches
from metaverdict.evidence.reader import EvidenceReader
from metaverdict.evidence.store import SOURCE_COLUMNS as _STORE_SOURCE_COLUMNS
from metaverdict.evidence.vocabulary import RATIO_MEASURES, Vocabulary

_FLIP = {"favours-treatment": "favours-comparator", "favours-comparator": "favours-treatment"}
SOURCE_COLUMNS = list(_STORE_SOURCE_COLUMNS)


@dataclass(frozen=True)
class EvidenceBase:
    """A read-only snapshot of an evidence store.

    Attributes
    ----------
    rows : tuple of ResultRow
        Every stored result, in import order.
    opinion_rows : tuple of OpinionRow
        Every stored expert opinion.
    included : tuple of IncludedTrialRow
        Reviews' included trials, where recorded.
    source_records : tuple of dict
        One dict per source (key, citation, doi, url_or_location, design, notes, simulated).
    vocabulary : Vocabulary
        The vocabulary the store normalised with.
    store_counts : dict
        Sources, results and opinions.
    store_meta : dict
        The store's key/value facts (e.g. which bundled copy seeded it).
    label : str
        Where the evidence came from, without local paths or passwords (e.g. "SQLite file
        (embedded default)", "PostgreSQL database").
    include_simulated : bool
        Whether simulated sources were kept (see the module docstring).
    left_out : tuple of str
        Keys of the simulated sources the store holds that were left out.
    """

    rows: tuple[ResultRow, ...]
    opinion_rows: tuple[OpinionRow, ...]
    included: tuple[IncludedTrialRow, ...]
    source_records: tuple[dict[str, Any], ...]
    vocabulary: Vocabulary = field(repr=False, compare=False)
    store_counts: dict[str, int] = field(default_factory=dict, compare=False)
    store_meta: dict[str, str] = field(default_factory=dict, compare=False)
    label: str = "evidence store"
    include_simulated: bool = False
    left_out: tuple[str, ...] = ()

    @property
    def simulated_sources(self) -> tuple[str, ...]:
        """Keys of the simulated sources in the snapshot (empty unless ``include_simulated``),
        in source order."""
        keys = [str(rec["key"]) for rec in self.source_records if is_true(rec.get("simulated"))]
        keys += [r.source_id for r in self.rows if r.simulated]
        keys += [o.source_id for o in self.opinion_rows if o.simulated]
        return tuple(dict.fromkeys(keys))

    # -- the Store read interface ---------------------------------------------------------
    def results(self, treatment: str | None = None, condition: str | None = None,
                outcome: str | None = None, kind: str | None = None, *,
                comparator: str | None = None, source: str | None = None,
                window: str | None = None) -> list[ResultRow]:
        """Results matching the filters (as :meth:`metaverdict.evidence.Store.results`)."""
        return [r for r in self.rows if row_matches(
            r, self.vocabulary, treatment=treatment, condition=condition, outcome=outcome,
            kind=kind, comparator=comparator, source=source, window=window)]

    def opinions(self, treatment: str | None = None,
                 condition: str | None = None) -> list[OpinionRow]:
        """Expert opinions, optionally for one treatment term/family and condition."""
        out = []
        for op in self.opinion_rows:
            if treatment is not None and (op.treatment is None or treatment.strip().lower()
                                          not in self.vocabulary.treatment_names(
                                              op.treatment, op.treatment)):
                continue
            if condition is not None and (op.condition or "").lower() != condition.lower():
                continue
            out.append(op)
        return out

    def sources(self) -> pd.DataFrame:
        """Sources as a DataFrame (columns as :meth:`metaverdict.evidence.Store.sources`)."""
        return pd.DataFrame(list(self.source_records), columns=SOURCE_COLUMNS)

    def included_trials(self) -> list[IncludedTrialRow]:
        """Reviews' included trials."""
        return list(self.included)

    def counts(self) -> dict[str, int]:
        """Row counts of the store the snapshot was read from."""
        return dict(self.store_counts)

    def meta(self, key: str) -> str | None:
        """A value from the store's key/value table."""
        return self.store_meta.get(key)

    @property
    def url(self) -> str:
        """The snapshot's label (no local path or password is ever shown)."""
        return self.label

    # -- synthesis helpers ----------------------------------------------------------------
    def treatment_rows(self, term: str) -> list[ResultRow]:
        """:func:`treatment_rows` of this snapshot."""
        return treatment_rows(self, term)


def treatment_rows(evidence: EvidenceReader, term: str) -> list[ResultRow]:
    """The rows about a treatment: its own, plus head-to-head rows where it is the
    comparator, mirrored (see the module docstring)."""
    own = evidence.results(treatment=term)
    names = evidence.vocabulary.treatment_names(*evidence.vocabulary.treatment(term))
    ids = {r.id for r in own}
    mirrored = [mirror(r, term) for r in evidence.results() if r.id not in ids
                and r.comparator_class == "active" and not is_group(r.comparator_name)
                and _names_match(r.comparator_name, names)]
    return own + mirrored


#: Comparator names that stand for several different treatments ("other therapies incl.
#: physiotherapy", "A or B"): never mirrored as one of them, never a network node.
GROUP_OF_TREATMENTS = re.compile(r"\bother\b|\bor\b|\bmixed\b|\bvarious\b|"
                                 r"\b(?:treatments|therapies|interventions|modalities)\b",
                                 re.IGNORECASE)


def is_group(name: str | None) -> bool:
    """Whether a comparator name stands for a group of different treatments."""
    return bool(GROUP_OF_TREATMENTS.search(name or ""))


def _names_match(name: str, names: set[str]) -> bool:
    low = (name or "").lower()
    return any(re.search(rf"(?<![a-z]){re.escape(n)}(?![a-z])", low) for n in names if len(n) > 2)


def _neg(x: float | None, ratio: bool) -> float | None:
    if x is None:
        return None
    return (1.0 / x if x else None) if ratio else -x


def mirror(r: ResultRow, term: str) -> ResultRow:
    """A head-to-head row seen from its comparator's side (``term`` vs the row's treatment)."""
    ratio = (r.harmonised_measure or "").split(" ")[0] in RATIO_MEASURES
    lo, hi = _neg(r.harmonised_ci_upper, ratio), _neg(r.harmonised_ci_lower, ratio)
    why = (f"mirrored: the source compares {r.treatment} with {r.comparator_name}; shown here "
           f"as {term} vs {r.treatment} (harmonised estimate "
           f"{'inverted' if ratio else 'negated'}, CI swapped, arms exchanged)")
    return replace(
        r, treatment=term, treatment_family=term, comparator_name=r.treatment,
        harmonised_estimate=_neg(r.harmonised_estimate, ratio), harmonised_ci_lower=lo,
        harmonised_ci_upper=hi, n_treatment=r.n_control, n_control=r.n_treatment,
        mean_treatment=r.mean_control, mean_control=r.mean_treatment,
        mean_treatment_value=r.mean_control_value, mean_control_value=r.mean_treatment_value,
        sd_treatment=r.sd_control, sd_control=r.sd_treatment,
        direction_reported=_FLIP.get(r.direction_reported or "", r.direction_reported),
        sign_reason=why if not r.sign_reason else f"{r.sign_reason}; {why}",
        derivation=f"{r.derivation}; {why}")


def is_true(x: Any) -> bool:
    """True only for a boolean True (``numpy.bool_`` included); None and NaN are False."""
    return isinstance(x, (bool, np.bool_)) and bool(x)


def _label(url: str) -> str:
    if url.startswith("sqlite"):
        return ("SQLite in memory" if url in ("sqlite://", "sqlite:///:memory:")
                else "SQLite file (the embedded default store)" if "metaverdict" in url
                else "SQLite file")
    return url.split(":", 1)[0].split("+", 1)[0].replace("postgresql", "PostgreSQL") + " database"


def read_evidence(store: EvidenceReader, include_simulated: bool = False) -> EvidenceBase:
    """Read everything from a store once (results, opinions, sources, included trials,
    counts, meta) into an :class:`EvidenceBase`.

    Parameters
    ----------
    store : EvidenceReader
        A :class:`metaverdict.evidence.Store` (or another snapshot).
    include_simulated : bool
        Keep the simulated sources (default False: their results, opinions, included trials
        and source records are left out, and their keys listed in ``left_out``).

    Returns
    -------
    EvidenceBase

    Examples
    --------
    >>> from metaverdict.evidence import open_store
    >>> with open_store("sqlite://") as store:          # the bundled evidence: nothing simulated
    ...     evidence = read_evidence(store)
    >>> evidence.simulated_sources, evidence.left_out
    ((), ())
    """
    src = store.sources()
    records = [{str(k): v for k, v in rec.items()} for rec in src.to_dict("records")]
    rows, opinions = store.results(), store.opinions()
    simulated = {str(rec["key"]) for rec in records if is_true(rec.get("simulated"))}
    simulated |= {r.source_id for r in rows if r.simulated}
    simulated |= {o.source_id for o in opinions if o.simulated}
    included = store.included_trials()
    left_out: tuple[str, ...] = ()
    if not include_simulated and simulated:
        left_out = tuple(dict.fromkeys(
            [str(rec["key"]) for rec in records if str(rec["key"]) in simulated]
            + sorted(simulated)))
        rows = [r for r in rows if r.source_id not in simulated]
        opinions = [o for o in opinions if o.source_id not in simulated]
        included = [t for t in included if t.review not in simulated]
        records = [rec for rec in records if str(rec["key"]) not in simulated]
    return EvidenceBase(
        rows=tuple(rows), opinion_rows=tuple(opinions), included=tuple(included),
        source_records=tuple(records), vocabulary=store.vocabulary,
        store_counts=store.counts(),
        store_meta={k: v for k in (SEED_KEY, SUPPLEMENT_KEY) if (v := store.meta(k))},
        label=_label(store.url), include_simulated=include_simulated, left_out=left_out)
