"""Reading the quality statements stored with results.

Two kinds of text arrive in the ``certainty`` column: a review's own certainty of evidence
(``"GRADE low"``, ``"low to moderate (GRADE, per authors)"``) and risk-of-bias statements
(``"PEDro 5/10"``, ``"risk of bias high or unclear for most domains"``). PEDro scores and
risk-of-bias statements are not GRADE ratings and are never read as one.

Rules for :func:`review_level`:

* texts that mention PEDro, risk of bias or a quality score are not certainty ratings;
* otherwise the GRADE words (high, moderate, low, very low) found are read; a range
  ("low to moderate", "low or very low") gives its *lower* end, and the note says so;
* a text that limits itself to outcomes in brackets ("(pain, postintervention)") applies only
  to bodies whose outcome is named there.
"""
from __future__ import annotations

import re

from metaverdict.grade.levels import Level

PEDRO_SERIOUS_BELOW = 6
_NOT_GRADE = re.compile(r"pedro|risk of bias|quality\s+\d|macdermid|scored", re.I)
_LEVEL = re.compile(r"\bvery low\b|\bhigh\b|\bmoderate\b|\blow\b", re.I)
_PEDRO = re.compile(r"PEDro\s+(\d+(?:\.\d+)?)\s*/\s*10", re.I)
_OUTCOME_WORDS = ("pain", "function", "disability", "cramp", "quality of life")


def review_level(text: str | None,
                 outcome: str | None = None) -> tuple[Level | None, str | None]:
    """The certainty level a review states, and a note on how it was read.

    Returns
    -------
    (level, note)
        ``level`` (a :class:`~metaverdict.grade.levels.Level`) or None when the text is not
        a certainty rating (or does not apply to ``outcome``); ``note`` explains ranges and
        exclusions.
    """
    if not text or _NOT_GRADE.search(text):
        return None, None
    bracket = re.search(r"\(([^)]*)\)", text)
    if bracket and outcome:
        named = [w for w in _OUTCOME_WORDS if w in bracket.group(1).lower()]
        wanted = "function" if outcome == "function" else outcome.lower()
        if named and not any(w in wanted or (w == "disability" and wanted == "function")
                             for w in named):
            return None, (f"review rating {text!r} is stated for {', '.join(named)}, not for "
                          f"{outcome}")
    found = [m.group(0).lower() for m in _LEVEL.finditer(text)]
    if not found:
        return None, None
    level = max((Level(f) for f in found), key=lambda x: x.rank)
    note = None
    if len(set(found)) > 1:
        note = f"review rating {text!r} is a range; its lower end ({level}) is used"
    return level, note


def pedro_scores(texts: tuple[str, ...]) -> list[float]:
    """PEDro scores (out of 10) found in the texts."""
    return [float(m.group(1)) for t in texts for m in _PEDRO.finditer(t or "")]


def risk_of_bias_statement(texts: tuple[str, ...]) -> tuple[bool | None, str | None]:
    """Serious risk of bias (True/False) from a stored statement, with the reason; None if
    no statement decides it.

    ``high``/``unclear`` risk of bias: serious; ``generally low``/``low risk``: not serious.
    """
    for t in texts:
        low = (t or "").lower()
        if "risk of bias" not in low:
            continue
        if re.search(r"high|unclear", low):
            return True, f"stored statement: {t!r}"
        if re.search(r"\blow\b", low):
            return False, f"stored statement: {t!r}"
    return None, None


def heterogeneity_statement(texts: tuple[str, ...]) -> str | None:
    """A stored statement that the review downgraded for heterogeneity, or None."""
    for t in texts:
        if t and re.search(r"downgraded for (heterogeneity|inconsistency)", t, re.I):
            return t
    return None
