"""``effect_sizes``: metafor's ``escalc()`` for every measure, with checked input.

Each study's effect size ``yi`` and sampling variance ``vi`` are computed as metafor 5.0-1
computes them (defaults ``add=1/2``, ``to="only0"``, ``drop00=FALSE``, ``vtype="LS"``,
``correct=TRUE``), or as metafor 3.8-1 does with ``metafor="3.8"``; the formulas are in
:mod:`metaverdict.effects.measures`. A study with a missing (NaN/None) required input is left
out as metafor leaves it out (``yi = vi = NaN``), listed in ``EffectSizes.dropped`` and named in
a warning. Unlike ``escalc``, impossible input (negative counts, SD <= 0, |r| >= 1, events above
the group size, infinite values...) raises an :class:`~metaverdict.errors.InputError` naming
the study and the field, instead of yielding NA.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from metaverdict._validation import (
    as_float_array,
    check_bounds,
    check_same_length,
    choice,
    study_labels,
)
from metaverdict.effects.continuity import TO_OPTIONS, add_to_cells
from metaverdict.effects.measures import (
    D_INPUTS,
    MEASURES,
    Arrays,
    FloatArray,
    Measure,
    Options,
)
from metaverdict.effects.results import DroppedStudy, EffectSizes
from metaverdict.errors import InputError, row_error

Labels = list[Any] | None
BoolArray = npt.NDArray[np.bool_]
Names = Mapping[str, str]

_INPUTS = ("ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "x2i", "t1i", "t2i", "m1i", "m2i",
           "sd1i", "sd2i", "xi", "mi", "ri", "ti", "sdi", "r2i", "ni", "pi", "fi")
#: What a d (or t) from ``D_INPUTS`` stands for: m1i = d, m2i = 0, sd1i = sd2i = 1 (metafor).
_D_AS_MEANS = {"m1i": None, "m2i": 0.0, "sd1i": 1.0, "sd2i": 1.0}


def effect_sizes(measure: str, data: pd.DataFrame | Mapping[str, Any] | None = None, *,
                 ai: Any = None, bi: Any = None, ci: Any = None, di: Any = None,
                 n1i: Any = None, n2i: Any = None, x1i: Any = None, x2i: Any = None,
                 t1i: Any = None, t2i: Any = None, m1i: Any = None, m2i: Any = None,
                 sd1i: Any = None, sd2i: Any = None, xi: Any = None, mi: Any = None,
                 ri: Any = None, ti: Any = None, sdi: Any = None, r2i: Any = None,
                 ni: Any = None, pi: Any = None, fi: Any = None, labels: Any = None,
                 add: float | None = None,
                 to: str = "only0", drop00: bool = False, vtype: str | Sequence[str] = "LS",
                 correct: bool = True, metafor: str = "5.0") -> EffectSizes:
    """Effect sizes and sampling variances from reported statistics (metafor's ``escalc``).

    Parameters
    ----------
    measure : str
        metafor's code (case-insensitive); arguments use metafor's names.

        * 2x2 tables (``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``; ``ai``/``ci`` events in group
          1/2): ``"OR"`` log odds ratio, ``"RR"`` log risk ratio, ``"RD"`` risk difference,
          ``"PETO"`` Peto's log odds ratio, ``"AS"`` arcsine risk difference, ``"PHI"`` phi
          coefficient, ``"ZPHI"`` its Fisher z, ``"YUQ"`` Yule's Q, ``"YUY"`` Yule's Y,
          ``"RTET"`` tetrachoric correlation, ``"ZTET"`` its Fisher z, ``"PBIT"`` probit
          difference, ``"OR2D"``/``"OR2DL"`` and ``"OR2DN"`` log odds ratio as an SMD
          (logistic, normal). Paired tables (cells of the pre/post or matched-pairs table):
          ``"MPRD"``, ``"MPRR"``, ``"MPOR"`` (marginal), ``"MPORC"``, ``"MPPETO"``
          (conditional); ``"MPORM"``, the marginal log odds ratio from the marginal table
          (``ai``, ``bi``: treatment 1; ``ci``, ``di``: treatment 2) and the pairs'
          correlation ``ri``.
        * Person-time (``x1i, t1i, x2i, t2i``): ``"IRR"`` log rate ratio, ``"IRD"`` rate
          difference, ``"IRSD"`` square-root rate difference. One group (``xi`` events in
          ``ti`` person-time): ``"IR"``, ``"IRLN"`` (log), ``"IRS"`` (square root), ``"IRFT"``
          (Freeman-Tukey).
        * Two groups' means (``m1i, sd1i, n1i, m2i, sd2i, n2i``): ``"MD"``, ``"SMD"`` (Hedges'
          g; per study also from a reported d ``di``, two-sample t ``ti``, signed two-sided
          p-value ``pi`` of that t test or signed F statistic ``fi`` of the two-group ANOVA
          with ``n1i, n2i``, as metafor 5 takes them), ``"SMD1"`` (Glass: group 2's SD; no
          ``sd1i`` needed),
          ``"SMDH"``, ``"SMD1H"`` (heteroscedastic), ``"ROM"`` log ratio of means, ``"CVR"``
          log CV ratio, ``"VR"`` log SD ratio (no means needed), ``"RPB"``/``"ZPB"``
          point-biserial, ``"RBIS"``/``"ZBIS"`` biserial correlation (these four also from
          ``di``, ``ti``, ``pi`` or ``fi`` as SMD, metafor 5),
          ``"D2OR"``/``"D2ORL"``/``"D2ORN"`` d as a log odds ratio.
        * One group (``mi`` mean, ``sdi``, ``ni``): ``"MN"``, ``"SMN"`` (standardized),
          ``"MNLN"`` log mean, ``"CVLN"`` log CV, ``"SDLN"`` log SD (``sdi, ni`` only).
        * Pre-post or matched (``m1i, m2i, sd1i, sd2i, ni, ri``; ``ri`` the correlation of the
          two measurements): ``"MC"`` mean change, ``"SMCC"`` (change-score SD), ``"SMCR"``
          (raw-score SD ``sd1i``; no ``sd2i`` needed), ``"SMCRH"``, ``"SMCRP"`` (pooled SD),
          ``"SMCRPH"``, ``"ROMC"``, ``"CVRC"``, ``"VRC"`` (``sd1i, sd2i, ni, ri`` only).
        * Correlations (``ri, ni``): ``"COR"``, ``"UCOR"`` (unbiased), ``"ZCOR"`` (Fisher's z);
          per study also from the t statistic ``ti`` of the test of rho = 0 or its signed
          two-sided p-value ``pi`` (:math:`r = t/\\sqrt{t^2 + n - 2}`, metafor 5).
          From a regression's t statistic ``ti``, ``ni`` and number of predictors ``mi``:
          ``"PCOR"``, ``"ZPCOR"`` partial correlation, and with its ``r2i``: ``"SPCOR"``,
          ``"ZSPCOR"`` semi-partial; from its ``r2i``, ``mi`` predictors and ``ni``: ``"R2"``,
          ``"ZR2"`` (Fisher's z of R).
        * Proportions (``xi`` events of ``ni``, or ``mi`` non-events): ``"PR"``, ``"PLN"``
          (log), ``"PLO"`` (logit), ``"PRZ"`` (probit), ``"PAS"`` (arcsine), ``"PFT"``
          (Freeman-Tukey double arcsine).
        * Cronbach's alpha ``ai`` of ``mi`` items in ``ni`` people: ``"ARAW"``, ``"AHW"``
          (Hakstian-Whalen), ``"ABT"`` (Bonett).
        * Genotype counts (``ai, bi, ci`` with 0, 1, 2 copies of an allele): ``"REH"`` log
          relative excess heterozygosity.

        Formulas: :data:`~metaverdict.effects.measures.MEASURES`.
    data : pandas.DataFrame or mapping, optional
        When given, string arguments are column names in ``data``.
    ai, bi, ..., ni, sdi, r2i : str or array-like
        Column names or one value per study; a NaN/None value is a missing input. ``mi`` is
        the non-events (proportions), the number of predictors (PCOR, R2...), the mean (MN...)
        or the number of items (alpha), as in metafor; ``ti`` a person-time or a t statistic.
        ``pi`` and ``fi`` (SMD): the two-sided p-value of the two-sample t test and the F
        statistic (:math:`t^2`), each carrying the sign of the difference (group 1 minus
        group 2): :math:`|t| = t_{n_1+n_2-2}^{-1}(1 - |p|/2)`, :math:`|t| = \\sqrt{|F|}`
        (metafor 5's ``pi``, ``fi``).
    labels : str or sequence, optional
        Study labels (a column name or values); default: the index of a DataFrame ``data``.
        Error messages name studies by label (or by 1-based row number without labels).
    add : float, optional
        Continuity correction for zero counts (count measures only). Default as in metafor:
        1/2, except 0 for AS, PHI, ZPHI, RTET, ZTET, IRSD, PAS, PFT, IRS, IRFT.
    to : {"only0", "all", "if0all", "none"}
        Which studies get ``add``: those with a zero cell (default), all, all if any has a
        zero cell, none.
    drop00 : bool
        If true, studies with no events (or only events) in both groups (2x2 tables) or no
        events in both groups (person-time) get ``yi = vi = NaN``, as metafor's ``NA``.
    vtype : str or sequence of str
        metafor's ``vtype``, the variance estimator (one for every study, or one per study;
        those that average over the studies, such as ``"AV"``, average over all of them):
        ``"LS"`` (default, large-sample) for all
        measures; also ``"AV"`` (from the sample-size weighted mean outcome) for OR, RR, RD,
        SMD, SMD1, COR, UCOR, PCOR, SPCOR, ZSPCOR, R2, PR, PLN, PLO; ``"UB"`` (unbiased) for
        RD, MD, SMD, SMD1, UCOR, SMCC, SMCR, PR; ``"LS2"`` for SMD, SMD1, SMDH, SMCC, SMCR,
        SMCRH, SMCRPH, R2; ``"LS3"`` for SMDH; ``"HO"`` (homoscedastic) for MD, ROM, MN;
        ``"AVHO"`` for ROM; ``"ST"`` (stratified) and ``"CS"`` (cross-sectional sampling) for
        PHI, ZPHI, RPB, ZPB.
    correct : bool
        metafor 5's ``correct``: the small-sample bias corrections (Hedges' ``c(m)`` of the
        standardized measures, ``1/(2(n-1))`` of CVR, VR, CVLN, SDLN, and ROM's second-order
        correction). ``correct=False`` gives ROM as metafor 3.8-1 (``ln(m1/m2)``).
    metafor : {"5.0", "3.8"}
        Whose formulas where they differ: ``"5.0"`` (default, metafor 5.0-1) or ``"3.8"``
        (metafor 3.8-1: ROM without the bias correction, ZPCOR ``vi = 1/(n - m - 1)`` instead
        of ``1/(n - m - 2)``, PCOR ``(1 - r^2)^2/(n - m - 1)`` instead of ``/(n - m)``, SMDH
        and SMCRH ``vi`` multiplied by ``c(m)^2``, SMDH "LS2" and SMD1H with ``n`` where
        Bonett (2008) has ``n - 1``).

    Returns
    -------
    EffectSizes
        ``yi``, ``vi`` (one entry per study, input order), ``measure``, ``labels`` and
        ``dropped`` (the studies with NaN ``yi``, ``vi`` and why).

    Raises
    ------
    InputError
        Unknown measure or option, missing or superfluous argument, unknown column,
        mismatched lengths, or a study whose input is impossible or whose measure is undefined
        (e.g. a zero cell with ``to="none"``); the message names the study and the field.

    Warns
    -----
    UserWarning
        When studies with a missing input were left out (naming them and the fields).

    Examples
    --------
    >>> es = effect_sizes("OR", ai=[4, 6], bi=[119, 300], ci=[11, 29], di=[128, 274])
    >>> es.yi.round(4).tolist()
    [-0.9387, -1.6662]
    >>> smcr = effect_sizes("SMCR", m1i=[38.5], m2i=[30.6], sd1i=[15.0], ni=[20], ri=[0.47])
    >>> round(float(smcr.yi[0]), 4)
    0.5056
    """
    code = choice(measure, list(MEASURES), "measure")
    spec = MEASURES[code]
    to = choice(to, TO_OPTIONS, "to")
    options = _options(spec, vtype, correct, metafor)
    given = {name: value for name, value in zip(_INPUTS, (
        ai, bi, ci, di, n1i, n2i, x1i, x2i, t1i, t2i, m1i, m2i, sd1i, sd2i, xi, mi, ri, ti,
        sdi, r2i, ni, pi, fi)) if value is not None}
    _check_arguments(spec, given)
    add_value = _continuity_add(spec, add)

    raw = {name: _resolve(name, value, data) for name, value in given.items()}
    k = check_same_length(raw)
    if not isinstance(options.vtype, str):
        if len(options.vtype) != k:
            raise InputError(f"field 'vtype': {len(options.vtype)} values for {k} studies "
                             "(give one vtype, or one per study)")
        if len(set(options.vtype)) == 1:
            options = replace(options, vtype=options.vtype[0])
    labs = _labels(labels, data, k)
    names = {f: (v if isinstance(v, str) else f) for f, v in given.items()}
    x = {f: as_float_array(v, names[f], labs) for f, v in raw.items()}
    for f, arr in x.items():
        bad = np.flatnonzero(np.isinf(arr))
        if bad.size:
            raise row_error(labs, int(bad[0]), names[f],
                            f"must be a finite number (or missing), got {arr[bad[0]]}")
    missing_fields = {f: np.isnan(arr) for f, arr in x.items()}

    prepared, drop_00 = _PREPARE[spec.family](x, names, labs, drop00)
    missing = _missing_rows(spec, prepared, k)
    out = missing | drop_00
    if spec.default_add is not None:
        cells = _CELLS[spec.family]
        corrected = add_to_cells([prepared[f] for f in cells], add_value, to, out)
        prepared.update(zip(cells, corrected))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        yi, vi = (np.array(v, dtype=np.float64) for v in spec.kernel(prepared, options))
    yi, vi = np.broadcast_to(yi, (k,)).copy(), np.broadcast_to(vi, (k,)).copy()
    yi[out] = np.nan
    vi[out] = np.nan
    _check_defined(spec, yi, vi, out, labs, names)
    dropped = _dropped(missing, drop_00, missing_fields, names, labs)
    if missing.any():
        left = [d for d in dropped if d.reason == "missing input"]
        warnings.warn(f"{code}: {len(left)} stud{'y' if len(left) == 1 else 'ies'} with missing "
                      f"input left out (yi = vi = NaN): {'; '.join(map(str, left))}",
                      UserWarning, stacklevel=2)
    return EffectSizes(measure=code, yi=yi, vi=vi, labels=labs, dropped=dropped)


# --- arguments ------------------------------------------------------------------------------------
def _options(spec: Measure, vtype: str | Sequence[str], correct: bool, metafor: str
             ) -> Options:
    kinds = [vtype] if isinstance(vtype, str) else (
        list(vtype) if isinstance(vtype, (list, tuple, np.ndarray, pd.Series)) else [vtype])
    for i, kind in enumerate(kinds):
        if not isinstance(kind, str) or kind.upper() not in spec.vtypes:
            where = "" if isinstance(vtype, str) else f"study {i + 1}, "
            raise InputError(f"{where}field 'vtype': {spec.code} takes vtype "
                             f"{', '.join(spec.vtypes)}; got {kind!r}")
    if not kinds:
        raise InputError("field 'vtype': give one vtype, or one per study")
    if not isinstance(correct, (bool, np.bool_)):
        raise InputError(f"field 'correct': expected True or False, got {correct!r}")
    version = choice(metafor, ("5.0", "3.8"), "metafor")
    upper = tuple(str(kind).upper() for kind in kinds)
    return Options(vtype=upper[0] if isinstance(vtype, str) else upper,
                   correct=bool(correct), metafor="3.8" if version == "3.8" else "5.0")


def _check_arguments(spec: Measure, given: Mapping[str, Any]) -> None:
    allowed = spec.fields
    extra = [f for f in given if f not in allowed]
    if extra:
        raise InputError(f"measure {spec.code!r} does not use argument(s) {', '.join(extra)}; "
                         f"it takes {', '.join(allowed)}")
    with_d = spec.from_d and any(f in given for f in D_INPUTS)
    for need in (("n1i", "n2i") if with_d else spec.needs):
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
            value = value.to_numpy()
    arr = np.atleast_1d(np.asarray(value))
    if arr.dtype == object:      # None marks a missing value, as NaN does
        arr = np.array([np.nan if v is None or v is pd.NA else v for v in arr], dtype=object)
    return arr


def _labels(labels: Any, data: Any, k: int) -> Labels:
    if labels is None:
        return list(data.index) if isinstance(data, pd.DataFrame) else None
    if isinstance(labels, str):
        if data is None or labels not in data:
            raise InputError(f"field 'labels': column {labels!r} not found in data")
        labels = data[labels]
    return study_labels(labels, k)


# --- missing inputs -------------------------------------------------------------------------------
#: The inputs of the prepared arrays that a missing value in removes the study, per family
#: (after a 2x2 table or a proportion is completed from its totals).
_COMPLETED: dict[str, tuple[str, ...]] = {"table": ("ai", "bi", "ci", "di"), "prop": ("xi", "mi"),
                                          "cor": ("ri", "ni")}


def _missing_rows(spec: Measure, prepared: Arrays, k: int) -> BoolArray:
    needed = (_COMPLETED[spec.family] + spec.extra if spec.family in _COMPLETED
              else tuple(f for f in spec.needs if isinstance(f, str)))
    missing = np.zeros(k, bool)
    for f in needed:
        missing |= np.isnan(prepared[f])
    return missing


def _dropped(missing: BoolArray, drop_00: BoolArray, missing_fields: Mapping[str, BoolArray],
             names: Names, labels: Labels) -> tuple[DroppedStudy, ...]:
    rows = []
    for i in np.flatnonzero(missing | drop_00):
        label = labels[i] if labels is not None else None
        if missing[i]:
            fields = tuple(names[f] for f, m in missing_fields.items() if m[i])
            rows.append(DroppedStudy(int(i) + 1, label, fields, "missing input"))
        else:
            rows.append(DroppedStudy(int(i) + 1, label, (), "drop00"))
    return tuple(rows)


# --- checks and preparation per family ------------------------------------------------------------
def _bounds(x: Arrays, names: Names, labels: Labels, fields: tuple[str, ...], *,
            lower: float | None = None, upper: float | None = None,
            lower_strict: bool = False, upper_strict: bool = False) -> None:
    """``check_bounds`` on the given ``fields`` of ``x``, skipping missing (NaN) entries."""
    inside = (0.0 if lower is None and upper is None else
              (lower + upper) / 2 if lower is not None and upper is not None else
              lower + 1 if lower is not None else upper - 1 if upper is not None else 0.0)
    for f in fields:
        if f in x:
            check_bounds(np.where(np.isnan(x[f]), inside, x[f]), names[f], labels, lower=lower,
                         upper=upper, lower_strict=lower_strict, upper_strict=upper_strict)


def _complete(x: Arrays, names: Names, labels: Labels, events: str, rest: str,
              total: str) -> None:
    """Fill in ``rest = total - events`` where it is missing (or check it agrees)."""
    if total in x:
        bad = np.flatnonzero(x[events] > x[total])
        if bad.size:
            i = int(bad[0])
            raise row_error(labels, i, names[events], f"events ({x[events][i]:g}) exceed the "
                            f"group size {names[total]!r} ({x[total][i]:g})")
        if rest in x:
            both = np.isfinite(x[events] + x[rest] + x[total])
            bad = np.flatnonzero(both & (x[events] + x[rest] != x[total]))
            if bad.size:
                raise row_error(labels, int(bad[0]), names[total],
                                f"must equal {names[events]!r} + {names[rest]!r}")
            x[rest] = np.where(np.isnan(x[rest]), x[total] - x[events], x[rest])
        else:
            x[rest] = x[total] - x[events]
    bad = np.flatnonzero(x[events] + x[rest] <= 0)
    if bad.size:
        raise row_error(labels, int(bad[0]), names[total] if total in names else names[rest],
                        "the group has no participants; the group size must be > 0")


_Prepared = tuple[Arrays, BoolArray]


def _no_drop(x: Arrays) -> BoolArray:
    return np.zeros(len(next(iter(x.values()))), bool)


def _prep_table(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, tuple(f for f in x if f != "ri"), lower=0)
    _complete(x, names, labels, "ai", "bi", "n1i")
    _complete(x, names, labels, "ci", "di", "n2i")
    a, b, c, d = x["ai"], x["bi"], x["ci"], x["di"]
    both = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    out = {"ai": a, "bi": b, "ci": c, "di": d}
    if "ri" in x:                                # MPORM
        _bounds(x, names, labels, ("ri",), lower=-1, upper=1)
        out["ri"] = x["ri"]
    return out, both & drop00


def _prep_rates(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("x1i", "x2i"), lower=0)
    _bounds(x, names, labels, ("t1i", "t2i"), lower=0, lower_strict=True)
    return dict(x), (x["x1i"] == 0) & (x["x2i"] == 0) & drop00


def _prep_means(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("n1i", "n2i"), lower=2)
    _bounds(x, names, labels, ("sd1i", "sd2i"), lower=0, lower_strict=True)
    out = dict(x)
    if any(f in x for f in D_INPUTS):   # a d (or t) where given stands in for the means
        nan = np.full(len(x["n1i"]), np.nan)
        d = x.get("di", nan)
        t = _t_statistic(x, names, labels, x["n1i"] + x["n2i"] - 2)
        d = np.where(np.isnan(d), t * np.sqrt(1 / x["n1i"] + 1 / x["n2i"]), d)
        has_d = np.isfinite(d)
        for f, value in _D_AS_MEANS.items():
            out[f] = np.where(has_d, d if value is None else value, x.get(f, nan))
    return out, _no_drop(x)


def _prep_cor(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("ri",), lower=-1, upper=1, lower_strict=True, upper_strict=True)
    # metafor returns vi = NA for ni <= 4 ("cannot estimate the sampling variance")
    _bounds(x, names, labels, ("ni",), lower=5)
    out = dict(x)
    if "ti" in x or "pi" in x:           # metafor 5: r from the t test of rho = 0 (n - 2 df)
        t = _t_statistic(x, names, labels, x["ni"] - 2)
        with np.errstate(divide="ignore", over="ignore"):
            r = np.sign(t) / np.sqrt(1 + (x["ni"] - 2) / t ** 2)   # no overflow of t²
        out["ri"] = np.where(np.isnan(x["ri"]), r, x["ri"]) if "ri" in x else r
    return out, _no_drop(x)


def _t_statistic(x: Arrays, names: Names, labels: Labels, df: FloatArray) -> FloatArray:
    """The t statistic of each study from ``ti``, else from the signed two-sided p-value
    ``pi`` (:math:`|t| = t_{df}^{-1}(1 - |p|/2)`), else from the signed F statistic ``fi``
    (:math:`|t| = \\sqrt{|F|}`); NaN where none is given."""
    k = len(df)
    t = np.array(x.get("ti", np.full(k, np.nan)), dtype=float)
    if "pi" in x:
        _bounds(x, names, labels, ("pi",), lower=-1, upper=1)
        zero = np.flatnonzero(x["pi"] == 0)
        if zero.size:
            raise row_error(labels, int(zero[0]), names["pi"],
                            "a p-value of 0 gives no t statistic (give the statistic itself)")
        with np.errstate(invalid="ignore"):
            t_p = -np.sign(x["pi"]) * special.stdtrit(df, np.abs(x["pi"]) / 2)  # upper tail
        t = np.where(np.isnan(t), t_p, t)
    if "fi" in x:
        t = np.where(np.isnan(t), np.sign(x["fi"]) * np.sqrt(np.abs(x["fi"])), t)
    return t


def _residual_df(x: Arrays, names: Names, labels: Labels) -> None:
    """``ni - mi - 1 >= 1`` (the residual degrees of freedom of a regression with ``mi``
    predictors), else an :class:`InputError` naming the first row."""
    bad = np.flatnonzero(x["ni"] - x["mi"] - 1 < 1)
    if bad.size:
        raise row_error(labels, int(bad[0]), names["ni"],
                        f"the residual degrees of freedom {names['ni']} - {names['mi']} - 1 "
                        f"must be >= 1, got {x['ni'][bad[0]] - x['mi'][bad[0]] - 1:g}")


def _prep_pcor(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("mi",), lower=0)
    _bounds(x, names, labels, ("r2i",), lower=0, upper=1)
    _residual_df(x, names, labels)
    return dict(x), _no_drop(x)


def _prep_prop(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, tuple(x), lower=0)
    _complete(x, names, labels, "xi", "mi", "ni")
    return {"xi": x["xi"], "mi": x["mi"]}, _no_drop(x)


def _prep_rate1(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("xi",), lower=0)
    _bounds(x, names, labels, ("ti",), lower=0, lower_strict=True)
    return dict(x), _no_drop(x)


def _prep_mean1(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("ni",), lower=2)
    _bounds(x, names, labels, ("sdi",), lower=0, lower_strict=True)
    return dict(x), _no_drop(x)


def _prep_change(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("ni",), lower=2)
    _bounds(x, names, labels, ("sd1i", "sd2i"), lower=0, lower_strict=True)
    _bounds(x, names, labels, ("ri",), lower=-1, upper=1)
    return dict(x), _no_drop(x)


def _prep_genotype(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("ai", "bi", "ci"), lower=0)
    return dict(x), _no_drop(x)


def _prep_r2(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("r2i",), lower=0, upper=1)
    _bounds(x, names, labels, ("mi",), lower=1)
    _residual_df(x, names, labels)
    return dict(x), _no_drop(x)


def _prep_alpha(x: Arrays, names: Names, labels: Labels, drop00: bool) -> _Prepared:
    _bounds(x, names, labels, ("ai",), upper=1, upper_strict=True)
    _bounds(x, names, labels, ("mi",), lower=2)
    _bounds(x, names, labels, ("ni",), lower=3)
    return dict(x), _no_drop(x)


_Prepare = Callable[[Arrays, Names, Labels, bool], _Prepared]

_PREPARE: dict[str, _Prepare] = {
    "table": _prep_table, "rates": _prep_rates, "means": _prep_means, "cor": _prep_cor,
    "pcor": _prep_pcor, "prop": _prep_prop, "rate1": _prep_rate1, "mean1": _prep_mean1,
    "change": _prep_change, "alpha": _prep_alpha, "genotype": _prep_genotype,
    "r2": _prep_r2,
}

#: The inputs named when a study's measure is undefined.
_OUTCOME_FIELDS: dict[str, tuple[str, ...]] = {
    "table": ("ai", "bi", "n1i", "ci", "di", "n2i"), "rates": ("x1i", "x2i"),
    "means": ("m1i", "m2i", "sd1i", "sd2i"), "cor": ("ri",), "pcor": ("ti",),
    "prop": ("xi", "mi", "ni"), "rate1": ("xi",), "mean1": ("mi", "sdi"),
    "change": ("m1i", "m2i", "sd1i", "sd2i", "ri"), "alpha": ("ai",),
    "genotype": ("ai", "bi", "ci"), "r2": ("r2i",),
}

#: The counts that receive the continuity correction, per family.
_CELLS: dict[str, tuple[str, ...]] = {
    "table": ("ai", "bi", "ci", "di"), "rates": ("x1i", "x2i"), "prop": ("xi", "mi"),
    "rate1": ("xi",),
}

_HINTS: dict[str, str] = {
    "ROM": " (ROM needs two non-zero means of the same sign)",
    "ROMC": " (ROMC needs two non-zero means of the same sign)",
    "CVR": " (CVR needs two non-zero means of the same sign)",
    "CVRC": " (CVRC needs two non-zero means of the same sign)",
    "MNLN": " (MNLN needs a positive mean)", "CVLN": " (CVLN needs a positive mean)",
}


def _check_defined(spec: Measure, yi: npt.NDArray[np.float64], vi: npt.NDArray[np.float64],
                   out: BoolArray, labels: Labels, names: Names) -> None:
    """Raise for a study whose measure is undefined (metafor would return NA)."""
    bad = np.flatnonzero(~out & ~(np.isfinite(yi) & np.isfinite(vi) & (vi > 0)))
    if not bad.size:
        return
    i = int(bad[0])
    hint = _HINTS.get(spec.code, "")
    if spec.default_add is not None:
        hint = " (zero counts: use a continuity correction, add > 0 with to='only0')"
    field = "/".join(names[f] for f in _OUTCOME_FIELDS[spec.family] if f in names)
    raise row_error(labels, i, field, f"{spec.code} is undefined for this study "
                    f"(yi = {yi[i]:g}, vi = {vi[i]:g}){hint}")
