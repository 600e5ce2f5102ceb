"""``effect_sizes``: metafor's ``escalc()`` for the common measures, with checked input.

Each study's effect size ``yi`` and sampling variance ``vi`` are computed exactly as metafor
3.8 computes them (defaults ``add=1/2``, ``to="only0"``, ``drop00=FALSE``, ``vtype="LS"``); the
formulas are in :mod:`metaverdict.effects.measures`. Unlike ``escalc``, impossible input
(negative counts, SD <= 0, |r| >= 1, events above the group size, NaN...) raises an
:class:`~metaverdict.errors.InputError` naming the study and the field, instead of yielding NA.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from metaverdict._validation import (
    as_float_array,
    check_bounds,
    check_finite,
    check_same_length,
    choice,
    study_labels,
)
from metaverdict.effects.continuity import TO_OPTIONS, add_to_cells
from metaverdict.effects.measures import FAMILY_FIELDS, MEASURES, Arrays, FloatArray, Measure
from metaverdict.effects.results import EffectSizes
from metaverdict.errors import InputError, row_error

Labels = list[Any] | None
BoolArray = npt.NDArray[np.bool_]

#: Required inputs per family; a tuple lists alternatives (one of them is needed).
_REQUIRED: dict[str, tuple[str | tuple[str, str], ...]] = {
    "table": ("ai", ("bi", "n1i"), "ci", ("di", "n2i")),
    "rates": ("x1i", "t1i", "x2i", "t2i"),
    "means": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "cor": ("ri", "ni"),
    "pcor": ("ti", "ni", "mi"),
    "prop": ("xi", ("ni", "mi")),
}


def effect_sizes(measure: str, data: pd.DataFrame | Mapping[str, Any] | None = None, *,
                 ai: Any = None, bi: Any = None, ci: Any = None, di: Any = None,
                 n1i: Any = None, n2i: Any = None, x1i: Any = None, x2i: Any = None,
                 t1i: Any = None, t2i: Any = None, m1i: Any = None, m2i: Any = None,
                 sd1i: Any = None, sd2i: Any = None, xi: Any = None, mi: Any = None,
                 ri: Any = None, ti: Any = None, ni: Any = None, labels: Any = None,
                 add: float | None = None, to: str = "only0", drop00: bool = False) -> EffectSizes:
    """Effect sizes and sampling variances from reported statistics (metafor's ``escalc``).

    Parameters
    ----------
    measure : str
        metafor's code (case-insensitive). 2x2 tables (``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``;
        ``ai``/``ci`` events in group 1/2): ``"OR"`` log odds ratio, ``"RR"`` log risk ratio,
        ``"RD"`` risk difference, ``"PETO"`` Peto's log odds ratio. Person-time
        (``x1i, t1i, x2i, t2i``): ``"IRR"`` log incidence rate ratio. Means
        (``m1i, sd1i, n1i, m2i, sd2i, n2i``): ``"MD"``, ``"SMD"`` (Hedges' g, exact bias
        correction, large-sample variance), ``"ROM"`` log ratio of means. Correlations
        (``ri, ni``): ``"COR"``, ``"ZCOR"`` (Fisher's z); ``"ZPCOR"`` from a regression's t
        statistic ``ti``, sample size ``ni`` and number of predictors ``mi``. Proportions
        (``xi`` events of ``ni``, or ``mi`` non-events): ``"PR"``, ``"PLO"`` (logit), ``"PFT"``
        (Freeman-Tukey double arcsine). Formulas: :data:`~metaverdict.effects.measures.MEASURES`.
    data : pandas.DataFrame or mapping, optional
        When given, string arguments are column names in ``data``.
    ai, bi, ..., ni : str or array-like
        Column names or one value per study.
    labels : str or sequence, optional
        Study labels (a column name or values); default: the index of a DataFrame ``data``.
        Error messages name studies by label (or by 1-based row number without labels).
    add : float, optional
        Continuity correction for zero counts (count measures only). Default as in metafor:
        1/2, except 0 for ``"PFT"``.
    to : {"only0", "all", "if0all", "none"}
        Which studies get ``add``: those with a zero cell (default), all, all if any has a
        zero cell, none.
    drop00 : bool
        If true, studies with no events (or only events) in both groups (2x2 tables) or no
        events in both groups (``"IRR"``) get ``yi = vi = NaN``, as metafor's ``NA``; the
        Mantel-Haenszel and Peto methods exclude them. This is the only case with NaN output.

    Returns
    -------
    EffectSizes
        ``yi``, ``vi`` (one entry per study, input order), ``measure``, ``labels``.

    Raises
    ------
    InputError
        Unknown measure, missing or superfluous argument, unknown column, mismatched lengths,
        or a study whose input is impossible or whose measure is undefined (e.g. a zero cell
        with ``to="none"``); the message names the study and the field.

    Examples
    --------
    >>> es = effect_sizes("OR", ai=[4, 6], bi=[119, 300], ci=[11, 29], di=[128, 274])
    >>> es.yi.round(4).tolist()
    [-0.9387, -1.6662]
    """
    code = choice(measure, list(MEASURES), "measure")
    spec = MEASURES[code]
    to = choice(to, TO_OPTIONS, "to")
    given = {name: value for name, value in dict(
        ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, x1i=x1i, x2i=x2i, t1i=t1i, t2i=t2i,
        m1i=m1i, m2i=m2i, sd1i=sd1i, sd2i=sd2i, xi=xi, mi=mi, ri=ri, ti=ti, ni=ni).items()
        if value is not None}
    _check_arguments(spec, given)
    add_value = _continuity_add(spec, add)

    raw = {name: _resolve(name, value, data) for name, value in given.items()}
    k = check_same_length(raw)
    labs = _labels(labels, data, k)
    names = {f: (v if isinstance(v, str) else f) for f, v in given.items()}
    x = {f: as_float_array(v, names[f], labs) for f, v in raw.items()}
    for f, arr in x.items():
        check_finite(arr, names[f], labs)

    prepared, dropped = _PREPARE[spec.family](x, names, labs, drop00)
    if spec.default_add is not None:
        cells = _CELLS[spec.family]
        corrected = add_to_cells([prepared[f] for f in cells], add_value, to, dropped)
        for f, arr in zip(cells, corrected):
            prepared[f] = arr
    with np.errstate(divide="ignore", invalid="ignore"):
        yi, vi = (np.asarray(v, dtype=np.float64) for v in spec.kernel(prepared))
    yi[dropped] = np.nan
    vi[dropped] = np.nan
    _check_defined(spec, yi, vi, dropped, labs, names)
    return EffectSizes(measure=code, yi=yi, vi=vi, labels=labs)


# --- arguments ------------------------------------------------------------------------------------
def _check_arguments(spec: Measure, given: Mapping[str, Any]) -> None:
    allowed = FAMILY_FIELDS[spec.family]
    extra = [f for f in given if f not in allowed]
    if extra:
        raise InputError(f"measure {spec.code!r} does not use argument(s) {', '.join(extra)}; "
                         f"it takes {', '.join(allowed)}")
    for need in _REQUIRED[spec.family]:
        options = need if isinstance(need, tuple) else (need,)
        if not any(o in given for o in options):
            raise InputError(f"measure {spec.code!r} needs argument "
                             f"{' or '.join(map(repr, options))} ({spec.description})")


def _continuity_add(spec: Measure, add: float | None) -> float:
    if add is None:
        return spec.default_add or 0.0
    if (not isinstance(add, (int, float, np.integer, np.floating)) or not np.isfinite(add)
            or add < 0):
        raise InputError(f"field 'add': the continuity correction must be a number >= 0, "
                         f"got {add!r}")
    return float(add)


def _resolve(field: str, value: Any, data: Any) -> np.ndarray:
    """Column ``value`` of ``data`` (when ``value`` is a string) or ``value`` itself, as 1-d."""
    if isinstance(value, str):
        if data is None:
            raise InputError(f"field {field!r}: {value!r} looks like a column name, but no data= "
                             f"was given")
        if not isinstance(data, (pd.DataFrame, Mapping)):
            raise InputError(f"data: expected a pandas DataFrame or a mapping of columns, "
                             f"got {type(data).__name__}")
        if value not in data:
            raise InputError(f"field {field!r}: column {value!r} not found in data "
                             f"(columns: {', '.join(map(str, data.keys()))})")
        value = data[value]
    if isinstance(value, pd.Series):
        try:
            return value.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            return value.to_numpy()
    return np.atleast_1d(np.asarray(value))


def _labels(labels: Any, data: Any, k: int) -> Labels:
    if labels is None:
        return list(data.index) if isinstance(data, pd.DataFrame) else None
    if isinstance(labels, str):
        if data is None or labels not in data:
            raise InputError(f"field 'labels': column {labels!r} not found in data")
        labels = data[labels]
    return study_labels(labels, k)


# --- checks and preparation per family ------------------------------------------------------------
def _not_above(x: Arrays, names: Mapping[str, str], labels: Labels, part: str, total: str) -> None:
    bad = np.flatnonzero(x[part] > x[total])
    if bad.size:
        i = int(bad[0])
        raise row_error(labels, i, names[part], f"events ({x[part][i]:g}) exceed the group size "
                        f"{names[total]!r} ({x[total][i]:g})")


def _complete(x: Arrays, names: Mapping[str, str], labels: Labels,
              events: str, rest: str, total: str) -> None:
    """Fill in ``rest = total - events`` (or check it agrees when both are given)."""
    if total in x:
        _not_above(x, names, labels, events, total)
        if rest in x:
            bad = np.flatnonzero(x[events] + x[rest] != x[total])
            if bad.size:
                raise row_error(labels, int(bad[0]), names[total],
                                f"must equal {names[events]!r} + {names[rest]!r}")
        else:
            x[rest] = x[total] - x[events]
    bad = np.flatnonzero(x[events] + x[rest] <= 0)
    if bad.size:
        raise row_error(labels, int(bad[0]), names[total] if total in names else names[rest],
                        "the group has no participants; the group size must be > 0")


def _prep_table(x: Arrays, names: Mapping[str, str], labels: Labels,
                drop00: bool) -> tuple[Arrays, BoolArray]:
    for f, arr in x.items():
        check_bounds(arr, names[f], labels, lower=0)
    _complete(x, names, labels, "ai", "bi", "n1i")
    _complete(x, names, labels, "ci", "di", "n2i")
    a, b, c, d = x["ai"], x["bi"], x["ci"], x["di"]
    both = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    return {"ai": a, "bi": b, "ci": c, "di": d}, both & drop00


def _prep_rates(x: Arrays, names: Mapping[str, str], labels: Labels,
                drop00: bool) -> tuple[Arrays, BoolArray]:
    for f in ("x1i", "x2i"):
        check_bounds(x[f], names[f], labels, lower=0)
    for f in ("t1i", "t2i"):
        check_bounds(x[f], names[f], labels, lower=0, lower_strict=True)
    return dict(x), (x["x1i"] == 0) & (x["x2i"] == 0) & drop00


def _prep_means(x: Arrays, names: Mapping[str, str], labels: Labels,
                drop00: bool) -> tuple[Arrays, BoolArray]:
    for f in ("n1i", "n2i"):
        check_bounds(x[f], names[f], labels, lower=2)
    for f in ("sd1i", "sd2i"):
        check_bounds(x[f], names[f], labels, lower=0, lower_strict=True)
    return dict(x), np.zeros(len(x["n1i"]), bool)


def _prep_cor(x: Arrays, names: Mapping[str, str], labels: Labels,
              drop00: bool) -> tuple[Arrays, BoolArray]:
    check_bounds(x["ri"], names["ri"], labels, lower=-1, upper=1, lower_strict=True,
                 upper_strict=True)
    # metafor returns vi = NA for ni <= 4 ("cannot estimate the sampling variance")
    check_bounds(x["ni"], names["ni"], labels, lower=5)
    return dict(x), np.zeros(len(x["ri"]), bool)


def _prep_pcor(x: Arrays, names: Mapping[str, str], labels: Labels,
               drop00: bool) -> tuple[Arrays, BoolArray]:
    check_bounds(x["mi"], names["mi"], labels, lower=0)
    bad = np.flatnonzero(x["ni"] - x["mi"] - 1 < 1)
    if bad.size:
        raise row_error(labels, int(bad[0]), names["ni"],
                        f"the residual degrees of freedom {names['ni']} - {names['mi']} - 1 "
                        f"must be >= 1, got {x['ni'][bad[0]] - x['mi'][bad[0]] - 1:g}")
    return dict(x), np.zeros(len(x["ti"]), bool)


def _prep_prop(x: Arrays, names: Mapping[str, str], labels: Labels,
               drop00: bool) -> tuple[Arrays, BoolArray]:
    for f, arr in x.items():
        check_bounds(arr, names[f], labels, lower=0)
    _complete(x, names, labels, "xi", "mi", "ni")
    return {"xi": x["xi"], "mi": x["mi"]}, np.zeros(len(x["xi"]), bool)


_Prepare = Callable[[Arrays, Mapping[str, str], Labels, bool], tuple[Arrays, BoolArray]]

_PREPARE: dict[str, _Prepare] = {
    "table": _prep_table, "rates": _prep_rates, "means": _prep_means,
    "cor": _prep_cor, "pcor": _prep_pcor, "prop": _prep_prop,
}

#: The inputs named when a study's measure is undefined.
_OUTCOME_FIELDS: dict[str, tuple[str, ...]] = {
    "table": ("ai", "bi", "n1i", "ci", "di", "n2i"), "rates": ("x1i", "x2i"),
    "means": ("m1i", "m2i"), "cor": ("ri",), "pcor": ("ti",), "prop": ("xi", "mi", "ni"),
}

#: The counts that receive the continuity correction, per family.
_CELLS: dict[str, tuple[str, ...]] = {
    "table": ("ai", "bi", "ci", "di"), "rates": ("x1i", "x2i"), "prop": ("xi", "mi"),
}


def _check_defined(spec: Measure, yi: FloatArray, vi: FloatArray, dropped: BoolArray,
                   labels: Labels, names: Mapping[str, str]) -> None:
    """Raise for a study whose measure is undefined (metafor would return NA)."""
    bad = np.flatnonzero(~dropped & ~(np.isfinite(yi) & np.isfinite(vi) & (vi > 0)))
    if not bad.size:
        return
    i = int(bad[0])
    hint = " (ROM needs two non-zero means of the same sign)" if spec.family == "means" else ""
    if spec.default_add is not None:
        hint = " (zero counts: use a continuity correction, add > 0 with to='only0')"
    field = "/".join(names[f] for f in _OUTCOME_FIELDS[spec.family] if f in names)
    raise row_error(labels, i, field, f"{spec.code} is undefined for this study "
                    f"(yi = {yi[i]:g}, vi = {vi[i]:g}){hint}")
