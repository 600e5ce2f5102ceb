"""Controlled vocabulary: raw treatment/comparator/condition/outcome/timepoint/measure strings
to normalised terms and outcome directions.

The mapping for the bundled evidence is ``data/vocabulary.json`` (written by reading all 145
rows of ``data/studies_raw.csv``; its ``about`` entry describes the layout). Strings a user's
CSV brings that the file does not know are normalised by the rules in :meth:`Vocabulary.outcome`
and friends, and an outcome whose direction cannot be told is an error unless the row gives
``lower_is_better``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from metaverdict.evidence.timepoints import parse_timepoint

VOCABULARY_FILE = "vocabulary.json"
RATIO_MEASURES = ("RR", "OR", "HR")
_DOMAIN_WORDS: tuple[tuple[str, str, bool | None], ...] = (
    # (pattern, domain, lower_is_better default for the domain or None if it depends)
    (r"adverse", "adverse-events", True),
    (r"pressure[- ]pain[- ]threshold|\bppt\b", "pressure-pain-threshold", False),
    (r"range[- ]of[- ]motion|\brom\b", "range-of-motion", False),
    (r"quality of life|hrqol", "quality-of-life", False),
    (r"grip", "grip-strength", False),
    (r"cramp", "cramping", True),
    (r"recurrence", "recurrence", True),
    (r"success|responder", "treatment-success", False),
    (r"disability", "function", True),
    (r"function", "function", None),
    (r"pain|soreness", "pain", True),
)


#: The outcome domains :meth:`Vocabulary.domain_of` reads from an outcome's words, in order.
TEXT_DOMAINS: tuple[str, ...] = tuple(dict.fromkeys(d for _, d, _ in _DOMAIN_WORDS))


_MIXED = re.compile(r"\bmixed\b|\bor (placebo|no intervention|no treatment|sham)\b|"
                    r"\bcontrol\b|waiting list", re.I)
_NO_TREATMENT = re.compile(r"no (intervention|treatment)|waiting list|wait-and-see|control", re.I)
_TECHNIQUE = re.compile(r"(other form of|other) (dry )?needling|trigger point only|technique", re.I)
_ADD_ON = re.compile(r"add-on|\balone\b", re.I)


def comparator_class(kind: str, name: str, treatment: str = "") -> str:
    """The comparator class (see ``COMPARATOR_CLASSES`` in :mod:`metaverdict.evidence.models`)
    a comparator kind and name fall in, by rule; the bundled data pin each source's class in
    ``vocabulary.json`` and a user's CSV may give column ``comparator_class``.

    Rules, in order: a name with "add-on" or "alone" where the treatment is a combination
    (``+``): ``add-on``; another needling technique: ``technique``; sham/placebo: ``sham``, or
    ``sham-or-no-treatment`` when the name also names no treatment, a waiting list or a control
    group; no treatment: ``no-treatment`` (``mixed`` when other kinds are named with it);
    usual care: ``usual-care``; another active treatment: ``active``, or ``mixed`` when the name
    pools it with placebo, no intervention or "mixed" comparison groups.
    """
    if _ADD_ON.search(name) and "+" in treatment:
        return "add-on"
    if _TECHNIQUE.search(name):
        return "technique"
    if kind in ("sham", "placebo"):
        return "sham-or-no-treatment" if _NO_TREATMENT.search(name) else "sham"
    if kind == "no-treatment":
        return "mixed" if re.search(r"\bor\b|NSAID", name) else "no-treatment"
    if kind == "usual-care":
        return "usual-care"
    return "mixed" if _MIXED.search(name) else "active"


@dataclass(frozen=True)
class OutcomeTerm:
    """A normalised outcome: domain, instrument, scale and direction (with its basis)."""

    domain: str
    instrument: str
    scale: str
    lower_is_better: bool | None
    basis: str


@dataclass(frozen=True)
class TimepointTerm:
    """A normalised timepoint (see :mod:`metaverdict.evidence.timepoints`)."""

    raw: str
    days: float | None
    days_min: float | None
    days_max: float | None
    window: str
    note: str | None


class UnknownTermError(ValueError):
    """A raw string that cannot be normalised (message says what would be accepted)."""


class Vocabulary:
    """Lookups over the vocabulary mapping.

    Parameters
    ----------
    data : dict
        The parsed ``vocabulary.json`` layout.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    # -- treatments ---------------------------------------------------------------------
    def treatment(self, raw: str) -> tuple[str, str]:
        """Return ``(term, family)`` for a raw treatment string."""
        t = self.data["treatments"]
        term = t["raw"].get(raw.strip())
        if term is None:
            term = self._known_term(raw) or raw.strip()
        info = t["terms"].get(term)
        return term, (info["family"] if info else term)

    def _known_term(self, raw: str) -> str | None:
        low = raw.strip().lower()
        for term, info in self.data["treatments"]["terms"].items():
            if low == term.lower() or low in (a.lower() for a in info["aliases"]):
                return term
        return None

    def treatment_names(self, term: str, family: str) -> set[str]:
        """Lower-cased names a treatment answers to: term, family and their aliases."""
        terms = self.data["treatments"]["terms"]
        names = {term.lower(), family.lower()}
        for key in (term, family):
            names |= {a.lower() for a in terms.get(key, {}).get("aliases", [])}
        return names

    # -- comparators --------------------------------------------------------------------
    def comparator_kind(self, raw: str) -> str:
        """Return the comparator kind for the CSV ``comparator`` value."""
        kind = self.data["comparators"]["raw"].get(raw.strip().lower())
        if kind is None:
            allowed = ", ".join(sorted(self.data["comparators"]["raw"]))
            raise UnknownTermError(f"must be one of {allowed}")
        return kind

    # -- conditions ---------------------------------------------------------------------
    def condition(self, raw: str) -> tuple[str, str | None]:
        """Return ``(term, body_region)`` for a raw condition string."""
        c = self.data["conditions"]
        term = c["raw"].get(raw.strip())
        if term is None:
            low = raw.strip().lower()
            term = next((k for k in c["terms"] if k.lower() == low), raw.strip())
        info = c["terms"].get(term)
        return term, (info["body_region"] if info else None)

    # -- outcomes -----------------------------------------------------------------------
    def outcome(self, raw: str, lower_is_better: bool | None = None) -> OutcomeTerm:
        """Normalise a raw outcome string.

        Known strings come from the mapping file. Otherwise the domain is read from words in
        the string (``pain``, ``disability``, ``function``, ...), the instrument from the
        bracketed part, and the direction from, in order: the ``lower_is_better`` argument, a
        known instrument named in the string (DASH, VISA-A, ...), "lower/higher is better" in
        the text, or the domain (pain, disability, adverse events: lower is better).

        Raises
        ------
        UnknownTermError
            If the direction cannot be determined.
        """
        entry = self.data["outcomes"]["raw"].get(raw.strip())
        if entry is not None:
            term = OutcomeTerm(entry["domain"], entry["instrument"], entry["scale"],
                               entry["lower_is_better"], entry["basis"])
            if lower_is_better is not None and lower_is_better != term.lower_is_better:
                raise UnknownTermError(
                    f"lower_is_better={lower_is_better} contradicts the vocabulary for "
                    f"{raw!r} ({term.basis})")
            return term
        try:
            term = self._outcome_by_rules(raw.strip())
        except UnknownTermError:
            if lower_is_better is None:
                raise
            term = None
        if term is not None and (lower_is_better is None
                                 or term.lower_is_better == lower_is_better):
            return term
        domain, instrument = self._domain_instrument(raw.strip())
        return OutcomeTerm(domain, instrument, "unspecified", lower_is_better,
                           "given in the row's lower_is_better column")

    @classmethod
    def domain_of(cls, raw: str) -> str:
        """The outcome domain read from an outcome's words (:data:`TEXT_DOMAINS`), else
        ``"unspecified"``: ``"pain (soleus soreness)"`` -> ``"pain"``."""
        return cls._domain_instrument(raw.strip())[0]

    @staticmethod
    def _domain_instrument(raw: str) -> tuple[str, str]:
        low = raw.lower()
        domain = next((dom for pattern, dom, _ in _DOMAIN_WORDS if re.search(pattern, low)),
                      "unspecified")
        m = re.search(r"\((.*)\)", raw)
        return domain, (m.group(1).strip() if m else "unspecified")

    def _outcome_by_rules(self, raw: str) -> OutcomeTerm:
        low = raw.lower()
        domain, instrument = self._domain_instrument(raw)
        default = next((lib for pattern, _, lib in _DOMAIN_WORDS if re.search(pattern, low)),
                       None)
        for name, info in self.data["instruments"].items():
            if re.search(rf"(?<![A-Za-z]){re.escape(name.lower())}(?![A-Za-z])", low):
                return OutcomeTerm(domain, instrument, "unspecified", info["lower_is_better"],
                                   f"{name}: {info['basis']}")
        if re.search(r"lower (is )?better|lower=better", low):
            return OutcomeTerm(domain, instrument, "unspecified", True,
                               "stated in the outcome text")
        if re.search(r"higher (is )?better|higher=better", low):
            return OutcomeTerm(domain, instrument, "unspecified", False,
                               "stated in the outcome text")
        if default is not None:
            return OutcomeTerm(domain, instrument, "unspecified", default,
                               f"{domain}: {'lower' if default else 'higher'} is better")
        raise UnknownTermError(
            "cannot tell whether lower or higher is better; name a known instrument "
            f"({', '.join(self.data['instruments'])}) or give column 'lower_is_better'")

    # -- timepoints and measures --------------------------------------------------------
    def timepoint(self, raw: str) -> TimepointTerm:
        """Normalise a timepoint: the mapping file first, then :func:`parse_timepoint`."""
        entry = self.data["timepoints"]["raw"].get(raw)
        if entry is not None:
            return TimepointTerm(raw, entry["days"], entry["days_min"], entry["days_max"],
                                 entry["window"], entry.get("note"))
        p = parse_timepoint(raw)
        return TimepointTerm(raw, p.days, p.days_min, p.days_max, p.window, None)

    def measure(self, raw: str) -> str:
        """Normalised measure: SMD, MD, RD, RR, OR, HR, NNT, group-level, none, unclear, other."""
        entry = self.data["effect_measures"]["raw"].get(raw.strip())
        if entry is not None:
            return str(entry["measure"])
        up = raw.strip().upper()
        if up.startswith(("WMD", "UMD")):
            return "MD"
        for code in ("SMD", "MD", "RD", "RR", "OR", "HR", "NNT"):
            if re.match(rf"{code}\b", up):
                return code
        return "other"

    # -- per-source conventions for the bundled rows ------------------------------------
    def row_overrides(self, source_key: str, row: int) -> dict[str, Any]:
        """The bundled per-source defaults merged with the overrides for data row ``row``."""
        entry = self.data["sources"].get(source_key)
        if entry is None:
            return {}
        merged = {k: v for k, v in entry.items() if k != "rows"}
        merged.update(entry["rows"].get(str(row), {}))
        return merged


@cache
def bundled_vocabulary() -> Vocabulary:
    """The vocabulary shipped in ``metaverdict/evidence/data/vocabulary.json``."""
    text = resources.files("metaverdict.evidence").joinpath("data", VOCABULARY_FILE).read_text(
        encoding="utf-8")
    return Vocabulary(json.loads(text))
