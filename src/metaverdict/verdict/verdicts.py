"""Verdicts: a body of evidence judged against the MCID, with its certainty and a sentence.

The rules are in :mod:`metaverdict.verdict.rules` (module docstring); :func:`verdict_for`
picks the rule that the available numbers allow (CI, point estimate with P-value, |SMD|
bound, or P-value/direction only) and records in ``reasons`` what missing numbers cost.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metaverdict._results import ResultMixin, fmt
from metaverdict.grade.body import Body, is_ratio
from metaverdict.grade.certainty import Certainty
from metaverdict.grade.mcid import MCIDMatch
from metaverdict.verdict.claims import Claim
from metaverdict.verdict.rules import (CATEGORIES, Judgement, classify_interval, classify_point,
                                       classify_smd_bound)

OPINION_ONLY = CATEGORIES[-1]
_DIRECTIONS = {"favours-treatment": "benefit", "favours-comparator": "harm",
               "no-significant-difference": "none"}


@dataclass(frozen=True, repr=False)
class Verdict(ResultMixin):
    """The verdict on one body of evidence (or on an opinion without trial evidence).

    Attributes
    ----------
    claim : Claim
        Treatment, comparator, condition, outcome, window.
    category : str
        One of :data:`metaverdict.verdict.rules.CATEGORIES`.
    direction : str
        ``benefit``, ``harm``, ``none`` (no significant difference) or ``unknown``.
    statistically_significant, clinically_important : bool or None
        None where the data cannot tell.
    rule : str
        The rule that decided the category, with the numbers.
    reasons : tuple of str
        What the verdict rests on and what missing numbers cost.
    statement : str
        GRADE-style sentence (see :mod:`metaverdict.verdict.wording`).
    label, timepoint, day : str, str, float
        What distinguishes this body (instrument/site), the timepoint as reported, and a day
        count to order a time course by (inf when unknown).
    effect : str
        The effect as text (measure, estimate, CI, or P-value/bound).
    mcid : MCIDMatch or None
    certainty : Certainty or None
    body : Body or None
        The evidence (None for an opinion-only verdict).
    sources : tuple of str
        Source keys; ``dois`` their DOIs where known.
    """

    claim: Claim
    category: str
    direction: str
    statistically_significant: bool | None
    clinically_important: bool | None
    rule: str
    reasons: tuple[str, ...]
    statement: str
    label: str
    timepoint: str
    day: float
    effect: str
    mcid: MCIDMatch | None
    certainty: Certainty | None
    sources: tuple[str, ...]
    dois: tuple[str, ...]
    body: Body | None = field(default=None, compare=False)
    _repr_fields = ("claim", "category", "timepoint")

    @property
    def level(self) -> str | None:
        """The certainty level, or None for an opinion."""
        return self.certainty.level if self.certainty else None

    def summary(self) -> str:
        """Claim, category, effect, MCID, certainty with reasons, statement."""
        lines = [f"{self.claim.describe()} — {self.label} [{self.timepoint}]",
                 f"verdict: {self.category} ({self.rule})",
                 f"effect: {self.effect}"]
        if self.mcid is not None:
            lines.append(self.mcid.describe())
        if self.certainty is not None:
            lines.append(f"certainty: {self.certainty.level}; "
                         + "; ".join(self.certainty.reasons or ["no downgrades"]))
        lines += [f"- {r}" for r in self.reasons]
        lines.append(self.statement)
        return "\n".join(lines)

    def row(self) -> dict[str, Any]:
        """One flat summary-of-findings row (for tables and reports)."""
        return {"treatment": self.claim.treatment, "comparator": self.claim.comparator,
                "condition": self.claim.condition, "outcome": self.claim.outcome,
                "window": self.claim.window, "timepoint": self.timepoint, "label": self.label,
                "effect": self.effect,
                "mcid": self.mcid.describe() if self.mcid else "none for this scale",
                "certainty": self.level or "", "certainty_reasons":
                    "; ".join(self.certainty.reasons) if self.certainty else "",
                "category": self.category, "direction": self.direction,
                "statement": self.statement, "sources": ", ".join(self.sources)}


def effect_text(body: Body) -> str:
    """The effect as reported/derived: ``SMD -0.70 (95% CI -1.06 to -0.34)``, a bound, a
    P-value or a direction."""
    p = f"P {body.p_relation} {body.p_number:g}" if body.p_number is not None else ""
    if body.estimate is not None:
        text = f"{body.measure} {fmt(body.estimate, 2)}"
        if body.has_ci:
            text += f" (95% CI {fmt(body.ci_lower, 2)} to {fmt(body.ci_upper, 2)})"
        elif body.ci_lower is not None or body.ci_upper is not None:
            text += " (CI incomplete)"
        if body.basis == "pooled primary trials" and body.k:
            text += f"; pooled here, k = {body.k}"
        return text + (f"; {p}" if p else "")
    if body.smd_bound is not None:
        return (f"{p}; |SMD| {body.smd_bound_relation} {body.smd_bound:.2f} (a bound derived "
                "from the P-value and group sizes, not an estimate)")
    if p:
        return f"{p} (no estimate reported)"
    if body.direction_reported:
        return f"{body.direction_reported} (direction stated, no numbers)"
    return "no numbers"


def _judge(body: Body, mcid: MCIDMatch | None) -> tuple[Judgement, list[str]]:
    reasons: list[str] = []
    m = mcid.threshold if mcid else None
    stated = _DIRECTIONS.get(body.direction_reported or "")
    if body.lower_is_better is None and body.estimate is not None:
        return Judgement("inconclusive", "unknown", None, None,
                         "the outcome's direction (lower or higher is better) is unknown"), reasons
    b, lo, hi = body.benefit()
    if b is not None and lo is not None and hi is not None:
        return classify_interval(b, lo, hi, m), reasons
    if b is not None:
        sig = body.p_significant()
        if sig is None and stated in ("benefit", "harm") and stated == ("benefit" if b > 0 else "harm"):
            sig = True
            reasons.append("significance taken from the source's statement of direction")
        elif sig is None and stated == "none":
            sig = False
        reasons.append("no CI reported: importance judged from the point estimate alone")
        return classify_point(b, sig, m), reasons
    if body.smd_bound is not None and body.smd_bound_relation:
        reasons.append("no means or SDs reported: the SMD is bounded from the P-value and the "
                       "group sizes (two-sided z-test approximation; for a t-test the true "
                       "bound is slightly larger), so raw-scale importance cannot be judged")
        if m is not None and body.smd_bound_relation == ">=" and abs(body.smd_bound - m) < 0.1 * m:
            reasons.append(f"the bound {body.smd_bound:.3f} is within 10% of the SMD MCID {m:g}: "
                           "the importance call rests on the approximation")
        return classify_smd_bound(body.smd_bound_relation, body.smd_bound, stated, m,
                                  body.n_treatment, body.n_control), reasons
    sig = body.p_significant()
    if sig is None and stated is not None:
        sig = stated != "none"
    d = stated or "unknown"
    if sig is False:
        d = "none"
        reasons.append("a non-significant P-value is not evidence of no difference: without "
                       "an estimate and CI an important difference cannot be excluded")
        return Judgement("inconclusive", d, False, None, "not significant; no estimate"), reasons
    return Judgement("inconclusive", d, sig, None,
                     f"{d if sig else 'result'} stated without an estimate: size unknown"), reasons


def verdict_for(body: Body, mcid: MCIDMatch | None, certainty: Certainty) -> Verdict:
    """Judge a body of evidence against its MCID.

    Parameters
    ----------
    body : Body
        The evidence.
    mcid : MCIDMatch or None
        The MCID for the body's measure (for an |SMD| bound: the SMD MCID).
    certainty : Certainty
        From :func:`metaverdict.grade.rate_certainty`.

    Returns
    -------
    Verdict
    """
    from metaverdict.verdict.wording import statement

    j, reasons = _judge(body, mcid)
    if mcid is None and body.estimate is not None:
        reasons.append(f"no MCID for {body.measure} on scale {body.outcome_scale!r} "
                       f"({body.outcome_instrument}): only direction and significance judged")
    if mcid is not None and mcid.assumption:
        reasons.append(mcid.assumption)
    if is_ratio(body.measure) and mcid is not None:
        reasons.append(f"ratio judged on the log scale against ln({mcid.value:g})")
    reasons += list(body.notes)
    claim = Claim.of(body)
    v = Verdict(claim, j.category, j.direction, j.significant, j.important, j.rule,
                tuple(reasons), "", body.label, body.timepoint_raw, body.day_order,
                effect_text(body), mcid, certainty, body.source_ids, body.dois, body)
    return _with_statement(v, statement(v))


def _with_statement(v: Verdict, text: str) -> Verdict:
    from dataclasses import replace
    return replace(v, statement=text)


def opinion_verdict(opinion: Any, *, comparator: str = "any") -> Verdict:
    """An opinion-only verdict for an :class:`~metaverdict.evidence.OpinionRow` whose
    treatment and condition have no trial results in the store."""
    claim = Claim(opinion.treatment or "unspecified", comparator, opinion.condition or
                  "unspecified", "any", "any")
    text = (f"No trial evidence: the store holds no trial result for {claim.treatment} in "
            f"{claim.condition}; the only support is expert opinion ({opinion.expert}: "
            f"\"{opinion.claim}\").")
    return Verdict(claim, OPINION_ONLY, "unknown", None, None,
                   "no trial results for this treatment and condition; opinion only",
                   (f"opinion source: {opinion.citation}",), text, "expert opinion", "any",
                   float("inf"), "no numbers", None, None, (opinion.source_id,),
                   tuple(d for d in (opinion.doi,) if d), None)
