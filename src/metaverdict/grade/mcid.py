"""Minimal clinically important differences (MCID), per outcome domain, scale and measure.

The bundled table (``grade/data/mcid.csv``) gives one value per entry with its published
source and a ``status`` saying how far the citation was checked. Defaults:

======================  ==========  ===================================================
entry                   value       source
======================  ==========  ===================================================
pain, 0-10, MD          1.0 point   Salaffi et al. 2004 (Eur J Pain 8:283-291)
pain, 0-100, MD         10 mm       the same, times 10
any domain, SMD         0.5 SD      Norman et al. 2003 (Med Care 41:582-592)
any domain, RR / OR     1.25        GRADE guidelines 6 (Guyatt et al. 2011), both ways
function, DASH          10.2        Gummesson et al. 2003 (verify)
function, Kujala        10          Crossley et al. 2004
function, VISA-A        6.5         McCormack et al. 2015 (verify)
function, PRTEE         11          Poltawski & Watson 2011 (verify)
pain, FHSQ              13          Landorf & Radford 2008 (verify)
======================  ==========  ===================================================

Lookup (:meth:`MCIDTable.lookup`), in order: ratio measures use the ``*, *, RR`` (or OR)
entry on the log scale; SMD uses a domain-specific SMD entry, else ``*, *, SMD``; an MD uses an
instrument named in the outcome's instrument (DASH, Kujala ...), else the outcome's scale
(``0-100 mm`` reads as ``0-100``). A pain MD on an *unreported* scale whose estimate and CI
all lie within ±10 is read as a 0-10 scale, and the match says so in ``assumption``. Surrogate
outcomes (:data:`SURROGATE_DOMAINS`: pressure-pain threshold, range of motion, grip strength)
have no patient-important threshold and get no MCID, whatever the measure: they are judged by
direction only. Anything else has no MCID (``None``), and the verdict says what that costs. A
trial's own stated minimal important difference wins over this table (see
:func:`metaverdict.synthesis.bodies.mcid_for`).

Tables are values: :meth:`MCIDTable.with_overrides` and :meth:`MCIDTable.from_csv` return new
tables; nothing is global.

A user's MCID file (``metaverdict answer/report --mcid FILE``) is checked before anything is
read from it: the header must have ``outcome_domain``, ``scale``, ``measure`` and ``value`` and
no column outside :data:`MCID_COLUMNS`; each row must have those four filled in, a measure of
:data:`MEASURES`, a finite positive value (a ratio above 1 for RR/OR/HR), a four-digit year
if any, no more fields than the header, and a key (domain, scale, measure; case ignored) that
no earlier row has. Each problem raises :class:`~metaverdict.errors.InputError` naming the
row (1 = the first data row) and the column.
"""
from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import pandas as pd

from metaverdict._results import ResultMixin, format_table
from metaverdict.errors import InputError
from metaverdict.evidence.vocabulary import RATIO_MEASURES

MCID_COLUMNS: tuple[str, ...] = ("outcome_domain", "scale", "measure", "value", "units",
                                 "citation", "year", "doi", "status", "note")
_REQUIRED = ("outcome_domain", "scale", "measure", "value")
#: Measures an MCID entry can be for (the ones :meth:`MCIDTable.lookup` reads).
MEASURES: tuple[str, ...] = ("MD", "SMD", *RATIO_MEASURES)
#: Surrogate outcomes with no patient-important threshold: judged by direction only.
SURROGATE_DOMAINS = frozenset({"pressure-pain-threshold", "range-of-motion", "grip-strength"})
#: Results within this fraction of the MCID are flagged as borderline.
BORDERLINE_FRACTION = 0.10
_NUMERIC_SCALE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)")


@dataclass(frozen=True, repr=False)
class MCID(ResultMixin):
    """One MCID entry.

    ``outcome_domain`` and ``scale`` may be ``"*"`` (any); ``scale`` is a numeric range such
    as ``0-10`` or an instrument name such as ``DASH``. ``value`` is positive, in the
    outcome's units (a ratio > 1 for RR/OR/HR).
    """

    outcome_domain: str
    scale: str
    measure: str
    value: float
    units: str = ""
    citation: str = ""
    year: int | None = None
    doi: str | None = None
    status: str = ""
    note: str = ""
    _repr_fields = ("outcome_domain", "scale", "measure", "value")

    @property
    def key(self) -> tuple[str, str, str]:
        """``(outcome_domain, scale, measure)``, lower-cased domain and scale."""
        return (self.outcome_domain.lower(), self.scale.lower(), self.measure.upper())

    @property
    def short_source(self) -> str:
        """First author and year, e.g. ``Salaffi 2004``."""
        first = self.citation.split(",")[0].split(" ")[0] if self.citation else "user value"
        return f"{first} {self.year}" if self.year else first


