"""metaverdict.verdict: the rules that turn a body of evidence into a verdict against the MCID,
and GRADE-style wording. Questions, answers and claim checks are in
:mod:`metaverdict.synthesis`.
"""
from __future__ import annotations

from metaverdict.verdict.claims import Claim
from metaverdict.verdict.record import Verdict
from metaverdict.verdict.rules import CATEGORIES, CATEGORY_DEFINITIONS, Category, Direction
from metaverdict.verdict.verdicts import opinion_verdict, verdict_for
from metaverdict.verdict.wording import headline, statement

__all__ = ["CATEGORIES", "CATEGORY_DEFINITIONS", "Category", "Claim", "Direction", "Verdict",
           "headline", "opinion_verdict", "statement", "verdict_for"]
