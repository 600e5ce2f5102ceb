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

One analysis never fails the call. Each output row carries a ``reason`` column: ``""`` for an
ordinary fit, otherwise why the row differs from one (see :data:`REASONS`). An analysis whose
estimate, standard error, tau², Q, I², H², intervals or p-values come out non-finite (e.g.
sampling variances near the smallest double, or effects so large that their squares
overflow; variance ratios of 1e24 are fine) gets NaN in every numeric field,
``converged=False`` and a reason; the other analyses of the block are unaffected. With
``test="knha"`` a single-study analysis (k = 1) is given a z test, as metafor does
(``se = sqrt(vi)``, ``df`` NaN, ``s2w`` 1).
"""
from __future__ import annotations

import numbers
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
          "i2", "h2", "q", "q_df", "q_pvalue", "pi_lower", "pi_upper", "converged", "iterations",
          "reason")
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

#: The values of the ``reason`` column other than ``""`` (an ordinary fit).
REASONS = {
    "k1_z": "k = 1: z test used (Hartung-Knapp needs k >= 2), as metafor",
    "failed": "not computable in double precision (a non-finite estimate, se, tau2 or "
              "statistic, e.g. from variances near 1e-308 or effects whose squares overflow): "
              "numeric fields set to NaN",
    "no_convergence": "the tau2 iteration did not converge (control.max_iter reached)",
    "tau2_se": "tau2_se not computable in double precision: set to NaN",
}
#: The dtype of the ``reason`` column: categorical (a code per analysis, not a string), with
#: ``""`` and the values of :data:`REASONS` as its categories.
REASON_DTYPE = pd.CategoricalDtype(["", *REASONS.values()])
_REASON_CODE = {key: i + 1 for i, key in enumerate(REASONS)}
#: Fields that must be finite in every fit (a statistic may be +-inf when se = 0).
_MUST_BE_FINITE = ("estimate", "se", "pvalue", "ci_lower", "ci_upper", "tau2", "i2", "h2", "q",
                   "q_pvalue", "pi_lower", "pi_upper")


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
        ``by`` and :data:`FIELDS` (+ :data:`KNHA_FIELDS` for ``test="knha"``). ``reason``
        (categorical, :data:`REASON_DTYPE`) is
        ``""`` for an ordinary fit, else one of :data:`REASONS`: a k = 1 analysis with
        ``test="knha"`` (z test used), an analysis that is not computable in double precision
        (all numeric fields NaN, ``converged=False``), one whose iteration did not converge,
        or one whose ``tau2_se`` is not computable (NaN). One analysis never fails the call.

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
    level = check_level(level)
    chunk_size = check_chunk_size(chunk_size)
    keys, y, v = _columns(frame, by, yi, vi)
    grouping = group_rows(keys)
    return fit_groups(grouping, y, v, method=method, test=test, level=level,
                      backend=backend, device=device, chunk_size=chunk_size,
                      control=control or BATCH_CONTROL, by=by)


def fit_arrays(y: np.ndarray, v: np.ndarray, *, method: str = "REML", test: str = "z",
               level: float = 0.95, backend: Any = None, device: Any = None,
               chunk_size: int = DEFAULT_CHUNK, control: SolverControl | None = None,
               by: str = "analysis") -> pd.DataFrame:
    """:func:`meta_analyses` for analyses of equal size given as ``(n, k)`` arrays of effects
    ``y`` and sampling variances ``v`` (no grouping step); row ``i`` of the result is
    analysis ``i`` (column ``by``)."""
    method = choice(method, METHODS, "method")
    test = choice(test, TESTS, "test")
    level = check_level(level)
    chunk_size = check_chunk_size(chunk_size)
    y, v = _float_array(y, "y"), _float_array(v, "v")
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
    return fit_groups(grouping, y.reshape(-1), v.reshape(-1), method=method, test=test,
                      level=level, backend=backend,
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
        # k = 1 with Hartung-Knapp: a z test (metafor: "Setting argument test='z' since k=1")
        b_test = "z" if test == "knha" and bucket.k == 1 else test
        step = max(1, chunk_size // bucket.k)
        for start in range(0, len(bucket.positions), step):
            yb, vb = bucket.take(y, start, start + step), bucket.take(v, start, start + step)
            pos = bucket.positions[start:start + step]
            in_place = pos[-1] - pos[0] + 1 == len(pos)          # positions are increasing
            target = (buf[:, pos[0]:pos[-1] + 1] if in_place
                      else np.empty((len(BLOCK_FIELDS), len(pos))))
            # degenerate analyses (identical effects with Hartung-Knapp, extreme variance
            # ratios) give inf/NaN as in single fits; they are reported per analysis below
            with np.errstate(all="ignore"):
                if use_compiled:
                    fit_block_compiled(method, b_test, level, yb, vb, target, control)
                else:
                    res = fit_block(method, b_test, level, yb, vb, xp=xp, device=device,
                                    control=control)
                    target[BLOCK_FIELDS.index("s2w")] = 1.0      # z tests: no s2w in res
                    for name, values in res.items():
                        target[BLOCK_FIELDS.index(name)] = values
            if not in_place:
                buf[:, pos] = target
    sizes = grouping.sizes.astype(np.int64)
    reason = _check_results(buf, sizes, test, method)
    cols: dict[str, Any] = {by: grouping.keys, "k": sizes}
    for name in FIELDS[1:] + (KNHA_FIELDS if test == "knha" else ()):
        if name == "q_df":
            cols[name] = sizes - 1
        elif name == "df":
            cols[name] = np.where(sizes > 1, sizes - 1, np.nan)     # k = 1: a z test
        elif name == "converged":
            cols[name] = buf[BLOCK_FIELDS.index(name)] > 0
        elif name == "iterations":
            cols[name] = buf[BLOCK_FIELDS.index(name)].astype(np.int64)
        elif name == "reason":
            cols[name] = reason
        else:
            cols[name] = buf[BLOCK_FIELDS.index(name)]
    return pd.DataFrame(cols, copy=False)


def _check_results(buf: np.ndarray, sizes: np.ndarray, test: str, method: str) -> pd.Categorical:
    """The ``reason`` column (:data:`REASON_DTYPE`) for a ``(BLOCK_FIELDS, n)`` result buffer,
    which is edited in place: analyses with a non-finite field of :data:`_MUST_BE_FINITE` get
    NaN in every numeric field and ``converged = 0``; an infinite or negative ``tau2_se``
    becomes NaN. Vectorised: a few passes over the ``n`` analyses."""
    row = BLOCK_FIELDS.index
    code = np.zeros(len(sizes), dtype=np.int8)
    if test == "knha":
        code[sizes == 1] = _REASON_CODE["k1_z"]
    tau2_se = buf[row("tau2_se")]
    with np.errstate(invalid="ignore"):
        se_bad = ~(np.isnan(tau2_se) | (np.isfinite(tau2_se) & (tau2_se >= 0)))
    if method not in COMMON_EFFECT:                 # EE/FE: tau2_se is NaN by definition
        se_bad |= np.isnan(tau2_se) & (sizes > 1)
    if se_bad.any():
        tau2_se[se_bad] = np.nan
        code[se_bad] = _REASON_CODE["tau2_se"]
    code[buf[row("converged")] <= 0] = _REASON_CODE["no_convergence"]
    ok = ~np.isnan(buf[row("statistic")])
    for name in _MUST_BE_FINITE + (("s2w",) if test == "knha" else ()):
        ok &= np.isfinite(buf[row(name)])
    if not ok.all():
        failed = np.flatnonzero(~ok)
        numeric = np.array([i for i, name in enumerate(BLOCK_FIELDS)
                            if name not in ("converged", "iterations")])
        buf[np.ix_(numeric, failed)] = np.nan
        buf[row("converged"), failed] = 0.0
        code[failed] = _REASON_CODE["failed"]
    return pd.Categorical.from_codes(code, dtype=REASON_DTYPE)


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


def check_level(level: Any) -> float:
    """``level`` as a float in (0, 1), or an :class:`InputError`."""
    if (isinstance(level, (bool, np.bool_)) or not isinstance(level, numbers.Real)
            or not 0 < float(level) < 1):
        raise InputError(f"field 'level': confidence level must be a number in (0, 1) "
                         f"(e.g. 0.95), got {level!r}")
    return float(level)


def check_chunk_size(chunk_size: Any, field: str = "chunk_size") -> int:
    """``chunk_size`` as an int >= 1, or an :class:`InputError`."""
    if (isinstance(chunk_size, (bool, np.bool_)) or not isinstance(chunk_size, numbers.Integral)
            or chunk_size < 1):
        raise InputError(f"field {field!r}: must be a whole number >= 1, got {chunk_size!r}")
    return int(chunk_size)


def _float_array(value: Any, field: str) -> np.ndarray:
    """``value`` as a float64 array; text, complex, boolean and date values are rejected,
    naming the first one by analysis and study (its index in an ``(n, k)`` array)."""
    arr = np.asarray(value)
    if arr.dtype.kind in "iuf":
        out: np.ndarray = arr.astype(np.float64)
        return out
    flat = arr.reshape(-1)
    bad = 0 if arr.dtype.kind != "O" else next(
        (i for i, x in enumerate(flat) if _not_real(x)), -1)
    if bad < 0:
        out = flat.astype(np.float64).reshape(arr.shape)
        return out
    where = np.unravel_index(bad, arr.shape) if arr.ndim else ()
    place = (f"analysis {int(where[0])}, study {int(where[1])}, " if len(where) == 2
             else f"element {tuple(int(w) for w in where)}, " if where else "")
    raise InputError(f"{place}field {field!r}: not a real number: {_show(flat[bad])}")


def _not_real(x: Any) -> bool:
    """Whether ``x`` (one entry of an object array) is not a real number (missing values
    are numbers here: NaN, reported as not finite)."""
    if x is None or x is pd.NA:
        return False
    if isinstance(x, (bool, np.bool_, complex, np.complexfloating)):
        return True
    if isinstance(x, numbers.Real):
        return False
    try:
        float(x)
    except (TypeError, ValueError):
        return True
    return isinstance(x, (bytes, np.datetime64, np.timedelta64))


def _show(x: Any) -> str:
    """A cell for a message: ``'a'`` for text (not ``np.str_('a')``)."""
    if isinstance(x, np.generic):
        x = x.item()
    return repr(x)


def _label(x: Any) -> Any:
    """A row label or key as a plain Python value (``12``, not ``np.int64(12)``)."""
    return x.item() if isinstance(x, np.generic) else x


def check_column_names(by: str, yi: str, vi: str, columns: list[Any]) -> None:
    """The three column arguments name three different columns, each present once."""
    names = (("by", by), ("yi", yi), ("vi", vi))
    for i, (f1, c1) in enumerate(names):
        for f2, c2 in names[i + 1:]:
            if c1 == c2:
                raise InputError(f"fields {f1!r} and {f2!r}: both name column {c1!r}; "
                                 "they must be different columns")
    for field, col in names:
        if col not in columns:
            raise InputError(f"field {field!r}: no column {col!r} in the data "
                             f"(columns: {columns})")
        if columns.count(col) > 1:
            raise InputError(f"field {field!r}: column {col!r} appears {columns.count(col)} "
                             "times in the data; rename the duplicates")


def _float_column(frame: pd.DataFrame, keys: pd.Series, field: str) -> np.ndarray:
    """Column ``field`` as float64 (missing values as NaN); a boolean, complex, date or text
    entry is reported with its analysis key and row label."""
    col = frame[field]
    kind = getattr(col.dtype, "kind", "O")
    if kind in "iuf":
        out: np.ndarray = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return out
    values = col.to_numpy(dtype=object)
    if kind in "bcmM":              # bool, complex, datetime, timedelta: the first non-missing
        present = np.flatnonzero(col.notna().to_numpy())
        bad = int(present[0]) if present.size else -1
    else:
        bad = next((i for i, x in enumerate(values) if _not_real(x)), -1)
    if bad < 0:
        out = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return out
    raise InputError(f"analysis {_label(keys.iloc[bad])!r}, row {_label(frame.index[bad])!r}, "
                     f"field {field!r}: not a real number: {_show(values[bad])}")


def _is_dask(frame: Any) -> bool:
    return type(frame).__module__.startswith("dask")


def _columns(frame: Any, by: str, yi: str, vi: str) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Keys and float columns, checked: missing columns, keys, non-finite or non-positive values
    are reported with the analysis key and the row label."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected a pandas or Dask DataFrame, got {type(frame).__name__}")
    check_column_names(by, yi, vi, list(frame.columns))
    if len(frame) == 0:
        raise InputError("no studies to pool: the table is empty (k = 0 for every analysis)")
    keys = frame[by]
    missing = np.flatnonzero(keys.isna().to_numpy())
    if missing.size:
        raise InputError(f"row {_label(frame.index[missing[0]])!r}, field {by!r}: "
                         f"missing analysis key")
    cols = [_float_column(frame, keys, field) for field in (yi, vi)]
    y, v = cols
    i = compiled.first_invalid(y, v)            # one compiled pass; the message only on failure
    if i >= 0:
        field, value = (yi, y[i]) if not np.isfinite(y[i]) else (vi, v[i])
        rule = "must be a finite number" if field == yi else "must be a finite number > 0"
        raise InputError(f"analysis {_label(keys.iloc[i])!r}, row {_label(frame.index[i])!r}, "
                         f"field {field!r}: {rule}, got {value}")
    return keys, y, v


__all__ = ["BATCH_CONTROL", "FIELDS", "KNHA_FIELDS", "REASONS", "REASON_DTYPE", "COMMON_EFFECT",
           "fit_arrays", "fit_block", "fit_groups", "meta_analyses"]
