"""Timepoints: free text such as "day 1", "12 weeks" or "short term (1-3 months)" to days.

Days are counted from the (end of the) treatment the source reports, so "immediate" and
"postintervention" are day 0. Units: 1 week = 7 days, 1 year = 365 days, 1 month = 365/12
days (30.42), so "12 weeks" is 84, "3 months" 91.25, "6 months" 182.5 and "1 year" 365.

Windows (chosen so that the usual review labels land where reviews put them):

========== ====================================================================
window     rule (on ``days``, else ``days_max``, else the source's label)
========== ====================================================================
baseline   measured before treatment
immediate  <= 1 day
short      <= 92 days (12 weeks, 3 months)
medium     <= 183 days (26 weeks, 6 months)
long       > 183 days
unspecified no day count and no recognised label ("not stated", "overall", "beyond 8 weeks")
========== ====================================================================

A range ("4-8 weeks", "immediately to 3 days") is kept as ``days_min``/``days_max`` with
``days`` left empty; its window is that of ``days_max``. A label with a number in brackets
("medium term (9-28 days)") is classified by the number, not by the label.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

WINDOWS: tuple[str, ...] = ("baseline", "immediate", "short", "medium", "long", "unspecified")
IMMEDIATE_MAX_DAYS = 1.0
SHORT_MAX_DAYS = 92.0
MEDIUM_MAX_DAYS = 183.0

UNIT_DAYS: dict[str, float] = {
    "hour": 1.0 / 24.0, "day": 1.0, "week": 7.0, "month": 365.0 / 12.0, "year": 365.0,
}
_UNIT = r"(hours?|hrs?|h|days?|d|weeks?|wks?|wk|months?|mo|years?|yrs?|yr)"
_NUM = r"(\d+(?:\.\d+)?)"
_IMMEDIATE = re.compile(r"\b(immediate(?:ly)?|post-?intervention|post-?treatment|posttreatment)\b")


@dataclass(frozen=True)
class Timepoint:
    """A normalised timepoint.

    Attributes
    ----------
    raw : str
        The text as reported.
    days : float or None
        Days after treatment for a single timepoint; None for ranges and unknowns.
    days_min, days_max : float or None
        Bounds of a range (either may be open).
    window : str
        One of :data:`WINDOWS`.
    """

    raw: str
    days: float | None
    days_min: float | None
    days_max: float | None
    window: str


def _unit_days(unit: str) -> float:
    u = unit.lower()
    if u.startswith("h"):
        return UNIT_DAYS["hour"]
    if u.startswith("d"):
        return UNIT_DAYS["day"]
    if u.startswith("w"):
        return UNIT_DAYS["week"]
    if u.startswith("mo"):
        return UNIT_DAYS["month"]
    return UNIT_DAYS["year"]


def window_for_days(days: float) -> str:
    """Classify a day count into a window (see the module docstring)."""
    if days <= IMMEDIATE_MAX_DAYS:
        return "immediate"
    if days <= SHORT_MAX_DAYS:
        return "short"
    if days <= MEDIUM_MAX_DAYS:
        return "medium"
    return "long"


def _label_window(text: str) -> str | None:
    if re.search(r"\bshort[- ]?term\b", text):
        return "short"
    if re.search(r"\b(medium|mid|intermediate)[- ]?term\b|\bmidterm\b|\bintermediate\b", text):
        return "medium"
    if re.search(r"\blong[- ]?term\b", text):
        return "long"
    return None


def _clean(x: float) -> float:
    return float(round(x, 6))


def parse_timepoint(text: str) -> Timepoint:
    """Parse a reported timepoint; never raises.

    Parameters
    ----------
    text : str
        As reported, e.g. ``"day 1"``, ``"12 weeks"``, ``"immediate"``, ``"1 year"``,
        ``"4-8 weeks"``, ``"short term (~4 weeks)"``, ``"not stated"``.

    Returns
    -------
    Timepoint
        ``day 1`` -> 1, ``12 weeks`` -> 84, ``immediate`` -> 0, ``1 year`` -> 365.
    """
    raw = text
    t = text.strip().lower().replace("–", "-").replace("—", "-").replace("≥", ">=")
    if not t:
        return Timepoint(raw, None, None, None, "unspecified")
    if re.search(r"\bbaseline\b|\bpre-?treatment\b", t) and not re.search(r"\bto\b", t):
        return Timepoint(raw, None, None, None, "baseline")

    # "pre to 3-4 weeks": the change from baseline to the later time; drop the "pre to".
    t = re.sub(r"^pre(?:-treatment)?\s+to\s+", "", t)

    # Ranges with units: "4-8 weeks", "1 to 3 weeks", "days 1-7", "immediately to 3 days".
    m = (re.search(rf"{_NUM}\s*(?:-|to)\s*{_NUM}\s*{_UNIT}\b", t)
         or re.search(rf"{_UNIT}\s*{_NUM}\s*(?:-|to)\s*{_NUM}\b", t))
    if m:
        if m.group(1)[0].isdigit():
            lo, hi, unit = float(m.group(1)), float(m.group(2)), m.group(3)
        else:
            unit, lo, hi = m.group(1), float(m.group(2)), float(m.group(3))
        f = _unit_days(unit)
        lo, hi = sorted((lo * f, hi * f))
        return Timepoint(raw, None, _clean(lo), _clean(hi), window_for_days(hi))
    m = re.search(rf"\b(?:immediate(?:ly)?|baseline)\s+to\s+(?:day\s+)?{_NUM}\s*{_UNIT}?\b", t)
    if m:
        hi = float(m.group(1)) * _unit_days(m.group(2) or "day")
        return Timepoint(raw, None, 0.0, _clean(hi), window_for_days(hi))

    # Open bounds: "up to 3 months", "to day 7", "within 72 hours", "beyond 8 weeks", ">=52 weeks".
    m = re.search(rf"\b(?:up to|within|to|<=|<)\s*(?:day\s+)?{_NUM}\s*{_UNIT}?", t)
    if m and not re.search(rf"^{_NUM}\s*{_UNIT}", t):
        hi = float(m.group(1)) * _unit_days(m.group(2) or "day")
        lo = 0.0 if re.search(r"\bwithin\b|\bany\b|immediate", t) else None
        return Timepoint(raw, None, lo, _clean(hi), window_for_days(hi))
    m = re.search(rf"(?:beyond|after|more than|over|>=|>)\s*{_NUM}\s*{_UNIT}", t)
    if m:
        lo = float(m.group(1)) * _unit_days(m.group(2))
        label = _label_window(t)
        window = label if label else ("long" if lo > MEDIUM_MAX_DAYS else "unspecified")
        return Timepoint(raw, None, _clean(lo), None, window)

    # Single values: "day 1", "12 weeks", "~26 weeks", "3 months (primary)".
    m = re.search(rf"\b(day|week|month|year)\s+{_NUM}\b", t)
    if m:
        d = float(m.group(2)) * _unit_days(m.group(1))
        return Timepoint(raw, _clean(d), None, None, window_for_days(d))
    m = re.search(rf"~?{_NUM}\s*-?\s*{_UNIT}\b", t)
    if m:
        d = float(m.group(1)) * _unit_days(m.group(2))
        return Timepoint(raw, _clean(d), None, None, window_for_days(d))

    if _IMMEDIATE.search(t) and not re.search(r"follow-?up", t):
        return Timepoint(raw, 0.0, None, None, "immediate")
    label = _label_window(t)
    if label:
        return Timepoint(raw, None, None, None, label)
    return Timepoint(raw, None, None, None, "unspecified")
