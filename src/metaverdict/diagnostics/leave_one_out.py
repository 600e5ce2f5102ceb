"""Leave-one-out analysis: the model refitted k times, each time without one study
(metafor ``leave1out``)."""
from __future__ import annotations

import pandas as pd

from metaverdict.diagnostics._refit import (
    SubsetFits,
    leave_one_out_fits,
    require_intercept_only,
    require_result,
    study_index,
)
from metaverdict.diagnostics.tables import tables_leave_one_out
from metaverdict.errors import InputError
from metaverdict.models._tables import PooledTablesResult
from metaverdict.models.results import MetaAnalysisResult

COLUMNS = ("estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "q", "q_pvalue",
           "tau2", "i2", "h2")


def leave_one_out(res: MetaAnalysisResult | PooledTablesResult) -> pd.DataFrame:
    """Refit ``res`` without each study in turn.

    Row *i* holds the pooled estimate of the model fitted to all studies but *i*, with the same
    tau² estimator (or fixed tau²), test and level: estimate, se, statistic (z, or t for
    Hartung-Knapp), pvalue, ci_lower, ci_upper, Cochran's q and its q_pvalue, tau2, i2
    (percent) and h2. For a Mantel-Haenszel or Peto pooling the tables are pooled again
    without study *i* (metafor ``leave1out.rma.mh`` / ``.rma.peto``; no tau2 column, NaN rows
    where the pooling without the study is undefined).

    Parameters
    ----------
    res : MetaAnalysisResult or PooledTablesResult
        An intercept-only model, or a :func:`~metaverdict.mantel_haenszel` /
        :func:`~metaverdict.peto` pooling, with at least two studies.

    Returns
    -------
    DataFrame
        One row per study, indexed by study label, in the data's order.

    Raises
    ------
    InputError
        Another result type, a meta-regression, or a single study.

    Examples
    --------
    >>> import metaverdict as mv
    >>> res = mv.meta_analysis([0.1, 0.3, 0.5, 0.2, 0.6], [0.01, 0.02, 0.015, 0.01, 0.03])
    >>> mv.leave_one_out(res)[["estimate", "tau2"]].round(4)
           estimate    tau2
    study
    1        0.3762  0.0164
    2        0.3257  0.0380
    3        0.2631  0.0188
    4        0.3548  0.0343
    5        0.2632  0.0167

    References
    ----------
    Viechtbauer W, Cheung MWL (2010). Outlier and influence diagnostics for meta-analysis.
    *Research Synthesis Methods* 1:112-125.
    """
    require_result(res, "leave_one_out", MetaAnalysisResult, PooledTablesResult)
    if isinstance(res, PooledTablesResult):
        return tables_leave_one_out(res)
    require_intercept_only(res, "leave-one-out analysis")
    if res.k < 2:
        raise InputError(f"leave-one-out analysis needs at least 2 studies, got k = {res.k}")
    return subset_table(leave_one_out_fits(res), study_index(res))


def subset_table(fits: SubsetFits, index: pd.Index) -> pd.DataFrame:
    """The leave-one-out / cumulative table of intercept fits."""
    cols = {"estimate": fits.beta[:, 0]}
    cols.update({name: getattr(fits, name)[:, 0] for name in COLUMNS[1:6]})
    cols.update({name: getattr(fits, name) for name in COLUMNS[6:]})
    return pd.DataFrame(cols, index=index)
