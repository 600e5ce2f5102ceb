"""``meta_analyses``: many univariate meta-analyses in one call, one output row per analysis.

The estimators are those of the single-fit engine, unchanged:
:func:`~metaverdict.models.random_effects.estimate_tau2` and
:func:`~metaverdict.models.inference.pool` run on dense ``(n, k)`` blocks of analyses with
equal ``k`` (:mod:`.grouping`), in chunks of about ``chunk_size`` values, so memory stays
bounded and a single fit is just a batch of one. Iterative estimators run vectorised with a
per-analysis convergence mask (no Python loop over analyses).

Backends: NumPy by default. Any array-API library (CuPy, PyTorch, JAX through
``array_api_compat``) runs the same kernels: pass its namespace (``backend=torch``,
``backend=cupy``) and ``device=`` (``"cuda"``, ``"cuda:1"``...). Blocks are copied to the
device, the tau² and pooling kernels run there, and p-values/quantiles are computed by SciPy
on the host (the statistics are copied back for that; see
:func:`~metaverdict.models.inference.pool`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict._validation import choice
from metaverdict.batch import compiled
from metaverdict.batch.grouping import Bucket, Grouping, group_rows
from metaverdict.errors import InputError
from metaverdict.models._special import CLOSED_FORM_MAX_DF, chi2_sf
from metaverdict.models.inference import _to_host, _two_sided, pool
from metaverdict.models.random_effects import (
    COMMON_EFFECT,
    METHODS,
    SolverControl,
    estimate_tau2,
    grid_fractions,
)

TESTS = {"z": "z", "knha": "knha", "hksj": "knha", "hartung-knapp": "knha"}

#: Output columns (after the analysis key), the field names of a single fit.
FIELDS = ("k", "estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "tau2", "tau2_se",
          "i2", "h2", "q", "q_df", "q_pvalue", "pi_lower", "pi_upper", "converged", "iterations")
KNHA_FIELDS = ("df", "s2w")
#: Rows of the per-block result buffer (the compiled kernel's output order).
BLOCK_FIELDS = compiled.OUT_FIELDS

#: Default solver settings of the batch engine: Newton steps on the ML/REML score (the same
#: roots as the single-fit default, Fisher scoring, in about a third of the iterations) and
#: the same global likelihood check. ``SolverControl(step="newton", global_search="screened")``
#: is faster still (see :class:`~metaverdict.models.random_effects.SolverControl`).
BATCH_CONTROL = SolverControl(step="newton")
FAST_CONTROL = SolverControl(step="newton", global_search="screened")

DEFAULT_CHUNK = 1 << 22       # values (studies) per block: 32 MiB per float64 column


def meta_analyses(frame: Any, by: str = "analysis_id", yi: str = "yi", vi: str = "vi", *,
                  method: str = "REML", test: str = "z", level: float = 0.95,
                  backend: Any = None, device: Any = None, chunk_size: int = DEFAULT_CHUNK,
                  scheduler: Any = None, control: SolverControl | None = None) -> pd.DataFrame:
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
        ``None`` (default): the compiled CPU kernel (:mod:`.compiled`) for the methods it has
        (EE, DL, HE, ML, REML, PM), the NumPy array kernels for the others; ``"numpy"``: the
        array kernels on NumPy (the reference implementation); ``"numba"``: the compiled
        kernel only (an error for other methods); a namespace or module name (``torch``,
        ``"cupy"``, ``array_api_strict``): the array kernels on that library.
    device : optional
        Device for ``backend`` arrays (e.g. ``"cuda"``).
    chunk_size : int
        Approximate number of values (studies) per block; bounds the working memory at about
        ``chunk_size`` x 8 bytes x 20 arrays.
    scheduler : optional
        Dask scheduler for Dask input (``"threads"``, ``"processes"``, a ``Client``).
    control : SolverControl, optional
        Convergence settings (default :data:`BATCH_CONTROL`).

    Returns
    -------
    DataFrame
        One row per analysis, in the order of first appearance of its key, with the key column
        ``by`` and :data:`FIELDS` (+ :data:`KNHA_FIELDS` for ``test="knha"``).

    Raises
    ------
    InputError
        A missing column, a missing analysis key, a non-finite ``yi``/``vi`` or ``vi <= 0``
        (naming the analysis and the row), an empty table, an unknown method or test.
    """
    if _is_dask(frame):
        from metaverdict.batch.dask import meta_analyses_dask
        lazy = meta_analyses_dask(frame, by, yi, vi, method=method, test=test, level=level,
                                  backend=backend, device=device, chunk_size=chunk_size,
                                  control=control)
        computed: pd.DataFrame = (lazy.compute(scheduler=scheduler) if scheduler is not None
                                  else lazy.compute())
        return computed
    method = choice(method, METHODS, "method")
    test = choice(test, TESTS, "test")
    if not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InputError(f"field 'level': confidence level must be in (0, 1), got {level!r}")
    keys, y, v = _columns(frame, by, yi, vi)
    grouping = group_rows(keys)
    return fit_groups(grouping, y, v, method=method, test=test, level=float(level),
                      backend=backend, device=device, chunk_size=chunk_size,
                      control=control or BATCH_CONTROL, by=by)


