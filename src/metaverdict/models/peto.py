"""Peto's one-step pooled log odds ratio for 2x2 tables (R metafor ``rma.peto()``, 3.8).

Kernels take arrays whose last axis indexes studies; leading axes are a batch of analyses.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict._validation import check_level
from metaverdict.errors import InputError
from metaverdict.models._tables import (
    Array,
    PooledTablesResult,
    assemble,
    read_tables,
    table_outcomes,
)

__all__ = ["peto", "peto_odds_ratio", "peto_heterogeneity"]


def _observed_minus_expected(ai: Array, bi: Array, ci: Array, di: Array) -> tuple[Array, Array]:
    """Per-table ``O - E`` and hypergeometric variance ``V`` of cell ``a`` under no effect."""
    n1, n2, m1, m2 = ai + bi, ci + di, ai + ci, bi + di
    n = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(m1 * m2 > 0, m1 * m2 * (n1 / n) * (n2 / n) / (n - 1), 0.0)
    return ai - m1 * n1 / n, v


def peto_odds_ratio(ai: Array, bi: Array, ci: Array, di: Array) -> tuple[Array, Array]:
    """Peto's pooled log odds ratio and its standard error.

    ``log OR = sum (O_i - E_i) / sum V_i`` and ``SE = 1 / sqrt(sum V_i)``, with
    ``O_i = a_i``, ``E_i = (a_i + c_i) n1_i / N_i`` and
    ``V_i = (a_i + c_i)(b_i + d_i) n1_i n2_i / (N_i^2 (N_i - 1))``.

    References
    ----------
    Yusuf S, Peto R, Lewis J, Collins R, Sleight P (1985). Beta blockade during and after
    myocardial infarction: an overview of the randomized trials. Prog Cardiovasc Dis 27:335-371.
    """
    dev, v = _observed_minus_expected(ai, bi, ci, di)
    total = np.sum(v, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(dev, axis=-1) / total, 1 / np.sqrt(total)


def peto_heterogeneity(ai: Array, bi: Array, ci: Array, di: Array) -> tuple[Array, Array]:
    """Peto's heterogeneity statistic and the number of informative tables.

    ``Q = max(0, sum (O_i - E_i)^2 / V_i - (sum (O_i - E_i))^2 / sum V_i)`` over tables with
    ``V_i > 0``; its df in metafor is (studies with a finite outcome) - 1.
    """
    dev, v = _observed_minus_expected(ai, bi, ci, di)
    pos = v > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (np.sum(np.where(pos, dev**2 / np.where(pos, v, 1.0), 0.0), axis=-1)
             - np.sum(dev, axis=-1) ** 2 / np.sum(v, axis=-1))
    return np.maximum(0.0, q), np.sum(pos, axis=-1)


def peto(data: pd.DataFrame | None = None, *, ai: Any = None, bi: Any = None, ci: Any = None,
         di: Any = None, n1i: Any = None, n2i: Any = None, level: float = 0.95,
         labels: Any = None) -> PooledTablesResult:
    """Pool 2x2 tables with Peto's one-step odds ratio (metafor ``rma.peto``).

    Parameters
    ----------
    data : pandas.DataFrame, optional
        When given, the count arguments (and ``labels``) are column names in it.
    ai, bi, ci, di : column name or array-like
        Events / non-events in group 1 (``ai``, ``bi``) and group 2 (``ci``, ``di``);
        ``n1i``/``n2i`` (group sizes) may replace ``bi``/``di``.
    level : float
        Confidence level, a fraction (default 0.95).
    labels : column name or sequence, optional
        Study labels, used in error messages and kept on the result.

    Returns
    -------
    PooledTablesResult
        ``measure="OR"``, ``method="Peto"``; estimate on the log scale (see
        :func:`peto_odds_ratio`). Q is Peto's (:func:`peto_heterogeneity`) on ``k_yi - 1`` df;
        ``yi``, ``vi`` are the per-study Peto log odds ratios (``escalc`` measure ``PETO``:
        ``add=1/2``, ``to="only0"``, double-zero studies NaN).

    Raises
    ------
    InputError
        As :func:`~metaverdict.models.mantel_haenszel.mantel_haenszel`; in particular when
        no study has both outcomes (events and non-events), as Peto's method then has no
        information.

    References
    ----------
    Yusuf S, Peto R, Lewis J, Collins R, Sleight P (1985). Prog Cardiovasc Dis 27:335-371.
    Viechtbauer W (2010). J Stat Softw 36(3):1-48.
    """
    level = check_level(level)
    args = {"ai": ai, "bi": bi, "ci": ci, "di": di, "n1i": n1i, "n2i": n2i}
    counts, lab = read_tables(data, args, labels, "PETO")
    tables = tuple(counts[f] for f in ("ai", "bi", "ci", "di"))
    beta, se = peto_odds_ratio(*tables)
    if not np.isfinite(se):
        k = tables[0].size
        raise InputError(f"fields 'ai', 'ci': no study (rows 1-{k}) has both events and "
                         "non-events, so Peto's method has no information")
    yi, vi = table_outcomes("PETO", *tables)
    q, n_pos = peto_heterogeneity(*tables)
    return assemble("OR", "Peto", beta, se, yi, vi, level, lab, {},
                    q_override=(float(q), bool(n_pos > 1)), counts=counts)
