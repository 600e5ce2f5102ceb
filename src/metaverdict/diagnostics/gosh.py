"""GOSH: the model fitted to subsets of its studies (metafor ``gosh``; Olkin, Dahabreh &
Trikalinos 2012, "graphical display of study heterogeneity")."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metaverdict._results import TableResult, fmt, read_only
from metaverdict.diagnostics._refit import refit_subsets, require_result
from metaverdict.diagnostics.tables import refit_tables
from metaverdict.errors import InputError
from metaverdict.models._tables import PooledTablesResult
from metaverdict.models.results import MetaAnalysisResult

#: At most this many subsets are fitted unless ``subsets`` says otherwise (metafor's default).
DEFAULT_SUBSETS = 10**6
#: Subsets fitted together in one batch.
_BLOCK = 1 << 16


@dataclass(frozen=True, eq=False, repr=False)
class GoshResult(TableResult):
    """Fits of a model on subsets of its studies.

    ``table`` (a new DataFrame on each access) has one row per subset, ordered by subset size
    (then, with ``exact``, in metafor's order): ``k``, Cochran's ``q``, ``i2`` (percent),
    ``h2``, ``tau2`` and the coefficients (``estimate`` for a model without moderators, else
    one column per term); NaN where the fit is not defined (a meta-regression subset with a
    rank-deficient design, or with no residual df for tau²). ``included`` (read-only, one row
    per subset, one column per study) says which studies each subset holds. ``exact``: every
    subset was fitted (else ``n_subsets`` random ones).
    """

    method: str
    k: int
    exact: bool
    n_subsets: int
    study_labels: tuple[Any, ...]
    included: np.ndarray
    _table: pd.DataFrame
    _repr_fields = ("method", "k", "exact", "n_subsets")

    def summary(self) -> str:
        t = self._table
        coefs = list(t.columns[5:])
        est = coefs[0] if len(coefs) == 1 else coefs[1]    # the slope, as gosh_plot shows
        fitted = t[coefs].notna().all(axis=1)
        lines = [f"GOSH: {self.n_subsets} subsets of k = {self.k} studies "
                 f"({'all' if self.exact else 'random'}; {self.method}), "
                 f"{int(fitted.sum())} fitted"]
        for col, name in ((est, est), ("i2", "I^2 (%)"), ("tau2", "tau^2")):
            vals = t.loc[fitted, col]
            lines.append(f"  {name}: median {fmt(float(vals.median()))}, range "
                         f"{fmt(float(vals.min()))} to {fmt(float(vals.max()))}")
        return "\n".join(lines)


def gosh(res: MetaAnalysisResult | PooledTablesResult, subsets: int | None = None,
         seed: int | None = None) -> GoshResult:
    """Fit ``res`` to every subset of its studies, or to random subsets (metafor ``gosh``).

    The subsets hold at least as many studies as the model has coefficients. When there are
    at most ``subsets`` of them (default :data:`DEFAULT_SUBSETS`, 10^6), all are fitted
    (``exact``), in metafor's order: by size, then by the binary number whose bit ``i`` is
    study ``i``. Otherwise ``subsets`` random ones are drawn as metafor does (a size from
    Binomial(k, 1/2) restricted to the possible sizes, then that many distinct studies), with
    NumPy's generator seeded by ``seed`` (so not R's draws). Each fit uses the estimator,
    test, level, weights and fixed tau² of ``res``; subsets of equal size are fitted together
    as one batch. A Mantel-Haenszel or Peto pooling is pooled again on each subset (tau² is
    0; about 2 ms per subset). For EE/FE and DL fits without moderators or weights, ``h2`` is
    :math:`Q/(k-1)` as metafor's ``gosh`` reports it (its shortcut for these models), which
    is below 1 where :math:`Q < k - 1`; a refit of such a subset reports :math:`H^2 = 1`
    there (tau² = 0). Every other column is what a refit gives.

    Parameters
    ----------
    res : MetaAnalysisResult or PooledTablesResult
        A fit of :func:`metaverdict.meta_analysis` (a meta-regression too), or a
        :func:`metaverdict.mantel_haenszel` / :func:`metaverdict.peto` pooling.
    subsets : int, optional
        The largest number of subsets to fit (default 10^6).
    seed : int, optional
        Seed of the random subsets (ignored when all are fitted).

    Returns
    -------
    GoshResult

    Raises
    ------
    InputError
        Another result type, a single study, or ``subsets`` not a positive integer.

    Examples
    --------
    >>> import metaverdict as mv
    >>> res = mv.meta_analysis([0.1, 0.3, 0.5, 0.2, 0.6], [0.01, 0.02, 0.015, 0.01, 0.03])
    >>> g = mv.gosh(res)
    >>> g.n_subsets, g.exact
    (31, True)
    >>> g.table.iloc[-1][["k", "estimate"]].round(4).tolist()
    [5.0, 0.3153]

    References
    ----------
    Olkin I, Dahabreh IJ, Trikalinos TA (2012). GOSH - a graphical display of study
    heterogeneity. *Research Synthesis Methods* 3:214-223.
    """
    require_result(res, "gosh", MetaAnalysisResult, PooledTablesResult)
    tables = isinstance(res, PooledTablesResult)
    k, p = res.k, 1 if tables else res.p
    if k < 2:
        raise InputError(f"gosh() needs at least 2 studies, got k = {k}")
    limit = DEFAULT_SUBSETS if subsets is None else subsets
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise InputError(f"field 'subsets': a positive integer expected, got {subsets!r}")
    sizes = np.arange(p, k + 1)
    total = sum(math.comb(k, int(n)) for n in sizes)
    exact = total <= limit
    included = _all_subsets(k, p) if exact else _random_subsets(k, p, int(limit), seed)
    n_in = included.sum(axis=1)
    names = ["estimate"] if tables or p == 1 else list(res.terms)
    values = np.full((len(included), 5 + len(names)), np.nan)
    values[:, 0] = n_in
    if tables:
        assert isinstance(res, PooledTablesResult)
        _pool_subsets(res, included, values)
    for n in ([] if tables else np.unique(n_in)):
        rows = np.flatnonzero(n_in == n)
        for start in range(0, len(rows), _BLOCK):
            block = rows[start:start + _BLOCK]
            with np.errstate(all="ignore"):
                fits = refit_subsets(res, included[block])
            values[block, 1] = fits.q
            values[block, 2] = fits.i2
            values[block, 3] = fits.h2
            values[block, 4] = fits.tau2
            values[block, 5:] = fits.beta
    if not tables and p == 1 and res.user_weights is None and res.method in ("EE", "FE", "DL"):
        # metafor's shortcut for these fits reports H² = Q/(k - 1), also below 1
        values[:, 3] = np.where(n_in > 1, values[:, 1] / np.maximum(n_in - 1, 1), 1.0)
    undefined = np.isnan(values[:, 5:]).any(axis=1)      # metafor: NA in every statistic
    values[undefined, 1:] = np.nan
    table = pd.DataFrame(values, columns=["k", "q", "i2", "h2", "tau2", *names])
    table["k"] = n_in
    labels = tuple(res.labels) if res.labels is not None else tuple(range(1, k + 1))
    return GoshResult(method=res.method, k=k, exact=exact, n_subsets=len(included),
                      study_labels=labels, included=read_only(included), _table=table)


def _pool_subsets(res: PooledTablesResult, included: np.ndarray, values: np.ndarray) -> None:
    """Mantel-Haenszel or Peto: each subset pooled again (one call each; tau² is 0, as in
    metafor's ``gosh.rma.mh`` / ``.rma.peto``)."""
    for row, keep in enumerate(included):
        fit = refit_tables(res, np.flatnonzero(keep))
        if fit is not None:
            values[row, 1:] = (fit.q, fit.i2, fit.h2, 0.0, fit.estimate)


def _all_subsets(k: int, p: int) -> np.ndarray:
    """Every subset of at least ``p`` of ``k`` studies, by size, then by the binary number
    whose bit i is study i (R's ``expand.grid`` order, then a stable ``order`` by size)."""
    codes = np.arange(1, 1 << k, dtype=np.int64)
    bits = ((codes[:, None] >> np.arange(k)) & 1).astype(bool)
    bits = bits[bits.sum(axis=1) >= p]
    order = np.argsort(bits.sum(axis=1), kind="stable")
    out: np.ndarray = bits[order]
    return out


def _random_subsets(k: int, p: int, m: int, seed: int | None) -> np.ndarray:
    """``m`` random subsets as metafor draws them: a size in p..k with probabilities
    proportional to the Binomial(k, 1/2) ones, then that many distinct studies; sorted by
    size (stable)."""
    rng = np.random.default_rng(seed)
    sizes = np.arange(p, k + 1)
    weights = np.array([math.comb(k, int(n)) for n in sizes], dtype=float)
    drawn = rng.choice(sizes, size=m, p=weights / weights.sum())
    keys = rng.random((m, k))
    rank = np.argsort(np.argsort(keys, axis=1), axis=1)       # a random order of the studies
    included = rank < drawn[:, None]
    out: np.ndarray = included[np.argsort(drawn, kind="stable")]
    return out


__all__ = ["DEFAULT_SUBSETS", "GoshResult", "gosh"]
