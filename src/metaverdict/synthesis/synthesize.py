"""One treatment's synthesis, computed once: verdicts, answers, overlap, flagged rows.

:func:`synthesize` is the single place the judgements are made; the report, ``metaverdict
answer`` and the web app render the :class:`Synthesis` it returns and never judge again.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from metaverdict._results import ResultMixin
from metaverdict.errors import InputError
from metaverdict.evidence.queries import IncludedTrialRow, ResultRow
from metaverdict.evidence.reader import EvidenceReader
from metaverdict.grade.mcid import MCIDTable
from metaverdict.synthesis.absolute import TypicalSD, typical_sd
from metaverdict.synthesis.answers import Answer, answers_table, build_answers
from metaverdict.synthesis.assess import Assessment, assess
from metaverdict.synthesis.bodies import source_year
from metaverdict.synthesis.evidence import EvidenceBase
from metaverdict.synthesis.overlap import Overlap, overlap
from metaverdict.synthesis.probability import SkepticalPrior


@dataclass(frozen=True, repr=False)
class Synthesis(ResultMixin):
    """Everything judged about one treatment.

    Attributes
    ----------
    treatment : str
        The vocabulary term.
    answers : tuple of Answer
        One per question, in bottom-line order (opinion-only answers last).
    assessment : Assessment
        Every verdict (the answers' chosen, detail and supporting verdicts are among them),
        opinions and what the evidence does not show.
    overlap : Overlap
        Overlap of all the treatment's reviews.
    typical_sd : TypicalSD or None
        The SD used to re-express SMDs on a 0-10 pain scale.
    rows : tuple of ResultRow
        The rows behind it (head-to-head rows mirrored).
    flagged : tuple of ResultRow
        Rows with a known data problem, shown with a warning and kept out of verdicts.
    related : tuple of ResultRow
        Rows that are evidence about something else (e.g. other treatments added to this
        one), kept out of this treatment's answers but used by claim checks.
    possible_overlap : tuple of str
        Trials stored on their own that a later review of the same condition may include
        (its included trials are not recorded): the two are then not independent.
    """

    treatment: str
    answers: tuple[Answer, ...]
    assessment: Assessment = field(repr=False)
    overlap: Overlap = field(repr=False)
    typical_sd: TypicalSD | None = None
    rows: tuple[ResultRow, ...] = field(default=(), repr=False)
    flagged: tuple[ResultRow, ...] = field(default=(), repr=False)
    related: tuple[ResultRow, ...] = field(default=(), repr=False)
    possible_overlap: tuple[str, ...] = ()
    _repr_fields = ("treatment",)

    def summary(self) -> str:
        """The bottom-line table, then the overlap."""
        return "\n".join([f"{self.treatment}: {len(self.answers)} questions answered",
                          answers_table(self.answers), "", f"Overlap: {self.overlap.status}"])


def resolve_treatment(evidence: EvidenceReader, name: str) -> str:
    """The vocabulary term for a treatment name or alias that has stored evidence.

    Raises
    ------
    InputError
        When no stored result or opinion matches; the message lists the treatments with
        stored evidence.
    """
    term, _family = evidence.vocabulary.treatment(name)
    if evidence.results(treatment=term) or evidence.opinions(treatment=term):
        return term
    raise InputError(f"treatment {name!r}: no stored evidence; available: "
                     f"{', '.join(available_treatments(evidence))}")


def available_treatments(evidence: EvidenceReader) -> list[str]:
    """Treatment terms with stored results, each with its aliases."""
    terms = evidence.vocabulary.data["treatments"]["terms"]
    present = sorted({r.treatment for r in evidence.results()})
    out = []
    for t in present:
        aliases = terms.get(t, {}).get("aliases", [])
        out.append(f"{t} ({', '.join(aliases)})" if aliases else t)
    return out


def synthesize(evidence: EvidenceBase, treatment: str, *,
               mcid_table: MCIDTable | None = None,
               prior: SkepticalPrior | None = None) -> Synthesis:
    """Judge one treatment's evidence once.

    Parameters
    ----------
    evidence : EvidenceBase
        From :func:`metaverdict.synthesis.read_evidence` (the store read once).
    treatment : str
        Name or alias (``"dry needling"``, ``"PRP"``, ``"CSI"``).
    mcid_table : MCIDTable, optional
        Default: :meth:`MCIDTable.bundled`.
    prior : SkepticalPrior, optional
        The sceptical prior of each answer's probability beyond the MCID (default
        ``SkepticalPrior()``: P(effect beyond the MCID) = 5% each way before the data).

    Returns
    -------
    Synthesis
    """
    term = resolve_treatment(evidence, treatment)
    table = mcid_table or MCIDTable.bundled()
    rows = tuple(evidence.treatment_rows(term))
    a = assess(evidence, term, table)
    sd = typical_sd(evidence.rows)
    answers = build_answers(term, a.verdicts, evidence.included, rows, sd, evidence.vocabulary,
                            simulated=getattr(evidence, "simulated_sources", ()), prior=prior)
    reviews = sorted({r.source_id for r in rows if r.kind == "review"})
    return Synthesis(term, answers, a, overlap(reviews, evidence.included), sd, rows,
                     tuple(r for r in rows if r.data_problem),
                     tuple(r for r in rows if r.evidence_about),
                     possible_overlap(rows, evidence.included))


def possible_overlap(rows: Iterable[ResultRow],
                     included: Iterable[IncludedTrialRow]) -> tuple[str, ...]:
    """Stored trials that a review of the same condition, published the same year or later,
    includes (where its list is recorded) or may include (where it is not)."""
    rows = list(rows)
    lists: dict[str, set[str]] = {}
    for inc in included:
        lists.setdefault(inc.review, set()).add(inc.trial.split(" ")[0].lower())
    trials = {(r.source_id, r.condition, source_year(r)) for r in rows if r.kind == "primary"}
    reviews = {(r.source_id, r.condition, source_year(r)) for r in rows if r.kind == "review"}
    out = []
    for t, cond, ty in sorted(trials):
        for rv, rcond, ry in sorted(reviews):
            if rcond != cond or ty is None or ry is None or ry < ty:
                continue
            author = re.sub(r"\d+.*$", "", t)
            if author in lists.get(rv, set()):
                out.append(f"{rv} ({ry}) includes {t} ({ty}): the two are not independent")
            else:
                out.append(f"{rv} ({ry}, {cond}) may include {t} ({ty}): its included trials "
                           "are not recorded, so the two may not be independent")
    return tuple(dict.fromkeys(out))
