"""Timepoint parsing: documented examples and properties."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metaverdict.evidence.timepoints import (
    MEDIUM_MAX_DAYS,
    SHORT_MAX_DAYS,
    UNIT_DAYS,
    WINDOWS,
    parse_timepoint,
    window_for_days,
)


@pytest.mark.parametrize(("text", "days", "window"), [
    ("day 1", 1, "immediate"), ("immediate", 0, "immediate"), ("12 weeks", 84, "short"),
    ("1 year", 365, "long"), ("26 weeks", 182, "medium"), ("6 months", 182.5, "medium"),
    ("3 months", 91.25, "short"), ("6 weeks (primary end point)", 42, "short"),
    ("postintervention", 0, "immediate"), ("2 years", 730, "long"),
    ("intermediate term (~26 weeks)", 182, "medium"), ("day 2", 2, "short"),
])
def test_single_timepoints(text: str, days: float, window: str) -> None:
    tp = parse_timepoint(text)
    assert tp.days == pytest.approx(days)
    assert tp.window == window
    assert tp.raw == text


@pytest.mark.parametrize(("text", "lo", "hi", "window"), [
    ("4-8 weeks", 28, 56, "short"), ("immediately to 3 days", 0, 3, "short"),
    ("13-24 weeks", 91, 168, "medium"), ("6-12 months", 182.5, 365, "long"),
    ("medium term (9-28 days)", 9, 28, "short"), ("within 72 hours", 0, 3, "short"),
    ("not specified (follow-up days 1-7)", 1, 7, "short"),
])
def test_ranges(text: str, lo: float, hi: float, window: str) -> None:
    tp = parse_timepoint(text)
    assert tp.days is None
    assert (tp.days_min, tp.days_max) == (pytest.approx(lo), pytest.approx(hi))
    assert tp.window == window


@pytest.mark.parametrize(("text", "window"), [
    ("not stated", "unspecified"), ("overall", "unspecified"), ("short term", "short"),
    ("midterm", "medium"), ("mid-term", "medium"), ("baseline", "baseline"),
    ("beyond 8 weeks", "unspecified"), ("long term (>=52 weeks)", "long"),
])
def test_labels(text: str, window: str) -> None:
    assert parse_timepoint(text).window == window


UNITS = st.sampled_from(["day", "days", "week", "weeks", "month", "months", "year", "years"])


@given(n=st.integers(min_value=0, max_value=2000), unit=UNITS)
def test_number_unit_is_n_times_unit(n: int, unit: str) -> None:
    tp = parse_timepoint(f"{n} {unit}")
    factor = UNIT_DAYS[unit.rstrip("s")]
    assert tp.days == pytest.approx(n * factor, abs=1e-6)
    assert tp.window == window_for_days(n * factor)


@given(n=st.integers(min_value=0, max_value=400))
def test_day_n(n: int) -> None:
    assert parse_timepoint(f"day {n}").days == n


@given(a=st.integers(min_value=0, max_value=500), b=st.integers(min_value=0, max_value=500),
       unit=UNITS)
def test_ranges_are_ordered(a: int, b: int, unit: str) -> None:
    tp = parse_timepoint(f"{a}-{b} {unit}")
    assert tp.days_min is not None and tp.days_max is not None
    assert tp.days_min <= tp.days_max


@given(st.text(max_size=60))
def test_never_raises(text: str) -> None:
    assert parse_timepoint(text).window in WINDOWS


@given(st.floats(min_value=0, max_value=5000), st.floats(min_value=0, max_value=5000))
def test_windows_are_monotone(a: float, b: float) -> None:
    order = ["immediate", "short", "medium", "long"]
    lo, hi = sorted((a, b))
    assert order.index(window_for_days(lo)) <= order.index(window_for_days(hi))


def test_window_boundaries() -> None:
    assert window_for_days(1) == "immediate"
    assert window_for_days(SHORT_MAX_DAYS) == "short"
    assert window_for_days(MEDIUM_MAX_DAYS) == "medium"
    assert window_for_days(MEDIUM_MAX_DAYS + 1) == "long"
