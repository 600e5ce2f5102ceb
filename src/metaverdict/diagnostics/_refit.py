"""Refitting a model on subsets of its studies, shared by the diagnostics.

Subsets of equal size (every leave-one-out fit, for instance) are fitted together as one batch
through the kernels of :mod:`metaverdict.models`
(:func:`~metaverdict.models.random_effects.estimate_tau2` and
:func:`~metaverdict.models.inference.pool`), so ``k`` deletions cost one vectorised fit
instead of ``k`` separate ones; subsets of other sizes go through
:func:`metaverdict.models.univariate.fit`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from metaverdict._results import read_only
from metaverdict.errors import InputError
from metaverdict.models.inference import Pooled
from metaverdict.models.random_effects import (
    COMMON_EFFECT,
    SolverControl,
    Tau2Fit,
)
from metaverdict.models.results import MetaAnalysisResult
from metaverdict.models.univariate import fit, fit_batch, fixed_value


@dataclass(frozen=True)
class SubsetFits:
    """Fits on ``m`` subsets of equal size; arrays have a leading axis of length ``m``."""

    beta: np.ndarray        # (m, p)
    vb: np.ndarray          # (m, p, p), including the Hartung-Knapp factor
    se: np.ndarray          # (m, p)
    statistic: np.ndarray   # (m, p)
    pvalue: np.ndarray      # (m, p)
    ci_lower: np.ndarray    # (m, p)
    ci_upper: np.ndarray    # (m, p)
    tau2: np.ndarray
    q: np.ndarray
    q_pvalue: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    s2w: np.ndarray


def design_of(res: MetaAnalysisResult) -> np.ndarray:
    """The model matrix of ``res`` (a column of ones for intercept-only models)."""
    return np.ones((res.k, 1)) if res.design is None else np.asarray(res.design, dtype=float)


def require_result(res: Any, what: str, *types: type) -> None:
    """Raise an InputError naming the diagnostic ``what`` and the type of ``res`` unless
    ``res`` is one of ``types`` (default: a univariate :class:`MetaAnalysisResult`)."""
    types = types or (MetaAnalysisResult,)
    if not isinstance(res, types):
        need = " or ".join(t.__name__ for t in types)
        raise InputError(f"{what}() does not apply to a {type(res).__name__}; it needs a "
                         f"{need}")


def require_intercept_only(res: MetaAnalysisResult, what: str) -> None:
    """Raise unless ``res`` has no moderators (as metafor does for these methods)."""
    if res.design is not None and res.p > 1:
        raise InputError(f"{what} applies to models without moderators; this model has "
                         f"{res.p - 1} moderator coefficient(s) "
                         f"({', '.join(res.terms[1:])})")


def require_studies(res_k: int, p: int, method: str, what: str) -> None:
    """metafor's rule: a random-effects model needs more studies than coefficients
    (a common-effect model at least as many)."""
    need = p if method in COMMON_EFFECT else p + 1
    if res_k < need:
        raise InputError(f"{what} needs at least {need} studies for a {method} model with {p} "
                         f"coefficient(s), got k = {res_k}")


def refit_subsets(res: MetaAnalysisResult, keep: np.ndarray,
                  control: SolverControl = SolverControl()) -> SubsetFits:
    """Refit ``res`` (same estimator, test, level, weights) on each row of the boolean mask
    ``keep`` (shape ``(m, k)``, the same number of studies in every row).

    Rows whose design loses full rank are returned as NaN (metafor's ``coef.na``), as are
    DLIT / SJIT refits whose iteration does not settle (metafor's refit stops there), and
    all rows of a random-effects meta-regression left with no more studies than coefficients
    (no residual degrees of freedom for tau²; metafor's refits fail there, NA).
    """
    keep = np.asarray(keep, dtype=bool)
    m, k = keep.shape
    n = int(keep[0].sum())
    if not np.all(keep.sum(axis=1) == n):
        raise ValueError("refit_subsets needs subsets of equal size")
    idx = np.nonzero(keep)[1].reshape(m, n)
    y, v = res.yi[idx], res.vi[idx]
    X = design_of(res)[idx]                                       # (m, n, p)
    p = X.shape[-1]
    ok = np.linalg.matrix_rank(X) == p if p > 1 else np.ones(m, dtype=bool)
    out = _nan_fits(m, p)
    if p > 1 and n <= p and res.method not in COMMON_EFFECT:
        return out          # no residual df for tau²: metafor's refit fails, NA
    if not ok.any():
        return out
    y, v, X, idx = y[ok], v[ok], X[ok], idx[ok]
    a = None if res.user_weights is None else np.asarray(res.user_weights)[idx]
    fixed = fixed_value(res)
    t2, po = pool_batch(res.method, res.test, res.level, y, v, X if p > 1 else None, a, control,
                        None if fixed is None else np.full(len(y), fixed))
    for name, val in (("beta", po.beta), ("vb", po.vb), ("se", po.se), ("statistic", po.statistic),
                      ("pvalue", po.pvalue), ("ci_lower", po.ci_lower), ("ci_upper", po.ci_upper),
                      ("tau2", t2.tau2), ("q", po.q), ("q_pvalue", po.q_pvalue), ("i2", po.i2),
                      ("h2", po.h2), ("s2w", po.s2w)):
        getattr(out, name)[ok] = np.asarray(val)
    if res.method in ("DLIT", "SJIT"):      # an iteration that did not settle: metafor errs, NA
        unsettled = np.flatnonzero(ok)[~np.asarray(t2.converged)]
        for f in fields(out):
            getattr(out, f.name)[unsettled] = np.nan
    return out


def pool_batch(method: str, test: str, level: float, y: np.ndarray, v: np.ndarray,
               X: np.ndarray | None = None, weights: np.ndarray | None = None,
               control: SolverControl = SolverControl(),
               tau2: np.ndarray | None = None) -> tuple[Tau2Fit, Pooled]:
    """tau² and the pooled coefficients for a batch (``y``, ``v``: (m, n); ``X``: (m, n, p) or
    None): :func:`metaverdict.models.univariate.fit_batch`; ``tau2`` (m,) fixes tau²."""
    return fit_batch(method, test, level, y, v, X, weights, control, tau2)


def _nan_fits(m: int, p: int) -> SubsetFits:
    def nan(*shape: int) -> np.ndarray:
        return np.full((m, *shape), np.nan)
    return SubsetFits(nan(p), nan(p, p), nan(p), nan(p), nan(p), nan(p), nan(p), nan(), nan(),
                      nan(), nan(), nan(), nan())


def refit(res: MetaAnalysisResult, y: np.ndarray, v: np.ndarray, X: np.ndarray | None = None,
          names: list[str] | None = None, weights: np.ndarray | None = None,
          labels: list[Any] | None = None, test: str | None = None,
          control: SolverControl | None = None, tau2: float | None = None
          ) -> MetaAnalysisResult:
    """One refit with the estimator and settings of ``res`` on other data (``tau2``: fixed at
    this value instead of the fixed tau² of ``res``, if any)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return fit(y, v, method=res.method, test=test or res.test, level=res.level, X=X,
                   names=names, weights=weights, labels=labels, control=control or SolverControl(),
                   tau2=fixed_value(res) if tau2 is None else tau2)


def study_index(res: MetaAnalysisResult) -> pd.Index:
    """Study labels of ``res`` as a pandas Index (1..k when the model has none)."""
    labels = res.labels if res.labels is not None else list(range(1, res.k + 1))
    return pd.Index(labels, name="study")


def leave_one_out_fits(res: MetaAnalysisResult) -> SubsetFits:
    """The k fits of ``res`` without one study each (row i: study i left out), made once per
    fit and shared (read-only) by :func:`~metaverdict.diagnostics.leave_one_out`,
    :func:`~metaverdict.diagnostics.influence` and :func:`~metaverdict.diagnostics.baujat`."""
    def compute() -> SubsetFits:
        fits = refit_subsets(res, ~np.eye(res.k, dtype=bool))
        return SubsetFits(**{f.name: read_only(getattr(fits, f.name)) for f in fields(fits)})
    return res.derived("leave_one_out", compute)