@dataclass(frozen=True, repr=False)
class MCIDMatch(ResultMixin):
    """The MCID that applies to one result, on the scale the verdict compares with.

    ``threshold`` is what the benefit-scale effect is compared with: ``value`` for
    differences, ``ln(value)`` for ratio measures. ``assumption`` states any inference made
    to find the entry (e.g. an unreported 0-10 scale).
    """

    entry: MCID
    measure: str
    threshold: float
    assumption: str | None
    _repr_fields = ("measure", "threshold", "assumption")

    @property
    def value(self) -> float:
        """The MCID on the measure's own scale."""
        return self.entry.value

    def describe(self) -> str:
        """E.g. ``MCID 1 points on a 0-10 NRS/VAS (Salaffi 2004)``."""
        what = f"MCID {self.entry.value:g} {self.entry.units}".rstrip()
        extra = f"; {self.assumption}" if self.assumption else ""
        return f"{what} ({self.entry.short_source}){extra}"


def _norm_scale(scale: str | None) -> str:
    if not scale:
        return "unspecified"
    m = _NUMERIC_SCALE.match(scale)
    return f"{m.group(1)}-{m.group(2)}" if m else scale.strip().lower()


@dataclass(frozen=True, repr=False)
class MCIDTable(ResultMixin):
    """An immutable set of :class:`MCID` entries with a lookup.

    Examples
    --------
    >>> t = MCIDTable.bundled().with_overrides({("pain", "0-10", "MD"): 2.0})
    >>> t.get("pain", "0-10", "MD").value
    2.0
    """

    entries: tuple[MCID, ...]
    _repr_fields = ()

    # -- construction ------------------------------------------------------------------
    @classmethod
    def bundled(cls) -> MCIDTable:
        """The table shipped in ``metaverdict/grade/data/mcid.csv``."""
        text = resources.files("metaverdict.grade").joinpath("data", "mcid.csv").read_text(
            encoding="utf-8")
        return cls(tuple(_parse_rows(csv.DictReader(text.splitlines()), "mcid.csv")))

    @classmethod
    def from_csv(cls, path: str | Path, *, base: MCIDTable | None = None) -> MCIDTable:
        """Read a user CSV (columns as the bundled file; ``outcome_domain``, ``scale``,
        ``measure`` and ``value`` required); entries replace those of ``base`` with the
        same key (``base=None``: the CSV alone).

        Raises
        ------
        InputError
            Naming the row (1 = first data row) and the column at fault.
        """
        p = Path(path)
        try:
            with p.open(newline="", encoding="utf-8-sig") as fh:
                entries = _parse_rows(csv.DictReader(fh), str(p))
        except OSError as exc:
            raise InputError(f"MCID file {str(p)!r}: cannot be read ({exc})") from None
        return (base or cls(())).with_overrides(entries)

    def with_overrides(self, overrides: Mapping[tuple[str, str, str], float | MCID]
                       | Iterable[MCID]) -> MCIDTable:
        """A new table where the given entries replace (or add to) this table's.

        Parameters
        ----------
        overrides : mapping or iterable
            ``{(domain, scale, measure): value}`` (units and source are kept from the
            replaced entry and the source is marked ``user override``), or MCID entries.
        """
        new: list[MCID] = []
        if isinstance(overrides, Mapping):
            for key, val in overrides.items():
                if isinstance(val, MCID):
                    new.append(val)
                    continue
                domain, scale, measure = key
                try:
                    v = float(val)
                except (TypeError, ValueError):
                    raise InputError(f"MCID override {key!r}: value must be a number, got "
                                     f"{val!r}") from None
                _check_value(v, measure, f"MCID override {key!r}")
                old = self.get(domain, scale, measure)
                base = old or MCID(domain, scale, measure.upper(), v)
                new.append(replace(base, value=v, citation="user override", year=None,
                                   doi=None, status="user override",
                                   note=(f"replaces {old.value:g} ({old.short_source})"
                                         if old else "")))
        else:
            new = list(overrides)
        keys = {e.key for e in new}
        return MCIDTable(tuple(e for e in self.entries if e.key not in keys) + tuple(new))

    # -- lookup ------------------------------------------------------------------------
    def get(self, domain: str, scale: str, measure: str) -> MCID | None:
        """The entry with exactly this key (``"*"`` is a literal here), or None."""
        key = (domain.lower(), scale.lower(), measure.upper())
        return next((e for e in self.entries if e.key == key), None)

    def lookup(self, domain: str, measure: str | None, *, scale: str | None = None,
               instrument: str | None = None,
               values: Iterable[float | None] = ()) -> MCIDMatch | None:
        """The MCID for a result (rules in the module docstring), or None.

        Parameters
        ----------
        domain : str
            Outcome domain (``pain``, ``function`` ...).
        measure : str
            Harmonised measure (``SMD``, ``MD``, ``MD (derived)``, ``RR`` ...).
        scale, instrument : str, optional
            The outcome's scale (``0-10``) and instrument (``VAS``, ``DASH`` ...).
        values : iterable of float
            Estimate and CI limits, used only to read an unreported pain scale as 0-10.
        """
        if not measure or domain.lower() in SURROGATE_DOMAINS:
            return None
        code = measure.split(" ")[0].upper()
        domain = domain.lower()
        if code in RATIO_MEASURES:
            e = self.get(domain, "*", code) or self.get("*", "*", code)
            return MCIDMatch(e, code, math.log(e.value), None) if e else None
        if code == "SMD":
            e = self.get(domain, "*", "SMD") or self.get("*", "*", "SMD")
            return MCIDMatch(e, "SMD", e.value, None) if e else None
        if code not in ("MD", "WMD") or "percent" in measure.lower():
            return None
        if instrument:
            for e in self.entries:
                if (e.measure == "MD" and e.key[0] in (domain, "*")
                        and not _NUMERIC_SCALE.match(e.scale) and e.scale != "*"
                        and re.search(rf"(?<![a-z]){re.escape(e.scale.lower())}(?![a-z])",
                                      instrument.lower())):
                    return MCIDMatch(e, "MD", e.value, None)
        s = _norm_scale(scale)
        e = self.get(domain, s, "MD")
        if e is not None:
            return MCIDMatch(e, "MD", e.value, None)
        if s == "unspecified" and domain == "pain":
            nums = [abs(v) for v in values if v is not None]
            e = self.get("pain", "0-10", "MD")
            if nums and max(nums) <= 10 and e is not None:
                return MCIDMatch(e, "MD", e.value,
                                 "scale not reported: estimate and CI all within ±10, so read "
                                 "as a 0-10 scale (an assumption)")
        return None

    # -- output ------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The entries as a pandas DataFrame (columns as the CSV)."""
        return pd.DataFrame([{c: getattr(e, c) for c in MCID_COLUMNS} for e in self.entries],
                            columns=list(MCID_COLUMNS))

    def summary(self) -> str:
        """Plain-text table: domain, scale, measure, value, source."""
        rows = [[e.outcome_domain, e.scale, e.measure, f"{e.value:g}", e.short_source, e.status]
                for e in self.entries]
        return format_table(["domain", "scale", "measure", "MCID", "source", "status"], rows)


