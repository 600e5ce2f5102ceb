"""Verdicts: a body of evidence judged against the MCID, with its certainty and a sentence.

The rules are in :mod:`metaverdict.verdict.rules` (module docstring); :func:`verdict_for`
picks the rule that the available numbers allow (CI, point estimate with P-value, |SMD|
bound, or P-value/direction only) and records in ``reasons`` what missing numbers cost.
"""
from __future__ import annotations

from dataclasses import replace

from metaverdict._results import fmt, fmt_p_relation
from metaverdict.evidence.queries import OpinionRow
from metaverdict.grade.body import Body, is_ratio
from metaverdict.grade.certainty import Certainty
from metaverdict.grade.levels import Basis
from metaverdict.grade.mcid import BORDERLINE_FRACTION, MCIDMatch
from metaverdict.verdict.claims import Claim
from metaverdict.verdict.record import Verdict
from metaverdict.verdict.rules import (
    Category,
    Direction,
    Judgement,
    classify_interval,
    classify_point,
    classify_smd_bound,
)
from metaverdict.verdict.wording import statement

__all__ = ["OPINION_ONLY", "Verdict", "effect_text", "opinion_verdict", "verdict_for"]

OPINION_ONLY = Category.OPINION_ONLY
#: A source's stated direction (``direction_reported``) as a verdict direction.
_DIRECTIONS: dict[str, Direction] = {"favours-treatment": Direction.BENEFIT,
                                     "favours-comparator": Direction.HARM,
                                     "no-significant-difference": Direction.NONE}


_STATED = {"favours-treatment": "favours the treatment",
           "favours-comparator": "favours the comparator",
           "no-significant-difference": "no significant difference"}


def _favours(body: Body) -> str:
    b, _, _ = body.benefit()
    if b is None or body.measure == "NNT":
        return ""
    return (f", favours {body.treatment}" if b > 0 else ", favours the comparator" if b < 0
            else "")


def effect_text(body: Body) -> str:
    """The effect as the source reported it (its own sign, then which side it favours), a
    harmonised one where the sign convention differs, a bound, a P-value or a direction:
    ``SMD -0.70 (95% CI -1.06 to -0.34), favours dry needling``."""
    p = fmt_p_relation(body.p_relation, body.p_number) if body.p_number is not None else ""
    if body.estimate is not None:
        num = (lambda x: f"{x:g}") if body.measure == "NNT" else (lambda x: fmt(x, 2))
        text = f"{body.measure} {num(body.estimate)}"
        if body.has_ci:
            text += f" (95% CI {num(body.ci_lower)} to {num(body.ci_upper)})"
        elif body.ci_lower is not None or body.ci_upper is not None:
            text += " (CI incomplete)"
        if body.reported:
            text = f"{body.reported} as reported (treatment minus comparator: {text})"
        text += _favours(body)
        if body.basis is Basis.POOLED_TRIALS and body.k:
            text += f"; pooled here, k = {body.k}"
        return text + (f"; {p}" if p else "")
    if body.smd_bound is not None:
        rel = "\u2265" if body.smd_bound_relation == ">=" else body.smd_bound_relation
        return (f"{p}; |SMD| {rel} {body.smd_bound:.2f} (a bound derived from the P-value and "
                "group sizes, not an estimate)")
    if p:
        return f"{p} (no estimate reported)"
    stated = _STATED.get(body.direction_reported or "", body.direction_reported)
    if body.reported:
        return body.reported + (f"; {stated} (as the source states)" if stated else "")
    if stated:
        return f"{stated} (stated; no numbers)"
    return "measured, result not reported"


def _nnt(body: Body, stated: Direction | None) -> Judgement:
    """A number needed to treat with its CI: a benefit when the source says the treatment
    did better and the CI is finite and positive (it does not cross 'no effect' at infinity)."""
    lo, hi = body.ci_lower, body.ci_upper
    if stated is Direction.BENEFIT and lo is not None and hi is not None and 0 < lo <= hi:
        return Judgement(Category.BENEFIT_SIZE_UNCERTAIN, Direction.BENEFIT, True, None,
                         f"NNT {fmt(body.estimate, 3)} (95% CI {fmt(lo, 3)} to {fmt(hi, 3)}) is "
                         "finite: a significant benefit in responders; a responder NNT has no "
                         "MCID of its own, so its absolute effect is shown instead")
    return Judgement(Category.INCONCLUSIVE, stated or Direction.UNKNOWN, None, None,
                     "NNT without a finite CI or a stated direction")


