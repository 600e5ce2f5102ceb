"""``bayesian_meta_analyses``: exact Bayesian random-effects fits, one per analysis key.

The long-format front end of :func:`metaverdict.models.bayes.bayesian_batch` (the exact
posterior of bayesmeta, vectorised over the batch axis): rows are grouped by analysis key as
:func:`metaverdict.batch.meta_analyses` groups them, laid out as an ``(N, k_max)`` block padded
with NaN, and fitted in one call with one prior for every analysis.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict.batch._schema import first_invalid, frame_columns, label
from metaverdict.batch.grouping import group_rows
from metaverdict.errors import InputError


def bayesian_meta_analyses(frame: pd.DataFrame, by: str = "analysis_id", yi: str = "yi",
                           vi: str = "vi", *, tau_prior: Any = "uniform",
                           tau_scale: float | None = None, tau_df: float | None = None,
                           tau_shape: float | None = None, mu_prior: Any = None,
                           probs: Any = (0.025, 0.5, 0.975), mcid: Any = None,
                           chunk_size: int | None = None, workers: int = 1) -> pd.DataFrame:
    """Exact Bayesian random-effects meta-analysis of every analysis in a long table.

    Parameters
    ----------
    frame : DataFrame
        One row per study: the analysis key ``by``, effect sizes ``yi`` and sampling
        variances ``vi`` (finite, ``vi > 0``).
    by, yi, vi : str
        Column names.
    tau_prior, tau_scale, tau_df, tau_shape, mu_prior
        One prior for every analysis, as for :func:`metaverdict.bayesian_meta_analysis`
        (e.g. ``tau_prior="half-normal", tau_scale=0.5``).
    probs : sequence of float
        Posterior quantiles to return (columns ``tau_q0.025`` ... for tau, mu and a new
        study's theta).
    mcid : float, optional
        Minimal clinically important difference (a magnitude > 0, on the scale of ``yi``):
        adds ``prob_above`` = P(mu > mcid), ``prob_below`` = P(mu < -mcid) and
        ``prob_within`` = P(|mu| < mcid).
    chunk_size : int, optional
        Analyses computed together (default: :data:`metaverdict.models.bayes.batch.CHUNK`).
    workers : int
        Threads computing chunks at once (the results do not depend on it).

    Returns
    -------
    DataFrame
        One row per analysis in order of first appearance of its key: the key column ``by``,
        then the columns of :meth:`~metaverdict.models.bayes.BayesianBatchResult.to_frame`
        (``k``, ``proper``, means, sds, quantiles, MCID probabilities). An analysis whose
        posterior is improper under the prior has ``proper`` False and NaN results.

    Raises
    ------
    InputError
        A missing column, missing key, a non-finite ``yi``/``vi`` or ``vi <= 0`` (naming the
        analysis and the row), an empty table, an invalid prior.

    Examples
    --------
    >>> import pandas as pd
    >>> from metaverdict.batch import bayesian_meta_analyses
    >>> frame = pd.DataFrame({"analysis_id": [1, 1, 1, 2, 2, 2],
    ...                       "yi": [0.3, 0.1, 0.5, 0.1, -0.2, 0.4],
    ...                       "vi": [0.04, 0.02, 0.06, 0.05, 0.04, 0.09]})
    >>> out = bayesian_meta_analyses(frame, tau_prior="half-normal", tau_scale=0.5, mcid=0.1)
    >>> out[["analysis_id", "k", "mu_q0.5", "prob_above"]].round(3)
       analysis_id  k  mu_q0.5  prob_above
    0            1  3    0.255       0.829
    1            2  3    0.052       0.405
    """
    from metaverdict.models.bayes.batch import CHUNK, bayesian_batch
    keys, y, v = frame_columns(frame, by, yi, vi)
    bad = first_invalid(y, v)
    if bad >= 0:
        field, value = (yi, y[bad]) if not np.isfinite(y[bad]) else (vi, v[bad])
        rule = "must be a finite number" if field == yi else "must be a finite number > 0"
        raise InputError(f"analysis {label(keys.iloc[bad])!r}, row {label(frame.index[bad])!r}, "
                         f"field {field!r}: {rule}, got {value!r}")
    grouping = group_rows(keys)
    n, width = grouping.n_analyses, int(grouping.sizes.max())
    yy, vv = np.full((n, width), np.nan), np.full((n, width), np.nan)
    for bucket in grouping.buckets:
        yy[bucket.positions, :bucket.k] = bucket.take(y)
        vv[bucket.positions, :bucket.k] = bucket.take(v)
    res = bayesian_batch(yy, vv, tau_prior=tau_prior, tau_scale=tau_scale, tau_df=tau_df,
                         tau_shape=tau_shape, mu_prior=mu_prior, probs=probs, mcid=mcid,
                         chunk_size=CHUNK if chunk_size is None else chunk_size,
                         workers=workers)
    out = res.to_frame()
    out.insert(0, by, grouping.keys.to_numpy())
    out.attrs.update(tau_prior=res.tau_prior, mu_prior=res.mu_prior)
    return out
