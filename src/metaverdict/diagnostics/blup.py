"""Best linear unbiased predictions of the study-specific true effects (metafor ``blup``) and of
the random effects (metafor ``ranef``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from metaverdict.diagnostics._refit import design_of, require_result, study_index
from metaverdict.errors import InputError
from metaverdict.models.inference import critical_value
from metaverdict.models.results import MetaAnalysisResult


def blup(res: MetaAnalysisResult) -> pd.DataFrame:
    """Empirical Bayes (shrunken) estimates of each study's true effect :math:`\\theta_i`.

    With the shrinkage factor :math:`\\lambda_i = \\hat\\tau^2/(\\hat\\tau^2 + v_i)` and the fitted
    value :math:`x_i\\hat\\beta`:

    .. math::  \\hat\\theta_i = \\lambda_i y_i + (1-\\lambda_i) x_i\\hat\\beta, \\qquad
               \\operatorname{Var} = \\lambda_i v_i
               + (1-\\lambda_i)^2 x_i \\operatorname{Var}(\\hat\\beta) x_i'

    and ``pi_lower``/``pi_upper`` = pred ∓ c·se, with c the normal quantile (the t quantile on
    k - p df for Hartung-Knapp).

    Returns
    -------
    DataFrame
        Columns pred, se, pi_lower, pi_upper; one row per study.

    References
    ----------
    Raudenbush SW, Bryk AS (1985). Empirical Bayes meta-analysis. *Journal of Educational
    Statistics* 10:75-98 (Appendix).
    """
    require_result(res, "blup")
    lam, fitted, xvx = _parts(res, "BLUPs")
    pred = lam * res.yi + (1 - lam) * fitted
    var = lam * res.vi + (1 - lam) ** 2 * xvx
    return _table(res, pred, var)


def ranef(res: MetaAnalysisResult) -> pd.DataFrame:
    """Predicted random effects :math:`u_i = \\theta_i - x_i\\beta` (metafor ``ranef``).

    .. math::  \\hat u_i = \\lambda_i (y_i - x_i\\hat\\beta), \\qquad
               \\operatorname{Var} = \\lambda_i v_i
               + \\lambda_i^2 x_i \\operatorname{Var}(\\hat\\beta) x_i'

    with :math:`\\lambda_i = \\hat\\tau^2/(\\hat\\tau^2 + v_i)` (0 for common-effect models, whose
    random effects are all 0). Columns and intervals as :func:`blup`.
    """
    require_result(res, "ranef")
    lam, fitted, xvx = _parts(res, "random effects")
    if res.is_common_effect:
        lam = np.zeros_like(lam)
    pred = lam * (res.yi - fitted)
    var = lam * res.vi + lam ** 2 * xvx
    return _table(res, pred, var)


def _parts(res: MetaAnalysisResult, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if res.user_weights is not None or res.method in ("GENQ", "GENQM"):
        raise InputError(f"{what} are not available for models with user weights "
                         "(weights= or GENQ/GENQM)")
    X = design_of(res)
    beta = res.beta
    lam = res.tau2 / (res.tau2 + res.vi) if np.isfinite(res.tau2) else np.ones(res.k)
    return lam, X @ beta, np.einsum("ij,jl,il->i", X, res.vcov, X)


def _table(res: MetaAnalysisResult, pred: np.ndarray, var: np.ndarray) -> pd.DataFrame:
    crit = critical_value(res.level, res.df)
    se = np.sqrt(var)
    return pd.DataFrame({"pred": pred, "se": se, "pi_lower": pred - crit * se,
                         "pi_upper": pred + crit * se}, index=study_index(res))