def _authors_below_mid(body: Body, j: Judgement) -> tuple[Judgement, str | None]:
    """The trial's authors state the difference was below their minimal important difference:
    an 'important' category is lowered to 'below the MCID'."""
    text = (body.stated_mid_text or "").lower()
    if "lower than the minimal important difference" not in text or not j.important:
        return j, None
    d = j.direction
    return (Judgement(Category.below_mcid(d), d, j.significant, False,
                      j.rule + "; the trial's authors state the difference was lower than "
                               "their minimal important difference"),
            "the trial's own minimal important difference decides importance: "
            f"{body.stated_mid_text!r}")


def _judge(body: Body, mcid: MCIDMatch | None) -> tuple[Judgement, list[str]]:
    j, reasons = _judge_numbers(body, mcid)
    j, why = _authors_below_mid(body, j)
    if why:
        reasons.append(why)
    return j, reasons


def _judge_numbers(body: Body, mcid: MCIDMatch | None) -> tuple[Judgement, list[str]]:
    reasons: list[str] = []
    m = mcid.threshold if mcid else None
    stated = _DIRECTIONS.get(body.direction_reported or "")
    if body.measure == "NNT":
        return _nnt(body, stated), reasons
    if body.lower_is_better is None and body.estimate is not None:
        return Judgement(Category.INCONCLUSIVE, Direction.UNKNOWN, None, None,
                         "the outcome's direction (lower or higher is better) is unknown"), reasons
    b, lo, hi = body.benefit()
    if b is not None and lo is not None and hi is not None:
        return classify_interval(b, lo, hi, m), reasons
    if b is not None:
        sig = body.p_significant()
        if (sig is None and stated in (Direction.BENEFIT, Direction.HARM)
                and stated is (Direction.BENEFIT if b > 0 else Direction.HARM)):
            sig = True
            reasons.append("significance taken from the source's statement of direction")
        elif sig is None and stated is Direction.NONE:
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
        sig = stated is not Direction.NONE
    d = stated or Direction.UNKNOWN
    if sig is False:
        reasons.append("a non-significant result is not evidence of no difference: without "
                       "an estimate and CI an important difference cannot be excluded")
        return Judgement(Category.NO_SIGNIFICANT_DIFFERENCE, Direction.NONE, False, None,
                         "not significant (as the source states it); no estimate"), reasons
    if sig and d in (Direction.BENEFIT, Direction.HARM):
        return Judgement(Category.size_uncertain(d), d, True, None,
                         f"a significant {d} stated without an estimate and CI: size "
                         "unknown"), reasons
    return Judgement(Category.INCONCLUSIVE, d, sig, None,
                     "result stated without an estimate or its significance"), reasons


def _borderline(body: Body, mcid: MCIDMatch | None) -> str | None:
    """A note when the estimate lies within ±10% of the MCID (a knife-edge verdict)."""
    b, _, _ = body.benefit()
    if b is None or mcid is None:
        return None
    m = mcid.threshold
    if abs(abs(b) - m) <= BORDERLINE_FRACTION * m:
        return (f"borderline: the estimate is within {BORDERLINE_FRACTION:.0%} of the MCID "
                f"({mcid.value:g}); a slightly different threshold would change the category")
    return None


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

    j, reasons = _judge(body, mcid)
    if mcid is None and body.estimate is not None:
        reasons.append(f"no MCID for {body.measure} on scale {body.outcome_scale!r} "
                       f"({body.outcome_instrument}): only direction and significance judged")
    if mcid is not None and mcid.assumption:
        reasons.append(mcid.assumption)
    if is_ratio(body.measure) and mcid is not None:
        reasons.append(f"ratio judged on the log scale against ln({mcid.value:g})")
    edge = _borderline(body, mcid)
    if edge:
        reasons.append(edge)
    reasons += list(body.notes)
    claim = Claim.of(body)
    v = Verdict(claim, j.category, j.direction, j.significant, j.important, j.rule,
                tuple(reasons), "", body.label, body.timepoint_raw, body.day_order,
                effect_text(body), mcid, certainty, body.source_ids, body.dois, body,
                borderline=edge is not None)
    return replace(v, statement=statement(v))


def opinion_verdict(opinion: OpinionRow, *, comparator: str = "any") -> Verdict:
    """An opinion-only verdict for an :class:`~metaverdict.evidence.OpinionRow` whose
    treatment and condition have no trial results in the store."""
    claim = Claim(opinion.treatment or "unspecified", comparator, opinion.condition or
                  "unspecified", "any", "any")
    text = (f"No trial evidence: the store holds no trial result for {claim.treatment} in "
            f"{claim.condition}; the only support is expert opinion ({opinion.expert}: "
            f"\"{opinion.claim}\").")
    return Verdict(claim, OPINION_ONLY, Direction.UNKNOWN, None, None,
                   "no trial results for this treatment and condition; opinion only",
                   (f"opinion source: {opinion.citation}",), text, "expert opinion", "any",
                   float("inf"), "no numbers", None, None, (opinion.source_id,),
                   tuple(d for d in (opinion.doi,) if d), None)
