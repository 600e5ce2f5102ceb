"""Verdict rules at and around the MCID, for lower-is-better (pain) and higher-is-better
(function) outcomes. M = 1.0 (pain 0-10 MD, Salaffi 2004) and 10.2 (DASH) from the table."""
from __future__ import annotations

import pytest

from metaverdict.grade import Body, MCIDTable, rate_certainty
from metaverdict.verdict import verdict_for
from metaverdict.verdict.rules import classify_interval, classify_point, classify_smd_bound

T = MCIDTable.bundled()
M = T.get("pain", "0-10", "MD").value
EPS = 1e-9


def pain(est, lo, hi, **kw) -> Body:
    """Pain MD on 0-10: treatment minus comparator; negative = benefit."""
    return Body("t", "sham", "c", "pain", "short", "single trial", measure="MD",
                outcome_scale="0-10", lower_is_better=True, estimate=est, ci_lower=lo,
                ci_upper=hi, **kw)


def function(est, lo, hi) -> Body:
    """Function on a higher-is-better 0-10 scale mapped to the same MCID via an override."""
    return Body("t", "sham", "c", "function", "short", "single trial", measure="MD",
                outcome_scale="0-10", lower_is_better=False, estimate=est, ci_lower=lo, ci_upper=hi)


FUNC_T = T.with_overrides({("function", "0-10", "MD"): M})


def judge(b: Body, table: MCIDTable = T) -> str:
    m = table.lookup(b.outcome, b.measure, scale=b.outcome_scale)
    return verdict_for(b, m, rate_certainty(b, m)).category


# (benefit-scale estimate, lo, hi, expected category)
CASES = [
    (M, 0.1, 2.0, "important benefit"),               # exactly at the MCID
    (M + EPS, 0.1, 2.0, "important benefit"),
    (M - EPS, 0.1, 2.0, "benefit below the MCID"),
    (0.5, EPS, 1.0, "benefit below the MCID"),           # CI just excludes 0
    # lo <= 0 <= hi and the CI reaches -M or +M (hi >= M or lo <= -M): not significant, an
    # important difference not excluded -> "no significant difference" (rules.py docstring)
    (0.5, 0.0, 1.0, "no significant difference"),      # CI touches 0, hi = 1.0 = M
    (0.3, 0.0, 0.9, "no important difference"),        # touches 0, inside ±M
    (0.0, -M + EPS, M - EPS, "no important difference"),
    (0.0, -M, M - EPS, "no significant difference"),   # CI touches -M: lo = -M, not > -M
    (0.0, -M + EPS, M, "no significant difference"),   # CI touches +M: hi = M, not < M
    (-M, -2.0, -0.1, "important harm"),
    (-M + EPS, -2.0, -0.1, "harm below the MCID"),
    (-0.5, -1.0, -EPS, "harm below the MCID"),
    (1.5, -0.1, 3.0, "no significant difference"),     # important estimate, CI crosses 0
]


@pytest.mark.parametrize("b, lo, hi, want", CASES)
def test_pain_lower_is_better(b, lo, hi, want):
    # benefit b on pain means treatment minus comparator = -b; CI negated and swapped
    assert judge(pain(-b, -hi, -lo)) == want


@pytest.mark.parametrize("b, lo, hi, want", CASES)
def test_function_higher_is_better(b, lo, hi, want):
    assert judge(function(b, lo, hi), FUNC_T) == want


def test_pain_signs_are_not_confused():
    assert judge(pain(-2.0, -3.0, -1.5)) == "important benefit"    # less pain
    assert judge(pain(2.0, 1.5, 3.0)) == "important harm"          # more pain
    assert judge(function(2.0, 1.5, 3.0), FUNC_T) == "important benefit"


def test_classify_interval_without_mcid():
    # significant (CI excludes 0) but no MCID: the size cannot be judged
    j = classify_interval(2.0, 1.0, 3.0, None)
    assert j.category == "benefit, size uncertain" and j.direction == "benefit" and j.significant
    j = classify_interval(-2.0, -3.0, -1.0, None)
    assert j.category == "harm, size uncertain" and j.direction == "harm" and j.significant
    # CI includes 0 and no MCID: an important difference cannot be excluded
    j = classify_interval(0.1, -1.0, 1.2, None)
    assert j.category == "no significant difference" and j.direction == "none"
    assert j.significant is False


