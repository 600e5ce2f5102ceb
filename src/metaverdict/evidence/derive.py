"""Quantities derived from reported numbers, each with the sentence that says how.

The statistics themselves (SE from a CI, the |SMD| bound from a P-value) are
:mod:`metaverdict.effects.conversions`'; this module applies them to a stored row and writes
the sentence that records the derivation:

* sign harmonisation: treatment minus comparator (or treatment/comparator for ratios);
* SE from a symmetric 95% CI: ``(upper - lower) / (2 * 1.959964)``, on the log scale for ratios;
* a difference of reported arm values (means, mean changes, percentages);
* a bound on |SMD| from a P-value bound and the arm sizes, assuming a two-sided z-test of a
  standardized mean difference with ``var(d) ~ 1/n1 + 1/n2`` (the large-sample variance
  without the ``d^2 / (2 (n1 + n2))`` term): ``P <= p`` gives ``|d| >= z_{p/2} sqrt(1/n1 + 1/n2)``
  and ``P > p`` gives ``|d| < z_{p/2} sqrt(1/n1 + 1/n2)``. It is a bound, never an estimate.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

from metaverdict.effects.conversions import se_from_ci as _se_from_ci
from metaverdict.effects.conversions import smd_bound_from_p as _smd_bound
from metaverdict.evidence.vocabulary import RATIO_MEASURES


@dataclass(frozen=True)
class Harmonised:
    """Harmonised estimate and CI, the measure they are on, and how they were obtained."""

    measure: str | None
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None
    how: str | None


def harmonise(measure: str, effect_measure: str, estimate: float | None,
              ci_lower: float | None, ci_upper: float | None, convention: str) -> Harmonised:
    """Put a reported estimate on the treatment-minus-comparator (or ratio) scale.

    Parameters
    ----------
    measure : str
        Normalised measure (``SMD``, ``MD``, ``RR``...).
    effect_measure : str
        The measure as reported (kept as the harmonised measure's label when unclear).
    estimate, ci_lower, ci_upper : float or None
        As reported.
    convention : str
        ``treatment-minus-comparator``, ``comparator-minus-treatment``,
        ``treatment-over-comparator``, ``not-signed`` or ``unknown``.
    """
    if estimate is None or convention in ("not-signed", "unknown", "no-estimate"):
        return Harmonised(None, None, None, None, None)
    label = effect_measure if measure in ("unclear", "other") else measure
    if convention == "comparator-minus-treatment":
        lo = None if ci_upper is None else -ci_upper
        hi = None if ci_lower is None else -ci_lower
        return Harmonised(label, -estimate, lo, hi,
                          "harmonised = -estimate (CI negated and swapped): the source reports "
                          "comparator minus treatment")
    how = ("harmonised = estimate: the source reports treatment/comparator"
           if convention == "treatment-over-comparator"
           else "harmonised = estimate: the source reports treatment minus comparator")
    return Harmonised(label, estimate, ci_lower, ci_upper, how)


def favours_treatment_when(harmonised_measure: str | None,
                           lower_is_better: bool | None) -> str | None:
    """The side of the null on which the harmonised estimate favours the treatment."""
    if harmonised_measure is None or lower_is_better is None:
        return None
    if harmonised_measure in RATIO_MEASURES:
        return "harmonised < 1" if lower_is_better else "harmonised > 1"
    return "harmonised < 0" if lower_is_better else "harmonised > 0"


def se_from_ci(measure: str, ci_lower: float | None,
               ci_upper: float | None) -> tuple[float | None, str | None]:
    """SE from a 95% CI, on the log scale for ratio measures; (None, None) if not derivable."""
    if (ci_lower is None or ci_upper is None or ci_upper <= ci_lower
            or measure not in ("SMD", "MD", *RATIO_MEASURES)):
        return None, None
    if measure in RATIO_MEASURES:
        if ci_lower <= 0:
            return None, None
        return (float(_se_from_ci(ci_lower, ci_upper, log_scale=True)),
                "se = (ln ci_upper - ln ci_lower) / (2 * 1.959964): SE of ln(ratio) from the "
                "95% CI")
    return (float(_se_from_ci(ci_lower, ci_upper)),
            "se = (ci_upper - ci_lower) / (2 * 1.959964) from the 95% CI")


def ci_asymmetry_note(estimate: float | None, ci_lower: float | None,
                      ci_upper: float | None) -> str | None:
    """A warning when the estimate is far from the CI midpoint (difference measures)."""
    if estimate is None or ci_lower is None or ci_upper is None or ci_upper <= ci_lower:
        return None
    mid = (ci_lower + ci_upper) / 2
    if abs(estimate - mid) > 0.1 * (ci_upper - ci_lower):
        return (f"warning: CI is asymmetric around the estimate (midpoint {mid:.4g} vs "
                f"estimate {estimate:.4g}); an SE from its width would be doubtful")
    return None


def arm_difference(effect_measure: str, treatment: float | None, control: float | None,
                   percent: bool) -> Harmonised:
    """Difference of reported arm values, treatment minus comparator.

    Used for group-level rows (arm means, mean changes, follow-up means, percentages) where
    the source gives both arms but no between-group estimate. No CI: the arm SDs and sizes
    needed for one are not all reported in those rows.
    """
    if treatment is None or control is None:
        return Harmonised(None, None, None, None, None)
    diff = round(treatment - control, 10)
    if percent:
        label = ("MD (percentage points, derived)" if "improvement" in effect_measure
                 else "RD (percentage points, derived)")
        how = (f"harmonised = {treatment:g}% - {control:g}% = {diff:g} percentage points "
               "(treatment minus comparator, from the reported arm percentages; no CI)")
    else:
        label = "MD (derived)"
        how = (f"harmonised = {treatment:g} - {control:g} = {diff:g} (treatment minus "
               f"comparator, from the reported arm values: {effect_measure}; no CI)")
    return Harmonised(label, diff, None, None, how)


def smd_bound_from_p(relation: str, p: float, n1: int, n2: int) -> tuple[str, float, str] | None:
    """Bound on |SMD| implied by a P-value bound and the arm sizes.

    Returns
    -------
    tuple or None
        ``(relation, bound, how)`` with relation ``">="`` (from ``P <= p`` or ``P < p``) or
        ``"<"`` (from ``P > p`` or ``P >= p``); None for an exact P-value.
    """
    if relation in ("<=", "<"):
        out = ">="
    elif relation in (">", ">="):
        out = "<"
    else:
        return None
    z = NormalDist().inv_cdf(1 - p / 2)
    bound = _smd_bound(p, n1, n2)
    how = (f"bound |SMD| {out} z_(p/2) * sqrt(1/n1 + 1/n2) = {z:.4f} * sqrt(1/{n1} + 1/{n2}) "
           f"= {bound:.4f} from P {relation} {p:g} (two-sided z-test, var(d) ~ 1/n1 + 1/n2; "
           "a bound, not an estimate)")
    return out, bound, how
