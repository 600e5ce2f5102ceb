"""Mantel-Haenszel pooling of 2x2 tables (OR, RR, RD) and of incidence data (IRR, IRD).

The equivalent of R metafor's ``rma.mh()`` (3.8) with its defaults: the pooled estimate uses the
raw counts (no continuity correction, double-zero studies kept), the heterogeneity test uses
per-study outcomes computed with ``add=1/2, to="only0", drop00=TRUE``, and the CMH / MH tests
use the continuity correction 1/2.

Kernels (``mh_*``, ``cmh_tests``, ``breslow_day``, ``mh_rate_test``) take arrays whose last axis
indexes studies; leading axes are a batch of independent analyses.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from metaverdict._validation import check_level, choice
from metaverdict.effects import effect_sizes
from metaverdict.errors import InputError
from metaverdict.models._tables import (
    Array,
    PooledTablesResult,
    assemble,
    chi2_pvalue,
    rate_outcomes,
    read_rates,
    read_tables,
    table_outcomes,
)

__all__ = ["mantel_haenszel", "mh_odds_ratio", "mh_risk_ratio", "mh_risk_difference",
           "mh_rate_ratio", "mh_rate_difference", "cmh_tests", "breslow_day", "mh_rate_test"]

MEASURES = ("OR", "RR", "RD", "IRR", "IRD")


def _sum(x: Array) -> Array:
    total: Array = np.sum(x, axis=-1)
    return total


def mh_odds_ratio(ai: Array, bi: Array, ci: Array, di: Array) -> tuple[Array, Array]:
    """Mantel-Haenszel log odds ratio and its Robins-Breslow-Greenland standard error.

    With ``R_i = a_i d_i / N_i``, ``S_i = b_i c_i / N_i``, ``P_i = (a_i + d_i)/N_i`` and
    ``Q_i = (b_i + c_i)/N_i``: ``OR_MH = R/S`` (``R = sum R_i``, ``S = sum S_i``) and

    ``Var(log OR_MH) = [sum P_i R_i / R^2 + sum (P_i S_i + Q_i R_i) / (R S)
    + sum Q_i S_i / S^2] / 2``.

    NaN when ``R`` or ``S`` is 0 (the ratio is 0 or infinite), as in metafor.

    References
    ----------
    Mantel N, Haenszel W (1959). J Natl Cancer Inst 22:719-748.
    Robins J, Breslow N, Greenland S (1986). Biometrics 42:311-323.
    """
    n = ai + bi + ci + di
    p, q = (ai + di) / n, (bi + ci) / n
    r, s = ai * di / n, bi * ci / n
    big_r, big_s = _sum(r), _sum(s)
    ok = (big_r > 0) & (big_s > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.log(big_r / big_s)
        var = 0.5 * (_sum(p * r) / big_r**2 + _sum(p * s + q * r) / (big_r * big_s)
                     + _sum(q * s) / big_s**2)
    return np.where(ok, beta, np.nan), np.where(ok, np.sqrt(var), np.nan)


def mh_risk_ratio(ai: Array, bi: Array, ci: Array, di: Array) -> tuple[Array, Array]:
    """Mantel-Haenszel log risk ratio and its Greenland-Robins standard error.

    ``RR_MH = R/S`` with ``R = sum a_i n2_i / N_i``, ``S = sum c_i n1_i / N_i`` and

    ``Var(log RR_MH) = sum (n1_i n2_i (a_i + c_i) / N_i^2 - a_i c_i / N_i) / (R S)``.

    NaN when either group has no events in any study.

    References
    ----------
    Greenland S, Robins JM (1985). Biometrics 41:55-68.
    """
    n1, n2 = ai + bi, ci + di
    n = n1 + n2
    big_r, big_s = _sum(ai * (n2 / n)), _sum(ci * (n1 / n))
    ok = (_sum(ai) > 0) & (_sum(ci) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.log(big_r / big_s)
        var = _sum((n1 / n) * (n2 / n) * (ai + ci) - (ai / n) * ci) / (big_r * big_s)
    # exactly 0 when no study has non-events; rounding can make it a tiny negative number
    return np.where(ok, beta, np.nan), np.where(ok, np.sqrt(np.maximum(var, 0.0)), np.nan)


def mh_risk_difference(ai: Array, bi: Array, ci: Array, di: Array) -> tuple[Array, Array]:
    """Mantel-Haenszel risk difference and its Sato / Greenland-Robins standard error.

    With weights ``w_i = n1_i n2_i / N_i``: ``RD_MH = sum (a_i n2_i - c_i n1_i)/N_i / W``
    (``W = sum w_i``) and

    ``Var = [RD_MH sum (c_i (n1_i/N_i)^2 - a_i (n2_i/N_i)^2 + (n1_i/N_i)(n2_i/N_i)(n2_i - n1_i)/2)
    + sum (a_i (n2_i - c_i) + c_i (n1_i - a_i)) / (2 N_i)] / W^2``,

    the variance of Sato, Greenland & Robins, consistent in both sparse-data and large-strata
    limits (metafor's default).

    References
    ----------
    Greenland S, Robins JM (1985). Biometrics 41:55-68.
    Sato T, Greenland S, Robins JM (1989). Biometrics 45:1323-1324.
    """
    n1, n2 = ai + bi, ci + di
    n = n1 + n2
    f1, f2 = n1 / n, n2 / n
    w = _sum(n1 * f2)
    beta = _sum(ai * f2 - ci * f1) / w
    slope = _sum(ci * f1**2 - ai * f2**2 + f1 * f2 * (n2 - n1) / 2)
    rest = _sum(ai * (n2 - ci) / n + ci * (n1 - ai) / n) / 2
    # the variance is exactly 0 for all-or-none tables (p1, p2 in {0, 1}); rounding can make
    # it a tiny negative number, so it is truncated at 0 (se 0, not NaN)
    se = np.sqrt(np.maximum((beta * slope + rest) / w**2, 0.0))
    return beta, se


def mh_rate_ratio(x1i: Array, t1i: Array, x2i: Array, t2i: Array) -> tuple[Array, Array]:
    """Mantel-Haenszel log incidence-rate ratio and its standard error.

    ``IRR_MH = R/S`` with ``R = sum x1_i t2_i / T_i``, ``S = sum x2_i t1_i / T_i``
    (``T_i = t1_i + t2_i``) and ``Var(log IRR_MH) = sum (t1_i t2_i / T_i^2)(x1_i + x2_i) / (R S)``.

    NaN when either group has no events in any study.

    References
    ----------
    Greenland S, Robins JM (1985). Biometrics 41:55-68.
    Rothman KJ, Greenland S, Lash TL (2008). Modern Epidemiology, 3rd ed., ch. 15.
    """
    t = t1i + t2i
    big_r, big_s = _sum(x1i * (t2i / t)), _sum(x2i * (t1i / t))
    ok = (_sum(x1i) > 0) & (_sum(x2i) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.log(big_r / big_s)
        var = _sum((t1i / t) * (t2i / t) * (x1i + x2i)) / (big_r * big_s)
    return np.where(ok, beta, np.nan), np.where(ok, np.sqrt(var), np.nan)


def mh_rate_difference(x1i: Array, t1i: Array, x2i: Array, t2i: Array) -> tuple[Array, Array]:
    """Mantel-Haenszel incidence-rate difference and its standard error.

    With weights ``w_i = t1_i t2_i / T_i`` (``T_i = t1_i + t2_i``):
    ``IRD_MH = sum (x1_i t2_i - x2_i t1_i) / T_i / W`` (``W = sum w_i``) and
    ``SE = sqrt(sum w_i^2 (x1_i / t1_i^2 + x2_i / t2_i^2)) / W``, the estimator and variance of
    metafor's ``rma.mh(measure="IRD")``; an estimate on the rate scale (events per unit of
    person-time), defined (0, SE 0) even without events.

    References
    ----------
    Greenland S, Robins JM (1985). Biometrics 41:55-68.
    Rothman KJ, Greenland S, Lash TL (2008). Modern Epidemiology, 3rd ed., ch. 15.
    """
    t = t1i + t2i
    w = t1i * (t2i / t)
    big_w = _sum(w)
    beta = _sum((x1i * t2i - x2i * t1i) / t) / big_w
    se = np.sqrt(_sum(w**2 * (x1i / t1i**2 + x2i / t2i**2))) / big_w
    return beta, se


def cmh_tests(ai: Array, bi: Array, ci: Array, di: Array,
              correct: bool = True) -> tuple[Array, Array]:
    """Cochran-Mantel-Haenszel and Cochran chi² statistics (1 df) for a common OR of 1.

    ``X² = (|sum (a_i - n1_i m1_i / N_i)| - c)^2 / sum n1_i n2_i m1_i m2_i / (N_i^2 (N_i - 1))``
    with margins ``m1_i = a_i + c_i``, ``m2_i = b_i + d_i`` and ``c = 1/2`` when ``correct``;
    Cochran's version divides by ``N_i^2 N_i`` instead. Tables with a zero margin add nothing
    to the variance (metafor gives NaN for the degenerate ``N_i = 1``).

    Returns ``(cmh, cochran)``.

    References
    ----------
    Mantel N, Haenszel W (1959). J Natl Cancer Inst 22:719-748.
    Cochran WG (1954). Biometrics 10:417-451.
    """
    n1, n2, m1, m2 = ai + bi, ci + di, ai + ci, bi + di
    n = n1 + n2
    dev = (np.abs(_sum(ai - n1 * m1 / n)) - (0.5 if correct else 0.0)) ** 2
    base = (n1 / n) * (n2 / n) * m1 * m2
    informative = m1 * m2 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        v_mh = _sum(np.where(informative, base / np.where(informative, n - 1, 1.0), 0.0))
        v_co = _sum(base / n)
        return dev / v_mh, dev / v_co


def breslow_day(ai: Array, bi: Array, ci: Array, di: Array,
                odds_ratio: npt.ArrayLike) -> tuple[Array, Array, Array]:
    """Breslow-Day test of a common odds ratio, plain and with Tarone's correction.

    For each table, the expected count ``E_i`` of cell ``a`` under the common ``odds_ratio``
    ``psi`` with the table's margins fixed is the admissible root of
    ``E (m2 - n1 + E) = psi (n1 - E)(m1 - E)``, computed stably as
    ``E = 2 psi n1 m1 / (A + sqrt(A^2 - 4 psi (psi - 1) n1 m1))`` with
    ``A = psi (n1 + m1) + n2 - m1``. With ``V_i = 1 / (1/E + 1/(n1 - E) + 1/(m1 - E) +
    1/(n2 - m1 + E))``, over tables with ``E_i > 0`` and both outcomes present:

    ``BD = sum (a_i - E_i)^2 / V_i`` and ``Tarone = BD - (sum (a_i - E_i))^2 / sum V_i``,

    each chi² with (number of such tables - 1) df (both truncated at 0).

    Returns ``(bd, tarone, n_tables)``.

    References
    ----------
    Breslow NE, Day NE (1980). Statistical Methods in Cancer Research, vol. 1. IARC.
    Tarone RE (1985). Biometrika 72:91-95.
    """
    psi = np.expand_dims(np.asarray(odds_ratio, dtype=float), -1)
    n1, n2, m1, m2 = ai + bi, ci + di, ai + ci, bi + di
    big_a = psi * (n1 + m1) + n2 - m1
    with np.errstate(divide="ignore", invalid="ignore"):
        e11 = 2 * psi * n1 * m1 / (big_a + np.sqrt(big_a**2 - 4 * psi * (psi - 1) * n1 * m1))
        inv_v = 1 / e11 + 1 / (n1 - e11) + 1 / (m1 - e11) + 1 / (n2 - m1 + e11)
        use = (e11 > 0) & (m1 > 0) & (m2 > 0)
        dev = np.where(use, ai - e11, 0.0)
        bd = np.maximum(0.0, _sum(np.where(use, dev**2 * inv_v, 0.0)))
        tarone = np.maximum(0.0, bd - _sum(dev) ** 2 / _sum(np.where(use, 1 / inv_v, 0.0)))
    nan = ~np.isfinite(psi[..., 0])
    return np.where(nan, np.nan, bd), np.where(nan, np.nan, tarone), _sum(use)


def mh_rate_test(x1i: Array, t1i: Array, x2i: Array, t2i: Array,
                 correct: bool = True) -> Array:
    """Mantel-Haenszel chi² (1 df) for a common incidence-rate ratio of 1.

    ``X² = (|sum (x1_i - m_i t1_i / T_i)| - c)^2 / sum m_i t1_i t2_i / T_i^2`` with
    ``m_i = x1_i + x2_i`` and ``c = 1/2`` when ``correct``.

    References
    ----------
    Rothman KJ, Greenland S, Lash TL (2008). Modern Epidemiology, 3rd ed., ch. 15.
    """
    t = t1i + t2i
    m = x1i + x2i
    dev = (np.abs(_sum(x1i - m * t1i / t)) - (0.5 if correct else 0.0)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return dev / _sum(m * (t1i / t) * (t2i / t))


def mantel_haenszel(measure: str, data: pd.DataFrame | None = None, *,
                    ai: Any = None, bi: Any = None, ci: Any = None, di: Any = None,
                    n1i: Any = None, n2i: Any = None,
                    x1i: Any = None, t1i: Any = None, x2i: Any = None, t2i: Any = None,
                    level: float = 0.95, labels: Any = None,
                    correct: bool = True) -> PooledTablesResult:
    """Pool 2x2 tables or incidence data with the Mantel-Haenszel method (metafor ``rma.mh``).

    Parameters
    ----------
    measure : {"OR", "RR", "RD", "IRR", "IRD"}
        Odds ratio, risk ratio, risk difference (2x2 tables), incidence-rate ratio or
        incidence-rate difference.
    data : pandas.DataFrame, optional
        When given, the count arguments (and ``labels``) are column names in it.
    ai, bi, ci, di : column name or array-like
        Events / non-events in group 1 (``ai``, ``bi``) and group 2 (``ci``, ``di``);
        ``n1i``/``n2i`` (group sizes) may replace ``bi``/``di``.
    x1i, t1i, x2i, t2i : column name or array-like
        For ``IRR`` and ``IRD``: events and person-time in groups 1 and 2.
    level : float
        Confidence level, a fraction (default 0.95).
    labels : column name or sequence, optional
        Study labels, used in error messages and kept on the result.
    correct : bool
        Continuity correction 1/2 in the CMH / MH tests (metafor's default ``True``).

    Returns
    -------
    PooledTablesResult
        Estimate on the log scale (raw for ``RD`` and ``IRD``); Q, I², H² from the per-study
        outcomes
        ``yi``, ``vi`` (``add=1/2``, ``to="only0"``, double-zero studies excluded) around the MH
        estimate: ``Q = sum (yi - estimate)^2 / vi`` on ``k_yi - 1`` df. For ``OR`` also the
        Cochran-Mantel-Haenszel, Cochran, Breslow-Day and Tarone tests; for ``IRR`` the MH test.

    Raises
    ------
    InputError
        Unknown measure; missing or misnamed columns; lengths that differ; negative, fractional
        or missing counts; events above group sizes; empty groups; no events in any study
        (``OR``, ``RR``, ``IRR``, ``IRD``) or no non-events in any study (``OR``). The message
        names the study and the field.

    Notes
    -----
    The pooled estimate uses the raw counts (no continuity correction); studies with no events
    in either group add nothing to the OR/RR estimates but are counted in ``k`` and weigh in
    the RD. Where metafor's estimate is undefined (e.g. no events at all in one group, OR
    ``R = 0``), the estimate and dependent statistics are NaN, without an error, as metafor
    gives NA; tables without any events (or without any non-events) in either group pool to
    a risk difference of 0 with SE 0 (z and p NaN), as in metafor, and tables without
    non-events to a log risk ratio of 0 (SE 0; metafor's NaN there is rounding), while the OR
    of such tables, and the RR of tables without events, are undefined (InputError; metafor
    NA).

    References
    ----------
    Mantel N, Haenszel W (1959). J Natl Cancer Inst 22:719-748.
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [4, 6, 3], "b": [119, 300, 228], "c": [11, 29, 11],
    ...                    "d": [128, 274, 209]})
    >>> res = mantel_haenszel("OR", data=df, ai="a", bi="b", ci="c", di="d")
    >>> round(res.exp_estimate, 4)
    0.2433
    """
    measure = choice(measure, MEASURES, "measure")
    level = check_level(level)
    args = {"ai": ai, "bi": bi, "ci": ci, "di": di, "n1i": n1i, "n2i": n2i,
            "x1i": x1i, "t1i": t1i, "x2i": x2i, "t2i": t2i}
    extra: dict[str, Any] = {}
    if measure in ("IRR", "IRD"):
        counts, lab = read_rates(data, args, labels, measure)
        x1, t1, x2, t2 = (counts[f] for f in ("x1i", "t1i", "x2i", "t2i"))
        if measure == "IRR":
            beta, se = mh_rate_ratio(x1, t1, x2, t2)
            yi, vi = rate_outcomes(x1, t1, x2, t2)
            stat = float(mh_rate_test(x1, t1, x2, t2, correct))
            extra.update(cmh=stat, cmh_pvalue=float(chi2_pvalue(stat, 1)))
        else:
            beta, se = mh_rate_difference(x1, t1, x2, t2)
            es = effect_sizes("IRD", x1i=x1, t1i=t1, x2i=x2, t2i=t2, add=0.5, to="only0",
                              drop00=True)
            yi, vi = es.yi, es.vi
    else:
        # RD is defined (0) without events or without non-events, RR without non-events (0),
        # as in metafor; an OR, or an RR without events, is not
        counts, lab = read_tables(data, args, labels, measure,
                                  require_both_outcomes=measure == "OR")
        if measure == "RR" and not np.any(counts["ai"] + counts["ci"] > 0):
            k = counts["ai"].size
            raise InputError(f"fields 'ai', 'ci': no events in any of the {k} studies (rows "
                             f"1-{k}); the pooled risk ratio is undefined (metafor: NA)")
        tables = (counts["ai"], counts["bi"], counts["ci"], counts["di"])
        kernel = {"OR": mh_odds_ratio, "RR": mh_risk_ratio, "RD": mh_risk_difference}[measure]
        beta, se = kernel(*tables)
        yi, vi = table_outcomes(measure, *tables)
        if measure == "OR":
            extra = _odds_ratio_tests(tables, float(beta), correct)
    with np.errstate(divide="ignore", invalid="ignore"):
        return assemble(measure, "MH", beta, se, yi, vi, level, lab, extra, counts=counts)


def _odds_ratio_tests(tables: tuple[Array, Array, Array, Array], beta: float,
                      correct: bool) -> dict[str, Any]:
    cmh, cochran = (float(x) for x in cmh_tests(*tables, correct=correct))
    bd, ta, n_tables = breslow_day(*tables, np.exp(beta))
    df = int(n_tables) - 1

    def p_of(x: float) -> float:
        return float(chi2_pvalue(x, df)) if df >= 1 else float("nan")
    return dict(cmh=cmh, cmh_pvalue=float(chi2_pvalue(cmh, 1)),
                cochran=cochran, cochran_pvalue=float(chi2_pvalue(cochran, 1)),
                breslow_day=float(bd), breslow_day_pvalue=p_of(float(bd)),
                tarone=float(ta), tarone_pvalue=p_of(float(ta)),
                breslow_day_df=df if np.isfinite(beta) else None)