def test_point_estimate_rules():
    assert classify_point(M, True, M).category == "important benefit"
    assert classify_point(M - EPS, True, M).category == "benefit below the MCID"
    assert classify_point(-M, True, M).category == "important harm"
    # not significant, no CI: an important difference is not excluded
    assert classify_point(-3.0, False, M).category == "no significant difference"
    # significance unknown: still inconclusive
    assert classify_point(-3.0, None, M).category == "inconclusive"
    # significant, but no MCID for the outcome
    assert classify_point(3.0, True, None).category == "benefit, size uncertain"
    assert classify_point(-3.0, True, None).category == "harm, size uncertain"


def test_point_estimate_uses_p_value():
    b = pain(-1.5, None, None, p_relation="=", p_number=0.049)
    assert judge(b) == "important benefit"
    # P = 0.05 is not < 0.05: not significant, no CI -> no significant difference
    assert judge(pain(-1.5, None, None, p_relation="=", p_number=0.05)) == \
        "no significant difference"
    # no usable P-value and no CI: significance unknown
    assert judge(pain(-1.5, None, None)) == "inconclusive"


def test_smd_bound_rules():
    m = 0.5
    # h = 1.959964 * sqrt(1/28 + 1/34) = 1.959964 * sqrt(0.0357143 + 0.0294118)
    #   = 1.959964 * 0.255198 = 0.50018 (approximate 95% CI half-width at the bound)
    # B = 0.5:  B - h = -0.0002 < M -> the bound is not an important harm
    assert classify_smd_bound(">=", m, "harm", m, 28, 34).category == "harm, size uncertain"
    # B = 0.8:  B - h = 0.2998 < M
    assert classify_smd_bound(">=", 0.8, "benefit", m, 28, 34).category == \
        "benefit, size uncertain"
    # B = 1.1:  B - h = 0.5998 >= M -> important
    assert classify_smd_bound(">=", 1.1, "harm", m, 28, 34).category == "important harm"
    assert classify_smd_bound(">=", 1.1, "benefit", m, 28, 34).category == "important benefit"
    # n 1000/1000: h = 1.959964 * sqrt(0.002) = 0.087652; B - h >= 0.5 iff B >= 0.587652
    assert classify_smd_bound(">=", 0.59, "benefit", m, 1000, 1000).category == \
        "important benefit"
    assert classify_smd_bound(">=", 0.58, "benefit", m, 1000, 1000).category == \
        "benefit, size uncertain"
    # no MCID or no group sizes: the size cannot be judged
    assert classify_smd_bound(">=", 1.1, "harm", None, 28, 34).category == "harm, size uncertain"
    assert classify_smd_bound(">=", 1.1, "harm", m, None, None).category == \
        "harm, size uncertain"
    # direction unknown: inconclusive
    assert classify_smd_bound(">=", 1.1, None, m, 28, 34).category == "inconclusive"
    # |d| < B with P > 0.05: the CI reaches at most B + h
    # B = 0.1, n 1000/1000: B + h = 0.1877 < M -> no important difference
    assert classify_smd_bound("<", 0.1, None, m, 1000, 1000).category == "no important difference"
    # B = 0.5, n 28/34: B + h = 1.0002 >= M -> no significant difference
    assert classify_smd_bound("<", 0.5, None, m, 28, 34).category == "no significant difference"
    assert classify_smd_bound("<", 0.1, None, None, 1000, 1000).category == \
        "no significant difference"


def test_stated_direction_without_numbers():
    def stated(direction=None, **kw) -> Body:
        return pain(None, None, None, direction_reported=direction, **kw)
    # a significant direction without an estimate: the size cannot be set against the MCID
    assert judge(stated("favours-treatment", p_relation="<", p_number=0.05)) == \
        "benefit, size uncertain"
    assert judge(stated("favours-comparator")) == "harm, size uncertain"   # significance as stated
    # a stated null, or P > 0.05: not significant, an important difference not excluded
    assert judge(stated("no-significant-difference")) == "no significant difference"
    assert judge(stated(p_relation=">", p_number=0.05)) == "no significant difference"
    # neither significance nor direction: inconclusive; significance without a direction too
    assert judge(stated()) == "inconclusive"
    assert judge(stated(p_relation="<", p_number=0.01)) == "inconclusive"