def fit_arrays(y: np.ndarray, v: np.ndarray, *, method: str = "REML", test: str = "z",
               level: float = 0.95, backend: Any = None, device: Any = None,
               chunk_size: int = DEFAULT_CHUNK, control: SolverControl | None = None,
               by: str = "analysis") -> pd.DataFrame:
    """:func:`meta_analyses` for analyses of equal size given as ``(n, k)`` arrays of effects
    ``y`` and sampling variances ``v`` (no grouping step); row ``i`` of the result is
    analysis ``i`` (column ``by``)."""
    y, v = np.asarray(y, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if y.ndim != 2 or y.shape != v.shape or y.shape[1] == 0:
        raise InputError(f"fields 'y', 'v': expected two (n, k) arrays of the same shape, k >= 1, "
                         f"got {y.shape} and {v.shape}")
    n, k = y.shape
    bad = compiled.first_invalid(y.reshape(-1), v.reshape(-1))
    if bad >= 0:
        i, j = divmod(bad, k)
        field, value = ("y", y[i, j]) if not np.isfinite(y[i, j]) else ("v", v[i, j])
        rule = "a finite number" if field == "y" else "a finite number > 0"
        raise InputError(f"analysis {i}, study {j}, field {field!r}: must be {rule}, got {value}")
    grouping = Grouping(pd.RangeIndex(n, name=by), np.full(n, k),
                        [Bucket(k, np.arange(n), None, 0)], np.arange(n) * k)
    return fit_groups(grouping, y.reshape(-1), v.reshape(-1),
                      method=choice(method, METHODS, "method"),
                      test=choice(test, TESTS, "test"), level=float(level), backend=backend,
                      device=device, chunk_size=chunk_size, control=control or BATCH_CONTROL, by=by)


def fit_groups(grouping: Grouping, y: np.ndarray, v: np.ndarray, *, method: str, test: str,
               level: float, backend: Any = None, device: Any = None,
               chunk_size: int = DEFAULT_CHUNK, control: SolverControl = BATCH_CONTROL,
               by: str = "analysis_id") -> pd.DataFrame:
    """Fit grouped, validated columns (the engine behind :func:`meta_analyses`).

    Results go into one ``(fields, n)`` buffer: blocks whose analyses are consecutive in the
    output are written in place (a view), others through a scatter."""
    use_compiled = _use_compiled(backend, method)
    xp = None if use_compiled else _namespace(backend)
    n = grouping.n_analyses
    buf = np.empty((len(BLOCK_FIELDS), n))
    for bucket in grouping:
        step = max(1, chunk_size // bucket.k)
        for start in range(0, len(bucket.positions), step):
            yb, vb = bucket.take(y, start, start + step), bucket.take(v, start, start + step)
            pos = bucket.positions[start:start + step]
            in_place = pos[-1] - pos[0] + 1 == len(pos)          # positions are increasing
            target = (buf[:, pos[0]:pos[-1] + 1] if in_place
                      else np.empty((len(BLOCK_FIELDS), len(pos))))
            # degenerate analyses (k = 1 with Hartung-Knapp, identical effects) give inf/NaN
            # statistics as in single fits; in a batch they are expected, not worth a warning
            with np.errstate(divide="ignore", invalid="ignore"):
                if use_compiled:
                    fit_block_compiled(method, test, level, yb, vb, target, control)
                else:
                    res = fit_block(method, test, level, yb, vb, xp=xp, device=device,
                                    control=control)
                    for name, values in res.items():
                        target[BLOCK_FIELDS.index(name)] = values
            if not in_place:
                buf[:, pos] = target
    sizes = grouping.sizes.astype(np.int64)
    cols: dict[str, Any] = {by: grouping.keys, "k": sizes}
    for name in FIELDS[1:] + (KNHA_FIELDS if test == "knha" else ()):
        if name == "q_df":
            cols[name] = sizes - 1
        elif name == "df":
            cols[name] = (sizes - 1).astype(np.float64)
        elif name == "converged":
            cols[name] = buf[BLOCK_FIELDS.index(name)] > 0
        elif name == "iterations":
            cols[name] = buf[BLOCK_FIELDS.index(name)].astype(np.int64)
        else:
            cols[name] = buf[BLOCK_FIELDS.index(name)]
    return pd.DataFrame(cols, copy=False)


def fit_block(method: str, test: str, level: float, y: np.ndarray, v: np.ndarray, *,
              xp: Any = None, device: Any = None,
              control: SolverControl = BATCH_CONTROL) -> dict[str, np.ndarray]:
    """Fit the analyses of one ``(n, k)`` block; returns NumPy columns named as :data:`FIELDS`
    (without ``k`` and ``q_df``, which the caller knows)."""
    if xp is not None:
        y = xp.asarray(y, device=device) if device is not None else xp.asarray(y)
        v = xp.asarray(v, device=device) if device is not None else xp.asarray(v)
    weights = None
    t2 = estimate_tau2(method, y, v, None, None, control)
    if method == "GENQ":
        weights = 1 / v                       # GENQ weights also estimate the coefficient
    po = pool(method, test, level, y, v, t2, None, weights, study_weights=False)
    cols = {"estimate": po.beta[..., 0], "se": po.se[..., 0], "statistic": po.statistic[..., 0],
            "pvalue": po.pvalue[..., 0], "ci_lower": po.ci_lower[..., 0],
            "ci_upper": po.ci_upper[..., 0], "tau2": t2.tau2, "tau2_se": t2.se, "i2": po.i2,
            "h2": po.h2, "q": po.q, "q_pvalue": po.q_pvalue, "pi_lower": po.pi_lower,
            "pi_upper": po.pi_upper, "converged": t2.converged, "iterations": t2.iterations}
    if test == "knha":
        cols["s2w"] = po.s2w
    return {name: _to_host(values) for name, values in cols.items()}


def fit_block_compiled(method: str, test: str, level: float, y: np.ndarray, v: np.ndarray,
                       out: np.ndarray, control: SolverControl = BATCH_CONTROL) -> None:
    """:func:`fit_block` by the compiled kernel (:mod:`.compiled`), into ``out``
    (:data:`BLOCK_FIELDS` rows); the t p-values of Hartung-Knapp and the Q p-values for
    k - 1 > 60 are added here by SciPy."""
    k = y.shape[-1]
    df = float(k - 1) if test == "knha" else float("nan")
    crit = _two_sided(np.zeros(1), df, level)[1]
    compiled.fit_block(method, y, v, out, knha=test == "knha", crit=crit, tol=control.tol,
                       max_iter=control.max_iter, global_search=control.global_search,
                       grid=np.asarray(grid_fractions()))
    if test == "knha":
        out[BLOCK_FIELDS.index("pvalue")] = _two_sided(out[BLOCK_FIELDS.index("statistic")], df,
                                                       level)[0]
    if k - 1 > CLOSED_FORM_MAX_DF:
        out[BLOCK_FIELDS.index("q_pvalue")] = chi2_sf(out[BLOCK_FIELDS.index("q")], k - 1)


def _use_compiled(backend: Any, method: str) -> bool:
    """The compiled kernel serves ``backend=None`` (when it has the method) and ``"numba"``."""
    if isinstance(backend, str) and backend == "numba":
        if method not in compiled.COMPILED_METHODS:
            raise InputError(f"field 'backend': the compiled kernel has no method {method!r} "
                             f"(it has {sorted(set(compiled.COMPILED_METHODS))}); use backend=None")
        return True
    return backend is None and method in compiled.COMPILED_METHODS


def _namespace(backend: Any) -> Any:
    if backend is None or backend == "numpy" or backend is np:
        return None
    if isinstance(backend, str):
        import importlib
        try:
            module = importlib.import_module(backend)
        except ImportError as exc:
            raise InputError(f"field 'backend': cannot import {backend!r} ({exc}); install it "
                             "or pass an array namespace") from None
    else:
        module = backend
    from array_api_compat import array_namespace
    return array_namespace(module.asarray([0.0]))


def _label(x: Any) -> Any:
    """A row label or key as a plain Python value (``12``, not ``np.int64(12)``)."""
    return x.item() if isinstance(x, np.generic) else x


def _is_dask(frame: Any) -> bool:
    return type(frame).__module__.startswith("dask")


def _columns(frame: Any, by: str, yi: str, vi: str) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Keys and float columns, checked: missing columns, keys, non-finite or non-positive values
    are reported with the analysis key and the row label."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected a pandas or Dask DataFrame, got {type(frame).__name__}")
    for field, col in (("by", by), ("yi", yi), ("vi", vi)):
        if col not in frame.columns:
            raise InputError(f"field {field!r}: no column {col!r} in the data "
                             f"(columns: {list(frame.columns)})")
    if len(frame) == 0:
        raise InputError("no studies to pool: the table is empty (k = 0 for every analysis)")
    keys = frame[by]
    missing = np.flatnonzero(keys.isna().to_numpy())
    if missing.size:
        raise InputError(f"row {_label(frame.index[missing[0]])!r}, field {by!r}: "
                         f"missing analysis key")
    cols = []
    for field in (yi, vi):
        try:
            arr = frame[field].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            bad = pd.to_numeric(frame[field], errors="coerce").isna() & frame[field].notna()
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"analysis {_label(keys.iloc[i])!r}, row {_label(frame.index[i])!r}, "
                             f"field {field!r}: not a number: {frame[field].iloc[i]!r}") from None
        cols.append(arr)
    y, v = cols
    i = compiled.first_invalid(y, v)            # one compiled pass; the message only on failure
    if i >= 0:
        field, value = (yi, y[i]) if not np.isfinite(y[i]) else (vi, v[i])
        rule = "must be a finite number" if field == yi else "must be a finite number > 0"
        raise InputError(f"analysis {_label(keys.iloc[i])!r}, row {_label(frame.index[i])!r}, "
                         f"field {field!r}: {rule}, got {value}")
    return keys, y, v


__all__ = ["BATCH_CONTROL", "FIELDS", "KNHA_FIELDS", "COMMON_EFFECT", "fit_arrays", "fit_block",
           "fit_groups", "meta_analyses"]
