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
    (0.5, 0.0, 1.0, "inconclusive"),                   # CI touches 0 and reaches MCID
    (0.3, 0.0, 0.9, "no important difference"),        # touches 0, inside ±M
    (0.0, -M + EPS, M - EPS, "no important difference"),
    (0.0, -M, M - EPS, "inconclusive"),                # CI touches -M
    (0.0, -M + EPS, M, "inconclusive"),                # CI touches +M
    (-M, -2.0, -0.1, "important harm"),
    (-M + EPS, -2.0, -0.1, "harm below the MCID"),
    (-0.5, -1.0, -EPS, "harm below the MCID"),
    (1.5, -0.1, 3.0, "inconclusive"),                  # important estimate, CI crosses 0
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
    j = classify_interval(2.0, 1.0, 3.0, None)
    assert j.category == "inconclusive" and j.direction == "benefit" and j.significant


def test_point_estimate_rules():
    assert classify_point(M, True, M).category == "important benefit"
    assert classify_point(M - EPS, True, M).category == "benefit below the MCID"
    assert classify_point(-M, True, M).category == "important harm"
    assert classify_point(-3.0, False, M).category == "inconclusive"
    assert classify_point(-3.0, None, M).category == "inconclusive"


def test_point_estimate_uses_p_value():
    b = pain(-1.5, None, None, p_relation="=", p_number=0.049)
    assert judge(b) == "important benefit"
    assert judge(pain(-1.5, None, None, p_relation="=", p_number=0.05)) == "inconclusive"


def test_smd_bound_rules():
    m = 0.5
    assert classify_smd_bound(">=", m, "harm", m, 28, 34).category == "important harm"
    assert classify_smd_bound(">=", m - EPS, "harm", m, 28, 34).category == "inconclusive"
    assert classify_smd_bound(">=", 0.8, "benefit", m, 28, 34).category == "important benefit"
    # |d| < B with P > 0.05: the CI half-width h = 1.96 sqrt(1/n1 + 1/n2)
    assert classify_smd_bound("<", 0.1, None, m, 1000, 1000).category == "no important difference"
    assert classify_smd_bound("<", 0.5, None, m, 28, 34).category == "inconclusive"