def _check_value(v: float, measure: str, where: str) -> None:
    ratio = measure.upper() in RATIO_MEASURES
    if not math.isfinite(v) or v <= 0 or (ratio and v <= 1):
        need = "a ratio > 1" if ratio else "a positive number"
        raise InputError(f"{where}, column 'value': must be {need}, got {v!r}")


def _check_header(header: Iterable[str], name: str) -> None:
    cols = [c.strip() for c in header]
    for col in _REQUIRED:
        if col not in cols:
            raise InputError(f"MCID file {name!r}, header row, column {col!r}: missing (the "
                             f"file has {', '.join(repr(c) for c in cols) or 'no columns'})")
    for col in cols:
        if col not in MCID_COLUMNS:
            raise InputError(f"MCID file {name!r}, header row, column {col!r}: unknown column "
                             f"(expected {', '.join(MCID_COLUMNS)})")


def _parse_rows(reader: csv.DictReader[str], name: str) -> list[MCID]:
    """Check the header and every row (see the module docstring) and build the entries."""
    _check_header(reader.fieldnames or (), name)
    out: list[MCID] = []
    seen: dict[tuple[str, str, str], int] = {}
    for i, raw in enumerate(reader, start=1):
        where = f"MCID file {name!r}, row {i}"
        if raw.get(None):                   # fields beyond the header
            raise InputError(f"{where}: has more fields than the header "
                             f"({len(reader.fieldnames or ())} columns)")
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        for col in _REQUIRED:
            if not row.get(col):
                raise InputError(f"{where}, column {col!r}: is required")
        measure = row["measure"].upper()
        if measure not in MEASURES:
            raise InputError(f"{where}, column 'measure': must be one of {', '.join(MEASURES)}, "
                             f"got {row['measure']!r}")
        try:
            value = float(row["value"])
        except ValueError:
            raise InputError(f"{where}, column 'value': must be a number, got "
                             f"{row['value']!r}") from None
        _check_value(value, measure, where)
        year = row.get("year") or None
        if year is not None and not (year.isdigit() and len(year) == 4):
            raise InputError(f"{where}, column 'year': must be a year, got {year!r}")
        entry = MCID(row["outcome_domain"], row["scale"], measure, value,
                     row.get("units", ""), row.get("citation", ""),
                     int(year) if year else None, row.get("doi") or None,
                     row.get("status", ""), row.get("note", ""))
        if entry.key in seen:
            raise InputError(f"{where}, columns 'outcome_domain', 'scale', 'measure': "
                             f"{', '.join(entry.key)} is already given in row {seen[entry.key]}")
        seen[entry.key] = i
        out.append(entry)
    return out
