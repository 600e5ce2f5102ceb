"""GRADE certainty of a body of evidence, each downgrade with its reason.

Start: ``high`` (every bundled body comes from randomized trials). Then, per domain:

risk of bias
    PEDro scores of the trials: median < 6 -> serious (-1). A stored statement "risk of bias
    high or unclear" -> serious; "generally low" -> not serious. Nothing stored -> the
    ``unknown_risk_of_bias`` assumption (default ``"serious"``, -1), stated as an assumption.
inconsistency
    Only for more than one study. Serious (-1) when I² > 50%, or when k >= 3 and the 95%
    prediction interval includes the null while the CI excludes it, or when the review says
    it downgraded for heterogeneity. Single trial: not applicable. I² not stored: not
    assessed (no downgrade, stated).
indirectness
    The reasons declared on the body (mixed comparators, secondary summary source, ...):
    any -> serious (-1), all reasons listed.
imprecision
    With a CI, on the benefit scale (see :meth:`Body.benefit`) with MCID ``M``: the CI
    includes the null, or contains +M or -M strictly inside it -> serious (-1); the CI
    reaches both an important benefit and an important harm (lower <= -M and upper >= +M)
    -> very serious (-2). Optimal information size: a continuous outcome with total N < 400
    -> serious (-1). The larger of the two applies. Without a CI (only a P-value, a bound or
    a direction): -2 when total N is < 400 or unknown, else -1.
publication bias
    Egger's regression test (``metaverdict.diagnostics.egger_test``) for bodies pooled here
    from k >= 10 studies: p < 0.10 -> serious (-1). Otherwise "not assessed" with the reason.
    Beside the test, the reason gives the estimate adjusted by the Vevea-Hedges
    three-parameter selection model (:func:`metaverdict.models.selection.selection_adjusted`)
    or why it is not estimable: a sensitivity analysis shown to the reader, not a step.

The level is ``high`` minus the total steps (floor ``very low``).

A review's own GRADE rating (a stored certainty text read by
:func:`metaverdict.grade.review_rating.review_level`) is a starting point, not the answer: the
checks above are made as well, and the level reported is the *lower* of the review's rating and
metaverdict's (``basis = "lower of the review's rating and metaverdict's checks"``); both are
kept (``review_level``, ``tool_level``) and shown. Against a review's rating only the domains
metaverdict could actually judge from the stored numbers count (a CI that crosses the MCID,
I² above 50%, a comparator class that pools sham with no treatment): a domain the stored
extraction cannot judge (no risk-of-bias statement stored, no CI stored) is the review's to
judge, not a reason to lower its rating. So a review rated "moderate" whose CI crosses the
MCID, or whose comparator pools sham with no treatment, can still come out lower.

A domain that could not be judged from the stored data says so (``assessed = False``, reason
"not assessed ..."): inconsistency without an I², publication bias without study-level data,
risk of bias without any stored statement or score (then the ``unknown_risk_of_bias``
assumption decides the step, and says it is an assumption).

Levels, bases and rating bases are the enums of :mod:`metaverdict.grade.levels`.

References
----------
The thresholds follow the GRADE guidance where it gives one: the optimal information size of
400 participants for a continuous outcome and the CI judged against the MCID (imprecision)
from GRADE guidelines 6; I² and the overlap of intervals (inconsistency) from GRADE
guidelines 7; Egger's test only from 10 studies, read at p < 0.10, from Sterne et al. 2011.
PEDro < 6 as serious risk of bias is a convention of physiotherapy reviews (6 or more read
as high quality), not a GRADE rule.

Guyatt GH, Oxman AD, Kunz R, et al. GRADE guidelines 6. Rating the quality of
evidence: imprecision. J Clin Epidemiol 2011;64(12):1283-1293.
doi:10.1016/j.jclinepi.2011.01.012

Guyatt GH, Oxman AD, Kunz R, et al. GRADE guidelines: 7. Rating the quality of
evidence: inconsistency. J Clin Epidemiol 2011;64(12):1294-1302.
doi:10.1016/j.jclinepi.2011.03.017

Sterne JAC, Sutton AJ, Ioannidis JPA, et al. Recommendations for examining and
interpreting funnel plot asymmetry in meta-analyses of randomised controlled trials. BMJ
2011;343:d4002. doi:10.1136/bmj.d4002
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Literal

from metaverdict._results import ResultMixin, format_table
from metaverdict.diagnostics.publication_bias import egger_test
from metaverdict.grade.body import Body, is_ratio
from metaverdict.grade.levels import Basis, Level, RatingBasis
from metaverdict.grade.mcid import MCIDMatch
from metaverdict.grade.review_rating import (
    PEDRO_SERIOUS_BELOW,
    heterogeneity_statement,
    pedro_scores,
    review_level,
    risk_of_bias_statement,
)
from metaverdict.models import MetaAnalysisResult

DOMAINS: tuple[str, ...] = ("risk of bias", "inconsistency", "indirectness", "imprecision",
                            "publication bias")
I2_SERIOUS_ABOVE = 50.0
OPTIMAL_INFORMATION_SIZE = 400
EGGER_MIN_K = 10
EGGER_ALPHA = 0.10


@dataclass(frozen=True, repr=False)
class Downgrade(ResultMixin):
    """One GRADE domain judgement: ``steps`` levels down (0 = not downgraded) and why."""

    domain: str
    steps: int
    reason: str
    assessed: bool = True
    _repr_fields = ("domain", "steps", "reason")


@dataclass(frozen=True, repr=False)
class Certainty(ResultMixin):
    """GRADE certainty of one body of evidence.

    Attributes
    ----------
    level : Level
        ``high``, ``moderate``, ``low`` or ``very low``.
    start : Level
        ``high`` (randomized trials).
    downgrades : tuple of Downgrade
        The domains that lowered the level (steps > 0), each with its reason.
    judgements : tuple of Downgrade
        Every domain's judgement, including those with 0 steps and "not assessed".
    assumptions : tuple of str
        Assumptions made where data were missing.
    basis : RatingBasis
        ``metaverdict rating`` or ``lower of the review's rating and metaverdict's checks``.
    review_text : str or None
        The stored certainty text of a review.
    notes : tuple of str
        Further remarks (e.g. how a review's rating text was read).
    review_level : Level or None
        The review's own GRADE level, where it states one.
    tool_level : Level or None
        metaverdict's own level from the domain checks.
    """

    level: Level
    start: Level
    downgrades: tuple[Downgrade, ...]
    judgements: tuple[Downgrade, ...]
    assumptions: tuple[str, ...]
    basis: RatingBasis
    review_text: str | None = None
    notes: tuple[str, ...] = ()
    review_level: Level | None = None
    tool_level: Level | None = None
    _repr_fields = ("level", "basis")

    @property
    def not_assessed(self) -> tuple[str, ...]:
        """The domains that could not be judged from the stored data."""
        return tuple(d.domain for d in self.judgements if not d.assessed)

    @property
    def reasons(self) -> list[str]:
        """The review's rating (where stated), then ``"domain (-steps): reason"`` per
        downgrade, then the domains not assessed."""
        out = []
        review = self.review_level is not None
        if review:
            out.append(f"review's own rating: {self.review_level} ({self.review_text!r}); "
                       f"metaverdict's checks: {self.tool_level}; the lower is used")
        for d in self.judgements:
            if d.steps and (d.assessed or not review):
                out.append(f"{d.domain} (-{d.steps}): {d.reason}")
            elif not d.assessed:
                out.append(f"{d.domain}: {d.reason}"
                           + (" (left to the review's rating)" if review and d.steps else ""))
        return out

    def summary(self) -> str:
        """The level, then one line per domain judgement."""
        head = f"Certainty: {self.level} ({self.basis}"
        head += (f": {self.review_text!r})"
                 if self.review_text and self.basis is not RatingBasis.TOOL else ")")
        rows = [[d.domain, f"-{d.steps}" if d.steps else "0", d.reason] for d in self.judgements]
        lines = [head]
        if rows:
            lines.append(format_table(["domain", "steps", "reason"], rows))
        lines += [f"assumption: {a}" for a in self.assumptions]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# -- domains ---------------------------------------------------------------------------
def _risk_of_bias(body: Body, unknown: str) -> tuple[Downgrade, str | None]:
    scores = pedro_scores(body.risk_of_bias)
    if scores:
        med = statistics.median(scores)
        shown = ", ".join(f"{s:g}" for s in scores)
        if med < PEDRO_SERIOUS_BELOW:
            return Downgrade("risk of bias", 1, f"PEDro {shown}/10 (median {med:g}) is below "
                             f"{PEDRO_SERIOUS_BELOW}/10"), None
        return Downgrade("risk of bias", 0, f"PEDro {shown}/10 (median {med:g}) is at least "
                         f"{PEDRO_SERIOUS_BELOW}/10"), None
    serious, why = risk_of_bias_statement(body.risk_of_bias)
    if serious is not None:
        return Downgrade("risk of bias", int(serious), str(why)), None
    stored = f" (stored: {'; '.join(body.risk_of_bias)})" if body.risk_of_bias else ""
    assumption = (f"not assessed: no risk-of-bias score or statement stored{stored}; assumed "
                  f"{'serious' if unknown == 'serious' else 'not serious'}")
    return (Downgrade("risk of bias", 1 if unknown == "serious" else 0, assumption, False),
            assumption)


def _inconsistency(body: Body) -> Downgrade:
    said = heterogeneity_statement(body.risk_of_bias + ((body.review_certainty,)
                                                        if body.review_certainty else ()))
    if said:
        return Downgrade("inconsistency", 1, f"the review downgraded for heterogeneity ({said!r})")
    if body.basis is Basis.SINGLE_TRIAL:
        return Downgrade("inconsistency", 0, "not applicable (single trial)")
    reasons = []
    if body.i2 is not None and body.i2 > I2_SERIOUS_ABOVE:
        reasons.append(f"I² = {body.i2:.0f}% > {I2_SERIOUS_ABOVE:.0f}%")
    null = 1.0 if is_ratio(body.measure) else 0.0
    if (body.k is not None and body.k >= 3 and body.pi_lower is not None
            and body.pi_upper is not None and body.has_ci
            and body.pi_lower <= null <= body.pi_upper
            and not (body.ci_lower <= null <= body.ci_upper)):        # type: ignore[operator]
        reasons.append(f"the 95% prediction interval [{body.pi_lower:.3g}, "
                       f"{body.pi_upper:.3g}] includes no effect although the CI excludes it")
    if reasons:
        return Downgrade("inconsistency", 1, "; ".join(reasons))
    if body.i2 is None:
        return Downgrade("inconsistency", 0, "not assessed (I² not stored for this result)",
                         False)
    return Downgrade("inconsistency", 0, f"I² = {body.i2:.0f}% <= {I2_SERIOUS_ABOVE:.0f}%")


def _indirectness(body: Body) -> Downgrade:
    if body.indirectness:
        return Downgrade("indirectness", 1, "; ".join(body.indirectness))
    return Downgrade("indirectness", 0, "none declared")


def _imprecision(body: Body, mcid: MCIDMatch | None, ois: int) -> Downgrade:
    n = body.n_total
    if not body.has_ci:
        what = ("only a bound on the SMD from a P-value" if body.smd_bound is not None else
                "only a P-value" if body.p_number is not None and body.estimate is None else
                "a point estimate without a CI" if body.estimate is not None else
                "only a direction")
        if n is None or n < ois:
            size = f"total N = {n} < {ois}" if n is not None else "total N not stored"
            return Downgrade("imprecision", 2, f"not assessable: no CI stored ({what}) and "
                             f"{size}", False)
        return Downgrade("imprecision", 1, f"not assessable: no CI stored ({what})", False)
    b, lo, hi = body.benefit()
    reasons, steps = [], 0
    if lo is not None and hi is not None:
        if lo <= 0 <= hi:
            reasons.append("the 95% CI includes no effect")
            steps = 1
        if mcid is not None:
            m = mcid.threshold
            if lo <= -m and hi >= m:
                reasons.append(f"the 95% CI includes both important benefit and important harm "
                               f"(MCID {mcid.value:g})")
                steps = 2
            elif lo < m < hi or lo < -m < hi:
                reasons.append(f"the 95% CI crosses the MCID ({mcid.value:g})")
                steps = max(steps, 1)
        else:
            reasons.append("no MCID for this scale: judged against no effect only")
    if not is_ratio(body.measure):
        if n is not None and n < ois:
            reasons.append(f"total N = {n} < {ois} (optimal information size for a "
                           "continuous outcome)")
            steps = max(steps, 1)
        elif n is None:
            reasons.append("optimal information size not assessed (total N not stored)")
    else:
        reasons.append("optimal information size not assessed (event counts not stored)")
    if steps == 0:
        return Downgrade("imprecision", 0, "; ".join(["CI excludes no effect and the MCID"]
                                                      + reasons))
    return Downgrade("imprecision", steps, "; ".join(reasons))


def _publication_bias(body: Body) -> Downgrade:
    if body.meta is None:
        why = ("a review's pooled result (study-level data not stored)"
               if body.basis is Basis.REVIEW else "a single trial")
        return Downgrade("publication bias", 0, f"not assessed ({why})", False)
    if body.meta.k < EGGER_MIN_K:
        return Downgrade("publication bias", 0,
                         f"not assessed (k = {body.meta.k} < {EGGER_MIN_K})", False)
    test = egger_test(body.meta)
    adjusted = _selection_text(body.meta)
    if test.pvalue < EGGER_ALPHA:
        return Downgrade("publication bias", 1, f"Egger's test p = {test.pvalue:.3f} < "
                         f"{EGGER_ALPHA} (small-study effects); {adjusted}")
    return Downgrade("publication bias", 0,
                     f"Egger's test p = {test.pvalue:.3f} >= {EGGER_ALPHA}; {adjusted}")


def _selection_text(meta: MetaAnalysisResult) -> str:
    """The 3PSM-adjusted estimate beside Egger's test (a sensitivity analysis, never a step)."""
    from metaverdict.models.selection import selection_adjusted
    adj = selection_adjusted(meta)
    if not adj.estimable:
        return f"selection model (3PSM) not estimable: {adj.reason}"
    return (f"selection-model (3PSM) adjusted estimate {adj.estimate:.2f} (95% CI "
            f"{adj.ci_lower:.2f} to {adj.ci_upper:.2f}) vs {adj.unadjusted_estimate:.2f} "
            "unadjusted")


# -- entry point -----------------------------------------------------------------------
def rate_certainty(body: Body, mcid: MCIDMatch | None = None, *,
                   unknown_risk_of_bias: Literal["serious", "not serious"] = "serious",
                   optimal_information_size: int = OPTIMAL_INFORMATION_SIZE) -> Certainty:
    """Rate the certainty of a body of evidence (rules in the module docstring).

    Parameters
    ----------
    body : Body
        The body of evidence.
    mcid : MCIDMatch, optional
        The MCID for the body's measure (imprecision is then judged against it as well).
    unknown_risk_of_bias : {"serious", "not serious"}
        What to assume when no risk-of-bias information is stored.
    optimal_information_size : int
        Total N below which a continuous outcome is imprecise.

    Returns
    -------
    Certainty
    """
    rob, assumption = _risk_of_bias(body, unknown_risk_of_bias)
    judgements = (rob, _inconsistency(body), _indirectness(body),
                  _imprecision(body, mcid, optimal_information_size), _publication_bias(body))
    tool = Level.HIGH.lowered(sum(d.steps for d in judgements))
    judged = Level.HIGH.lowered(sum(d.steps for d in judgements if d.assessed))
    notes: tuple[str, ...] = ()
    review, basis, level = None, RatingBasis.TOOL, tool
    if body.review_certainty:
        review, note = review_level(body.review_certainty, body.outcome)
        if review is None:
            note = note or f"stored quality text {body.review_certainty!r} is not a GRADE level"
        notes = tuple(n for n in (note,) if n)
    if review is not None and body.basis is Basis.REVIEW:
        basis = RatingBasis.LOWER_OF_REVIEW
        tool = judged
        level = Level.lower_of(review, tool)
    else:
        review = None
    return Certainty(level, Level.HIGH, tuple(d for d in judgements if d.steps), judgements,
                     (assumption,) if assumption else (), basis, body.review_certainty, notes,
                     review, tool)
