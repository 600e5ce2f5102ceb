"""P-values and group values as reported."""
from __future__ import annotations

import pytest

from metaverdict.evidence.derive import harmonise, se_from_ci, smd_bound_from_p
from metaverdict.evidence.parsing import parse_group_value, parse_p_value


@pytest.mark.parametrize(("text", "relation", "value"), [
    ("<=0.003", "<=", 0.003), ("<.0001", "<", 0.0001), ("0.05", "=", 0.05), (">0.05", ">", 0.05),
    ("≤ 0.041", "<=", 0.041), ("<0.00001", "<", 0.00001), ("P = 0.2", "=", 0.2),
])
def test_p_values(text: str, relation: str, value: float) -> None:
    p = parse_p_value(text)
    assert (p.relation, p.value) == (relation, value)


def test_p_value_with_two_reports_keeps_the_first() -> None:
    p = parse_p_value("0.163 (abstract) / 0.094 (news report)")
    assert (p.relation, p.value, p.first_of_several) == ("=", 0.163, True)


@pytest.mark.parametrize("text", ["abc", "", "1.5", "n.s."])
def test_bad_p_values(text: str) -> None:
    with pytest.raises(ValueError):
        parse_p_value(text)


def test_group_values() -> None:
    assert parse_group_value("21.3") == (21.3, False)
    assert parse_group_value("55.1%") == (55.1, True)
    assert parse_group_value("27 (90%)") == (90.0, True)
    assert parse_group_value("<1%") == (None, True)


def test_harmonise_flips_and_swaps_ci() -> None:
    h = harmonise("SMD", "SMD", 1.44, 1.17, 1.71, "comparator-minus-treatment")
    assert (h.estimate, h.ci_lower, h.ci_upper) == (-1.44, -1.71, -1.17)
    assert harmonise("SMD", "SMD", 1.0, 0.0, 2.0, "unknown").estimate is None


def test_se_from_ci() -> None:
    se, _ = se_from_ci("MD", -1.959963984540054, 1.959963984540054)
    assert se == pytest.approx(1.0, rel=1e-6)
    se_log, _ = se_from_ci("RR", 1.0, 3.17)
    assert se_log == pytest.approx(0.2943, abs=1e-4)


def test_smd_bound() -> None:
    rel, bound, how = smd_bound_from_p("<=", 0.003, 28, 34)
    assert rel == ">=" and bound == pytest.approx(2.96774 * (1 / 28 + 1 / 34) ** 0.5, rel=1e-4)
    assert "bound" in how
    assert smd_bound_from_p(">", 0.05, 28, 34)[0] == "<"
    assert smd_bound_from_p("=", 0.05, 28, 34) is None
