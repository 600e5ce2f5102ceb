"""metaverdict.verdict: claims -> verdicts against the MCID, per outcome and timepoint, with
GRADE-style wording; time courses; checks of claims stated in words.

>>> from metaverdict.evidence import open_store                      # doctest: +SKIP
>>> from metaverdict.verdict import assess, time_course, article_claims, check_claims
>>> with open_store() as store:                                      # doctest: +SKIP
...     a = assess(store, "dry needling")
...     tc = time_course(store, "dry needling", "post-marathon muscle soreness", "pain")
...     checks = check_claims(article_claims(), store)
"""
from __future__ import annotations

from metaverdict.verdict.assess import (Assessment, OpinionCheck, TimeCourse, assess,
                                        judge_bodies, not_shown, time_course)
from metaverdict.verdict.claim_check import (CLAIM_COLUMNS, ClaimCheck, StatedClaim,
                                             article_claims, check_claim, check_claims,
                                             checks_table, load_claims, parse_claims)
from metaverdict.verdict.claims import Claim
from metaverdict.verdict.rules import CATEGORIES
from metaverdict.verdict.synthesis import bodies_from_rows, mcid_for
from metaverdict.verdict.verdicts import Verdict, opinion_verdict, verdict_for
from metaverdict.verdict.wording import statement

__all__ = ["Assessment", "CATEGORIES", "CLAIM_COLUMNS", "Claim", "ClaimCheck", "OpinionCheck",
           "StatedClaim", "TimeCourse", "Verdict", "article_claims", "assess",
           "bodies_from_rows", "check_claim", "check_claims", "checks_table", "judge_bodies",
           "load_claims", "mcid_for", "not_shown", "opinion_verdict", "parse_claims",
           "statement", "time_course", "verdict_for"]
