"""Baujat plot data: each study's contribution to heterogeneity against its influence on the
pooled result (metafor ``baujat``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from metaverdict.diagnostics._refit import (
    design_of,
    leave_one_out_fits,
    require_result,
    study_index,
)
from metaverdict.errors import InputError
from metaverdict.models.results import MetaAnalysisResult


def baujat(res: MetaAnalysisResult) -> pd.DataFrame:
    """Coordinates of the Baujat plot.

    * ``x``: squared Pearson residual :math:`(y_i - x_i\\hat\\beta)^2/(v_i + \\hat\\tau^2)`, for a
      common-effect model the study's contribution to Cochran's Q;
    * ``y``: influence on the fitted value,
      :math:`(x_i\\hat\\beta_{(-i)} - x_i\\hat\\beta)^2 /
      x_i\\operatorname{Var}(\\hat\\beta_{(-i)})x_i'`,
      with the model refitted without study *i*.

    Returns
    -------
    DataFrame
        Columns x, y; one row per study.

    References
    ----------
    Baujat B, Mahé C, Pignon JP, Hill C (2002). A graphical method for exploring heterogeneity
    in meta-analyses: application to a meta-analysis of 65 trials. *Statistics in Medicine*
    21:2641-2652.
    """
    require_result(res, "baujat")
    if res.k < 2:
        raise InputError(f"Baujat plot data need at least 2 studies, got k = {res.k}")
    X = design_of(res)
    fitted = X @ res.beta
    fits = leave_one_out_fits(res)
    delpred = np.einsum("ij,ij->i", X, fits.beta)
    vdel = np.einsum("ij,ijl,il->i", X, fits.vb, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = (delpred - fitted) ** 2 / vdel
    x = (res.yi - fitted) ** 2 / (res.vi + res.tau2)
    return pd.DataFrame({"x": x, "y": y}, index=study_index(res))
