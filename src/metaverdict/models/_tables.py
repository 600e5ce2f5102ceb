"""Shared pieces of the 2x2-table and two-group incidence poolers (Mantel-Haenszel, Peto).

Reading and checking the counts, the per-study outcomes used for the heterogeneity test, the
Wald inference of a pooled estimate, and the result class :class:`PooledTablesResult`.

Conventions (metafor's): for study *i*, ``ai``/``bi`` are events/non-events in group 1 and
``ci``/``di`` in group 2 (``n1i = ai + bi``, ``n2i = ci + di``, ``Ni = n1i + n2i``); for
incidence data ``x1i``/``x2i`` are events over person-time ``t1i``/``t2i``. Kernels take arrays
whose last axis indexes studies, so a stack of analyses (leading batch axes) pools in one call.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table, read_only
from metaverdict._validation import as_float_array, check_bounds, check_same_length, study_labels
from metaverdict.effects import effect_sizes
from metaverdict.errors import InputError, row_error
from metaverdict.models.inference import critical_value
from metaverdict.models.intervals import EstimateCI

Array = npt.NDArray[np.float64]

TABLE_FIELDS = ("ai", "bi", "ci", "di", "n1i", "n2i")
RATE_FIELDS = ("x1i", "t1i", "x2i", "t2i")


# --------------------------------------------------------------------------------------------
# input

def _raw(data: pd.DataFrame | None, value: Any, field: str) -> Any:
    """Resolve a column name (when ``data`` is given) or pass an array-like through."""
    if data is not None and isinstance(value, str):
        if value not in data.columns:
            cols = ", ".join(map(str, data.columns))
            raise InputError(f"field {field!r}: column {value!r} not found in data "
                             f"(columns: {cols})")
        return data[value].to_numpy()
    if isinstance(value, str):
        raise InputError(f"field {field!r}: got the column name {value!r} but no data= to look "
                         f"it up in")
    return value


def _read(data: pd.DataFrame | None, given: Mapping[str, Any],
          labels: Any) -> tuple[dict[str, Array], list[Any] | None]:
    """Arrays for every given field plus normalised labels, lengths checked."""
    raw = {name: _raw(data, v, name) for name, v in given.items()}
    raw_labels = _raw(data, labels, "labels") if labels is not None else None
    first = np.atleast_1d(np.asarray(next(iter(raw.values())), dtype=object))
    lab = study_labels(raw_labels, len(first)) if raw_labels is not None else None
    arrays = {name: as_float_array(v, name, lab) for name, v in raw.items()}
    k = check_same_length(arrays)
    if k == 0:
        raise InputError(f"field {next(iter(arrays))!r}: no studies given (empty input)")
    return arrays, lab


def _unused(given: Mapping[str, Any], fields: tuple[str, ...], measure: str, need: str) -> None:
    extra = [f for f in fields if given.get(f) is not None]
    if extra:
        raise InputError(f"field {extra[0]!r}: not used by measure {measure}; give {need}")


def read_tables(data: pd.DataFrame | None, args: Mapping[str, Any], labels: Any,
                measure: str, require_both_outcomes: bool = True
                ) -> tuple[dict[str, Array], list[Any] | None]:
    """Read and check 2x2 tables given as ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``.

    Counts must be finite non-negative whole numbers, events must not exceed group sizes, and
    each group needs at least one participant; with ``require_both_outcomes`` some study must
    have events and some non-events. Returns ``{"ai", "bi", "ci", "di"}`` arrays.
    """
    need = "ai, bi, ci, di (or ai, n1i, ci, n2i)"
    _unused(args, RATE_FIELDS, measure, need)
    for name, alt in (("ai", None), ("ci", None), ("bi", "n1i"), ("di", "n2i")):
        if args.get(name) is None and (alt is None or args.get(alt) is None):
            either = f"{name!r}" + (f" or {alt!r}" if alt else "")
            raise InputError(f"field {either}: required for measure {measure} ({need})")
    given = {f: args[f] for f in TABLE_FIELDS if args.get(f) is not None}
    arr, lab = _read(data, given, labels)
    for name, a in arr.items():
        check_bounds(a, name, lab, lower=0, integer=True)
    for ev, non, size in (("ai", "bi", "n1i"), ("ci", "di", "n2i")):
        if size in arr:
            over = np.flatnonzero(arr[ev] > arr[size])
            if over.size:
                i = int(over[0])
                raise row_error(lab, i, ev, f"{arr[ev][i]:g} events exceed the group size "
                                f"{size} = {arr[size][i]:g}")
            implied = arr[size] - arr[ev]
            if non in arr:
                off = np.flatnonzero(arr[non] != implied)
                if off.size:
                    i = int(off[0])
                    raise row_error(lab, i, non, f"{arr[non][i]:g} disagrees with {size} - {ev} = "
                                    f"{implied[i]:g}; give {non} or {size}, not both")
            arr[non] = implied
        empty = np.flatnonzero(arr[ev] + arr[non] == 0)
        if empty.size:
            where = size if size in given else f"{ev} + {non}"
            raise row_error(lab, int(empty[0]), where, "group has no participants; every study "
                            "needs at least one in each group")
    tables = {f: arr[f] for f in ("ai", "bi", "ci", "di")}
    if not require_both_outcomes:
        return tables, lab
    k = tables["ai"].size
    for fields, what in ((("ai", "ci"), "events"), (("bi", "di"), "non-events")):
        if not np.any(tables[fields[0]] + tables[fields[1]] > 0):
            raise InputError(f"fields {fields[0]!r}, {fields[1]!r}: no {what} in any of the {k} "
                             f"studies (rows 1-{k}); every table is uninformative, so no pooled "
                             "estimate exists")
    return tables, lab


def read_rates(data: pd.DataFrame | None, args: Mapping[str, Any], labels: Any,
               measure: str) -> tuple[dict[str, Array], list[Any] | None]:
    """Read and check incidence data ``x1i, t1i, x2i, t2i`` (events, person-time).

    Events must be non-negative whole numbers and person-times positive and finite.
    """
    need = "x1i, t1i, x2i, t2i"
    _unused(args, TABLE_FIELDS, measure, need)
    missing = [f for f in RATE_FIELDS if args.get(f) is None]
    if missing:
        raise InputError(f"field {missing[0]!r}: required for measure {measure} ({need})")
    arr, lab = _read(data, {f: args[f] for f in RATE_FIELDS}, labels)
    for name in ("x1i", "x2i"):
        check_bounds(arr[name], name, lab, lower=0, integer=True)
    for name in ("t1i", "t2i"):
        check_bounds(arr[name], name, lab, lower=0, lower_strict=True)
    k = arr["x1i"].size
    if not np.any(arr["x1i"] + arr["x2i"] > 0):
        raise InputError(f"fields 'x1i', 'x2i': no events in any of the {k} studies (rows 1-{k}); "
                         "no pooled rate ratio exists")
    return arr, lab


# --------------------------------------------------------------------------------------------
# per-study outcomes (escalc with add=1/2, to="only0", drop00=TRUE)

def table_outcomes(measure: str, ai: Array, bi: Array, ci: Array, di: Array) -> tuple[Array, Array]:
    """Per-study ``yi``, ``vi`` used for the heterogeneity test of ``rma.mh``/``rma.peto``.

    :func:`metaverdict.effects.effect_sizes` (metafor's ``escalc``) for ``measure`` (``OR``,
    ``RR``, ``RD`` or ``PETO``) with ``add=1/2``, ``to="only0"`` (1/2 added to every cell of a
    table with a zero cell) and ``drop00=True``: studies with no events, or only events, in
    both groups are NaN.
    """
    es = effect_sizes(measure, ai=ai, bi=bi, ci=ci, di=di, add=0.5, to="only0", drop00=True)
    return es.yi, es.vi


def rate_outcomes(x1i: Array, t1i: Array, x2i: Array, t2i: Array) -> tuple[Array, Array]:
    """Per-study log incidence-rate ratios ``yi = log((x1/t1)/(x2/t2))``, ``vi = 1/x1 + 1/x2``.

    :func:`metaverdict.effects.effect_sizes` (measure ``IRR``) with ``add=1/2`` added to both
    event counts of a study with a zero count and studies without events NaN (``drop00``).
    """
    es = effect_sizes("IRR", x1i=x1i, t1i=t1i, x2i=x2i, t2i=t2i, add=0.5, to="only0", drop00=True)
    return es.yi, es.vi


# --------------------------------------------------------------------------------------------
# inference

def wald(beta: Array, se: Array, level: float) -> tuple[Array, Array, Array, Array]:
    """z statistic, two-sided normal p-value and ``level`` confidence bounds."""
    crit = critical_value(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = beta / se
    return z, 2 * special.ndtr(-np.abs(z)), beta - crit * se, beta + crit * se


def heterogeneity(q: npt.ArrayLike, df: npt.ArrayLike, informative: npt.ArrayLike | None = None
                  ) -> tuple[Array, Array, Array, Array]:
    """Q, its chi-squared p-value on ``df``, ``I² = 100 max(0, (Q - df)/Q)`` and ``H² = Q/df``.

    Where fewer than two studies are ``informative`` (default: ``df < 1``), metafor reports
    ``p = 1``, ``I² = 0`` and ``H² = 1``; Q itself is returned as given.
    """
    q, df = np.asarray(q, dtype=float), np.asarray(df, dtype=float)
    ok = df >= 1 if informative is None else np.asarray(informative)
    safe_df = np.where(ok, df, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = np.where(q > 0, np.maximum(0.0, 100 * (q - safe_df) / q), 0.0)
        h2 = q / safe_df
    p = special.chdtrc(safe_df, q)
    return q, np.where(ok, p, 1.0), np.where(ok, i2, 0.0), np.where(ok, h2, 1.0)


def inverse_variance_q(yi: Array, vi: Array, centre: Array) -> tuple[Array, Array]:
    """``Q = max(0, sum_i (yi - centre)^2 / vi)`` over finite ``yi`` and the count ``k_yi``."""
    keep = np.isfinite(yi) & np.isfinite(vi)
    with np.errstate(invalid="ignore"):
        terms = np.where(keep, (yi - np.expand_dims(centre, -1)) ** 2 / np.where(keep, vi, 1.0),
                         0.0)
    return np.maximum(0.0, terms.sum(axis=-1)), keep.sum(axis=-1)


def chi2_pvalue(statistic: Array | float, df: Array | float) -> Array | float:
    """Upper-tail chi-squared p-value (a NumPy float for scalar input)."""
    p: Array | float = special.chdtrc(df, statistic)
    return p


def assemble(measure: str, method: str, beta: Array, se: Array, yi: Array, vi: Array,
              level: float, labels: list[Any] | None, extra: dict[str, Any],
              q_override: tuple[float, bool] | None = None,
              counts: Mapping[str, Array] | None = None) -> PooledTablesResult:
    """Wald inference plus heterogeneity into a :class:`PooledTablesResult`.

    ``q_override`` = ``(Q, informative)`` replaces the inverse-variance Q (Peto's own Q);
    ``counts``: the tables (or incidence data) pooled, kept for the diagnostics' refits.
    """
    z, p, lo, hi = wald(beta, se, level)
    q_iv, k_yi = inverse_variance_q(yi, vi, beta)
    q_in: npt.ArrayLike = q_iv
    informative: npt.ArrayLike = k_yi > 1
    if q_override is not None:
        q_in, informative = q_override
    elif not informative:
        q_in = 0.0
    q, qp, i2, h2 = heterogeneity(q_in, k_yi - 1, informative)
    return PooledTablesResult(
        measure=measure, method=method, estimate=float(beta), se=float(se), statistic=float(z),
        pvalue=float(p), ci_lower=float(lo), ci_upper=float(hi), level=level,
        q=float(q), q_pvalue=float(qp), i2=float(i2), h2=float(h2),
        k=int(yi.shape[-1]), k_yi=int(k_yi), yi=read_only(yi), vi=read_only(vi), labels=labels,
        _counts={name: read_only(np.asarray(a)) for name, a in (counts or {}).items()}, **extra)


# --------------------------------------------------------------------------------------------
# result

def _p(p: float | None) -> str:
    text = fmt_p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


_NAMES = {"OR": "odds ratio", "RR": "risk ratio", "RD": "risk difference",
          "IRD": "incidence-rate difference",
          "IRR": "incidence-rate ratio"}


@dataclass(frozen=True, eq=False, repr=False)
class PooledTablesResult(EstimateCI, ResultMixin):
    """A common-effect pooling of 2x2 tables (or two-group incidence data).

    Estimates are on the log scale for ratio measures (``OR``, ``RR``, ``IRR``) and on the raw
    scale for ``RD``; :attr:`exp_estimate` and :meth:`exp_ci` give the ratio scale. Tests that
    do not apply to a measure are ``None``; values metafor reports as ``NA`` are NaN.

    Attributes
    ----------
    measure : str
        ``"OR"``, ``"RR"``, ``"RD"``, ``"IRR"`` or ``"IRD"``.
    method : str
        ``"MH"`` (Mantel-Haenszel) or ``"Peto"``.
    estimate, se, statistic, pvalue, ci_lower, ci_upper : float
        Pooled estimate, its standard error, z statistic, two-sided p-value and CI bounds.
    level : float
        Confidence level of the CI.
    q, q_pvalue, i2, h2 : float
        Heterogeneity: Cochran's Q (``k_yi - 1`` df), its p-value, I² (percent) and H².
    k, k_yi : int
        Studies pooled / studies with a finite individual outcome (the studies in Q).
    yi, vi : numpy.ndarray
        Individual study outcomes used for Q, one per study in input order (NaN: excluded).
    cmh, cmh_pvalue : float or None
        OR: Cochran-Mantel-Haenszel test (variance with ``Ni - 1``); IRR: Mantel-Haenszel test.
    cochran, cochran_pvalue : float or None
        OR: Cochran's test (variance with ``Ni``).
    breslow_day, breslow_day_pvalue, tarone, tarone_pvalue : float or None
        OR: Breslow-Day homogeneity test and its version with Tarone's correction.
    breslow_day_df : int or None
        OR: their degrees of freedom, the number of tables with both outcomes present, minus 1.
    labels : list or None
        Study labels, if given.
    """

    measure: str
    method: str
    estimate: float
    se: float
    statistic: float
    pvalue: float
    ci_lower: float
    ci_upper: float
    level: float
    q: float
    q_pvalue: float
    i2: float
    h2: float
    k: int
    k_yi: int
    yi: Array
    vi: Array
    cmh: float | None = None
    cmh_pvalue: float | None = None
    cochran: float | None = None
    cochran_pvalue: float | None = None
    breslow_day: float | None = None
    breslow_day_pvalue: float | None = None
    tarone: float | None = None
    tarone_pvalue: float | None = None
    breslow_day_df: int | None = None
    labels: list[Any] | None = field(default=None)
    _counts: Mapping[str, Array] = field(default_factory=dict, repr=False)

    _repr_fields = ("measure", "method", "estimate", "se", "pvalue", "k")

    @property
    def df(self) -> float:
        """Degrees of freedom of the test: NaN (z tests), for :meth:`confidence_interval`."""
        return float("nan")

    @property
    def counts(self) -> Mapping[str, Array]:
        """The tables pooled (``ai``, ``bi``, ``ci``, ``di``) or the incidence data (``x1i``,
        ``t1i``, ``x2i``, ``t2i``), read-only arrays in input order (the diagnostics refit
        subsets of them)."""
        return self._counts

    @property
    def is_ratio(self) -> bool:
        """True for ratio measures, whose estimates are on the log scale."""
        return self.measure not in ("RD", "IRD")

    @property
    def exp_estimate(self) -> float:
        """The estimate on the ratio scale (``exp``); the estimate itself for ``RD``."""
        return math.exp(self.estimate) if self.is_ratio else self.estimate

    def exp_ci(self) -> tuple[float, float]:
        """CI bounds on the ratio scale (``exp``); unchanged for ``RD``."""
        if not self.is_ratio:
            return self.ci_lower, self.ci_upper
        return math.exp(self.ci_lower), math.exp(self.ci_upper)

    def summary(self) -> str:
        """Journal-style text: pooled estimate with CI and p, heterogeneity, and the tests."""
        method = "Mantel-Haenszel" if self.method == "MH" else "Peto"
        pct = f"{100 * self.level:g}%"
        head = (f"{method} common-effect model, {_NAMES[self.measure]} "
                f"(k = {self.k}, studies in Q = {self.k_yi})")
        scale = f"log {self.measure}" if self.is_ratio else self.measure
        rows = [[scale, fmt(self.estimate), fmt(self.se), fmt(self.statistic, 3),
                 fmt_p(self.pvalue), fmt(self.ci_lower), fmt(self.ci_upper)]]
        if self.is_ratio:
            lo, hi = self.exp_ci()
            rows.append([self.measure, fmt(self.exp_estimate), "", "", "", fmt(lo), fmt(hi)])
        table = format_table(["", "estimate", "se", "z", "p", f"{pct} lower", f"{pct} upper"],
                             rows)
        lines = [head, "", table, "",
                 f"Heterogeneity: Q({max(self.k_yi - 1, 0)}) = {fmt(self.q, 2)}, "
                 f"{_p(self.q_pvalue)}; I² = {fmt(self.i2, 1)}%; H² = {fmt(self.h2, 2)}"]
        tests = (("Cochran-Mantel-Haenszel" if self.measure == "OR" else "Mantel-Haenszel",
                  self.cmh, self.cmh_pvalue, "1"),
                 ("Cochran", self.cochran, self.cochran_pvalue, "1"),
                 ("Breslow-Day", self.breslow_day, self.breslow_day_pvalue, self.breslow_day_df),
                 ("Tarone", self.tarone, self.tarone_pvalue, self.breslow_day_df))
        for name, value, p, df in tests:
            if value is not None:
                lines.append(f"{name} test: chi² = {fmt(value, 2)}"
                             f"{f' (df = {df})' if df is not None else ''}, {_p(p)}")
        return "\n".join(lines)
