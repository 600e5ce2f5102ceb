"""metaverdict.synthesis: stored results -> questions -> one answer each.

The store is read once (:func:`read_evidence`); :func:`synthesize` judges a treatment once
(bodies of evidence, certainty, verdicts, answers, overlap); the report, ``metaverdict answer``
and the web app render those values.

>>> import metaverdict as mv
>>> for a in mv.synthesis.answers("dry needling")[1:3]:   # the default store, seeded
...     print(a.question.describe(), "->", a.headline, f"({a.certainty})")
dry needling vs sham, pain, short term (myofascial pain) -> the evidence is very
uncertain (very low)
dry needling vs sham, pain, short term (plantar heel pain) -> may reduce pain slightly (low)
"""
from __future__ import annotations

from metaverdict.evidence.opening import open_store
from metaverdict.evidence.reader import EvidenceReader
from metaverdict.grade.mcid import MCIDTable
from metaverdict.synthesis.absolute import AbsoluteEffect, TypicalSD, typical_sd
from metaverdict.synthesis.answers import (
    ALL_CONDITIONS,
    NO_RESULT,
    SELECTION_RULE,
    SIMULATED_LABEL,
    Answer,
    OtherSource,
    Question,
    answers_table,
    build_answers,
    source_name,
)
from metaverdict.synthesis.assess import Assessment, TimeCourse, assess, time_course
from metaverdict.synthesis.bodies import bodies_from_rows, indirectness, mcid_for
from metaverdict.synthesis.claim_check import (
    ClaimCheck,
    StatedClaim,
    article_claims,
    check_claims,
    load_claims,
    overreach,
)
from metaverdict.synthesis.evidence import EvidenceBase, read_evidence
from metaverdict.synthesis.overlap import Overlap, corrected_covered_area, overlap
from metaverdict.synthesis.probability import (
    MCIDProbability,
    SkepticalPrior,
    probability_beyond_mcid,
)
from metaverdict.synthesis.synthesize import (
    Synthesis,
    available_treatments,
    resolve_treatment,
    synthesize,
)
from metaverdict.synthesis.terms import TERMS, term_of

__all__ = ["ALL_CONDITIONS", "AbsoluteEffect", "Answer", "Assessment", "ClaimCheck",
           "EvidenceBase", "MCIDProbability", "NO_RESULT", "OtherSource", "Overlap", "Question",
           "SELECTION_RULE", "SIMULATED_LABEL", "SkepticalPrior", "StatedClaim", "Synthesis",
           "TERMS", "TimeCourse", "TypicalSD", "answers", "answers_table", "article_claims",
           "assess", "available_treatments", "bodies_from_rows", "build_answers", "check_claims",
           "corrected_covered_area", "indirectness", "load_claims", "mcid_for", "overlap",
           "overreach", "probability_beyond_mcid", "read_evidence", "resolve_treatment",
           "source_name", "synthesize", "term_of", "time_course", "typical_sd"]


def answers(treatment: str, *, evidence: EvidenceBase | None = None,
            store: EvidenceReader | None = None,
            mcid_table: MCIDTable | None = None,
            include_simulated: bool = False,
            prior: SkepticalPrior | None = None) -> list[Answer]:
    """The answers for one treatment (one per clinical question).

    Parameters
    ----------
    treatment : str
        Name or alias.
    evidence : EvidenceBase, optional
        A snapshot already read; else ``store`` is read once; else the default store
        (:func:`metaverdict.evidence.open_store`) is opened, read and closed.
    store : metaverdict.evidence.Store, optional
    mcid_table : MCIDTable, optional
    include_simulated : bool
        When the store is read here: keep the simulated sources (default False; see
        :func:`read_evidence`).
    prior : SkepticalPrior, optional
        The sceptical prior of each answer's probability beyond the MCID (default
        ``SkepticalPrior()``; :mod:`metaverdict.synthesis.probability`).

    Returns
    -------
    list of Answer
    """
    if evidence is None:
        if store is None:
            with open_store() as s:
                evidence = read_evidence(s, include_simulated)
        else:
            evidence = read_evidence(store, include_simulated)
    return list(synthesize(evidence, treatment, mcid_table=mcid_table, prior=prior).answers)
