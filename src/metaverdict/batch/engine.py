"""``meta_analyses``: many univariate meta-analyses in one call, one output row per analysis.

The estimators are those of the single-fit engine, unchanged (:mod:`.fitting`): the compiled
kernel (:mod:`.compiled`, with Numba) for EE, DL, HE, ML, REML and PM, else
:func:`~metaverdict.models.random_effects.estimate_tau2` and
:func:`~metaverdict.models.inference.pool` on dense ``(n, k)`` blocks of analyses with equal
``k`` (:mod:`.grouping`), so a single fit is just a batch of one. Iterative estimators run
with a per-analysis convergence flag (no Python loop over analyses).

Backends: the compiled kernel or NumPy by default. Any array-API library (CuPy, PyTorch, JAX
through ``array_api_compat``) runs the array kernels: pass its namespace (``backend=torch``,
``backend=cupy``) and ``device=`` (``"cuda"``, ``"cuda:1"``...). Blocks are copied to the
device, the tau² and pooling kernels run there, and p-values/quantiles are computed by SciPy
on the host (see :func:`~metaverdict.models.inference.pool`). A Dask DataFrame is fitted
partition by partition (:mod:`.dask`).

One analysis never fails the call. Each output row carries a ``reason`` column: ``""`` for an
ordinary fit, otherwise why the row differs from one (see
:data:`~metaverdict.batch.REASONS`). An analysis whose estimate, standard error, tau², Q,
I², H², intervals or p-values come out non-finite (e.g. sampling variances near the smallest
double, or effects so large that their squares overflow; variance ratios of 1e24 are fine)
gets NaN in every numeric field, ``converged=False`` and a reason; the other analyses of the
block are unaffected. With ``test="knha"`` a single-study analysis (k = 1) is given a z test,
as metafor does (``se = sqrt(vi)``, ``df`` NaN, ``s2w`` 1).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict._validation import choice
from metaverdict.batch._schema import (
    TESTS,
    check_chunk_size,
    check_level,
    check_threads,
    float_array,
    frame_columns,
    label,
    raise_invalid,
)
from metaverdict.batch.dask import is_dask, meta_analyses_dask
from metaverdict.batch.fitting import BATCH_CONTROL, DEFAULT_CHUNK, fit_groups
from metaverdict.batch.grouping import Bucket, Grouping, group_rows
from metaverdict.errors import InputError
from metaverdict.models.random_effects import METHODS, SolverControl

__all__ = ["fit_arrays", "meta_analyses"]


def meta_analyses(frame: Any, by: str = "analysis_id", yi: str = "yi", vi: str = "vi", *,
                  method: str = "REML", test: str = "z", level: float = 0.95,
                  backend: Any = None, device: Any = None, chunk_size: int = DEFAULT_CHUNK,
                  scheduler: Any = None, control: SolverControl | None = None,
                  threads: int | None = None) -> pd.DataFrame:
    """Fit one random-effects (or common-effect) meta-analysis per analysis key.

    Parameters
    ----------
    frame : DataFrame or dask DataFrame
        One row per study: the analysis key ``by``, effect sizes ``yi``, sampling variances
        ``vi``. Analyses may have different numbers of studies (k = 1 allowed). A Dask
        DataFrame is fitted partition by partition
        (:func:`metaverdict.batch.dask.meta_analyses_dask`)
        and computed with ``scheduler`` (or the active ``distributed`` client).
    by, yi, vi : str
        Column names.
    method : str
        ``"EE"`` (``"FE"``), ``"DL"``, ``"HE"``, ``"HS"``, ``"HSk"``, ``"SJ"``, ``"ML"``,
        ``"REML"``, ``"EB"``, ``"PM"``, ``"PMM"``, ``"GENQ"`` (weights 1/vi), as in
        :func:`metaverdict.meta_analysis`.
    test : {"z", "knha"}
        Wald z tests or Hartung-Knapp t tests (adds the columns ``df`` and ``s2w``).
    level : float
        Confidence level of the CI and the prediction interval.
    backend : None, "numpy", "numba" or an array namespace
        ``None`` (default): the compiled CPU kernel (:mod:`.compiled`, needs Numba: the
        ``fast`` extra) for the methods it has (EE, DL, HE, ML, REML, PM), the NumPy array
        kernels otherwise (same results); ``"numpy"``: the array kernels on NumPy (the
        reference implementation); ``"numba"``: the compiled kernel only (an error for other
        methods or without Numba); a namespace or module name (``torch``, ``"cupy"``,
        ``array_api_strict``): the array kernels on that library.
    device : optional
        Device for ``backend`` arrays (e.g. ``"cuda"``).
    chunk_size : int
        Approximate number of values (studies) per block; bounds the working memory at about
        ``chunk_size`` x 8 bytes x 20 arrays.
    scheduler : optional
        Dask scheduler for Dask input (``"threads"``, ``"processes"``, a ``Client``).
    control : SolverControl, optional
        Convergence settings (default :data:`~metaverdict.batch.BATCH_CONTROL`).
    threads : int, optional
        Threads of the compiled kernel (default: the CPUs this process may use). Work is
        handed out in small chunks, so a core that another process keeps busy costs only
        its share.

    Returns
    -------
    DataFrame
        One row per analysis, in the order of first appearance of its key, with the key column
        ``by`` and :data:`~metaverdict.batch.FIELDS` (+ ``KNHA_FIELDS`` for ``test="knha"``).
        ``reason`` (categorical, ``REASON_DTYPE``) is ``""`` for an ordinary fit, else one of
        :data:`~metaverdict.batch.REASONS`: a k = 1 analysis with ``test="knha"`` (z test
        used), an analysis that is not computable in double precision (all numeric fields
        NaN, ``converged=False``), one whose iteration did not converge, or one whose
        ``tau2_se`` is not computable (NaN). One analysis never fails the call.

    Raises
    ------
    InputError
        A missing column, a missing analysis key, a non-finite ``yi``/``vi`` or ``vi <= 0``
        (naming the analysis and the row), an empty table, an unknown method or test.

    Examples
    --------
    >>> import pandas as pd
    >>> from metaverdict.batch import meta_analyses
    >>> frame = pd.DataFrame({"analysis_id": [1, 1, 1, 2, 2],
    ...                       "yi": [0.1, 0.3, 0.5, -0.2, 0.4],
    ...                       "vi": [0.01, 0.02, 0.015, 0.04, 0.05]})
    >>> out = meta_analyses(frame, method="DL")
    >>> out[["analysis_id", "k", "estimate", "tau2"]].round(4)
       analysis_id  k  estimate    tau2
    0            1  3    0.2922  0.0322
    1            2  2    0.0917  0.1350
    """
    if is_dask(frame):
        lazy = meta_analyses_dask(frame, by, yi, vi, method=method, test=test, level=level,
                                  backend=backend, device=device, chunk_size=chunk_size,
                                  control=control, threads=threads)
        computed: pd.DataFrame = (lazy.compute(scheduler=scheduler) if scheduler is not None
                                  else lazy.compute())
        return computed
    method = choice(method, METHODS, "method")
    test = choice(test, TESTS, "test")
    level = check_level(level)
    chunk_size = check_chunk_size(chunk_size)
    n_threads = check_threads(threads)
    keys, y, v = frame_columns(frame, by, yi, vi)
    grouping = group_rows(keys, n_threads)

    def invalid() -> None:
        raise_invalid(y, v, lambda i: f"analysis {label(keys.iloc[i])!r}, "
                                      f"row {label(frame.index[i])!r}", (yi, vi))

    return fit_groups(grouping, y, v, method=method, test=test, level=level, invalid=invalid,
                      backend=backend, device=device, chunk_size=chunk_size,
                      control=control or BATCH_CONTROL, by=by, threads=n_threads)


def fit_arrays(y: np.ndarray, v: np.ndarray, *, method: str = "REML", test: str = "z",
               level: float = 0.95, backend: Any = None, device: Any = None,
               chunk_size: int = DEFAULT_CHUNK, control: SolverControl | None = None,
               by: str = "analysis", threads: int | None = None) -> pd.DataFrame:
    """:func:`meta_analyses` for analyses of equal size given as ``(n, k)`` arrays of effects
    ``y`` and sampling variances ``v`` (no grouping step); row ``i`` of the result is
    analysis ``i`` (column ``by``)."""
    method = choice(method, METHODS, "method")
    test = choice(test, TESTS, "test")
    level = check_level(level)
    chunk_size = check_chunk_size(chunk_size)
    n_threads = check_threads(threads)
    y, v = float_array(y, "y"), float_array(v, "v")
    if y.ndim != 2 or y.shape != v.shape or y.shape[1] == 0:
        raise InputError(f"fields 'y', 'v': expected two (n, k) arrays of the same shape, k >= 1, "
                         f"got {y.shape} and {v.shape}")
    n, k = y.shape
    y, v = np.ascontiguousarray(y), np.ascontiguousarray(v)

    def invalid() -> None:
        raise_invalid(y, v, lambda i: f"analysis {i // k}, study {i % k}", ("y", "v"))

    grouping = Grouping(pd.RangeIndex(n, name=by), np.full(n, k),
                        [Bucket(k, np.arange(n), None, 0)], np.arange(0, n * k, k))
    return fit_groups(grouping, y.reshape(-1), v.reshape(-1), method=method, test=test,
                      level=level, invalid=invalid, backend=backend, device=device,
                      chunk_size=chunk_size, control=control or BATCH_CONTROL, by=by,
                      threads=n_threads)
