"""Fitting grouped analyses: blocks of equal ``k`` through the compiled kernel or the array
kernels, one result buffer, the ``reason`` column and the output table.

The estimators are those of the single-fit engine: the compiled kernel
(:mod:`metaverdict.batch.compiled`, with Numba) for the methods it has, otherwise
:func:`~metaverdict.models.random_effects.estimate_tau2` and
:func:`~metaverdict.models.inference.pool` on dense ``(n, k)`` blocks, in chunks of about
``chunk_size`` values so that memory stays bounded, on NumPy or any array-API library.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from metaverdict.batch import compiled
from metaverdict.batch._schema import (
    CLOSED_FORM_MAX_DF,
    FIELDS,
    KNHA_FIELDS,
    MUST_BE_FINITE,
    REASON_CODE,
    REASON_DTYPE,
    Row,
    first_invalid,
)
from metaverdict.batch.grouping import Grouping
from metaverdict.errors import InputError
from metaverdict.models.inference import critical_value, pool, to_host, two_sided
from metaverdict.models.random_effects import (
    COMMON_EFFECT,
    SolverControl,
    Step,
    estimate_tau2,
    grid_fractions,
)

__all__ = ["BATCH_CONTROL", "DEFAULT_CHUNK", "FAST_CONTROL", "fit_block", "fit_groups"]

#: Default solver settings of the batch engine: Newton steps on the ML/REML score (the same
#: roots as the single-fit default, Fisher scoring, in about a third of the iterations) and
#: the same global likelihood check. ``SolverControl(step="newton", global_search="screened")``
#: (see :class:`~metaverdict.models.random_effects.SolverControl`) checks fewer analyses,
#: which makes the array kernels faster; the compiled kernel gains nothing by it (a block
#: of 32 analyses evaluates its grid when any of them needs it, and the grid from
#: polynomials costs about a third of a REML fit: bench/RESULTS.md).
BATCH_CONTROL = SolverControl(step=Step.NEWTON)
FAST_CONTROL = SolverControl(step=Step.NEWTON, global_search="screened")

DEFAULT_CHUNK = 1 << 22       # values (studies) per block: 32 MiB per float64 column

#: Rows of the result buffer that are not numeric results (kept when a fit fails).
_STATUS_ROWS = (Row.converged, Row.iterations)


def fit_groups(grouping: Grouping, y: np.ndarray, v: np.ndarray, *, method: str, test: str,
               level: float, invalid: Callable[[], None], backend: Any = None,
               device: Any = None, chunk_size: int = DEFAULT_CHUNK,
               control: SolverControl = BATCH_CONTROL, by: str = "analysis_id",
               threads: int = 1) -> pd.DataFrame:
    """Fit grouped columns (the engine behind :func:`~metaverdict.batch.meta_analyses`).

    ``y``, ``v``: the effect and variance of every row, in input order; ``invalid()`` raises
    the :class:`InputError` for the first non-finite effect or variance that is not a finite
    number > 0 (called when there is one, before any result is returned). Results go into
    one ``(len(Row), n)`` buffer: blocks whose analyses are consecutive in the output are
    written in place (a view), others through a scatter."""
    use_compiled = _use_compiled(backend, method, control)
    xp = None if use_compiled else _namespace(backend)
    if not use_compiled and first_invalid(y, v) >= 0:
        invalid()
    n = grouping.n_analyses
    buf = np.empty((len(Row), n))
    finite = np.empty(n, dtype=bool) if use_compiled else None
    n_bad = 0
    for bucket in grouping:
        # k = 1 with Hartung-Knapp: a z test (metafor: "Setting argument test='z' since k=1")
        b_test = "z" if test == "knha" and bucket.k == 1 else test
        step = max(1, chunk_size // bucket.k)
        for start in range(0, len(bucket.positions), step):
            yb, vb = bucket.take(y, start, start + step), bucket.take(v, start, start + step)
            pos = bucket.positions[start:start + step]
            in_place = pos[-1] - pos[0] + 1 == len(pos)          # positions are increasing
            target = (buf[:, pos[0]:pos[-1] + 1] if in_place
                      else np.empty((len(Row), len(pos))))
            ok = (None if finite is None else finite[pos[0]:pos[-1] + 1] if in_place
                  else np.empty(len(pos), dtype=bool))
            # degenerate analyses (identical effects with Hartung-Knapp, extreme variance
            # ratios) give inf/NaN as in single fits; they are reported per analysis below
            with np.errstate(all="ignore"):
                if ok is not None:
                    n_bad += fit_block_compiled(method, b_test, level, yb, vb, target, ok,
                                                control, threads)
                    if test == "knha" and b_test == "z":   # the kernel writes s2w for knha only
                        target[Row.s2w] = 1.0
                else:
                    res = fit_block(method, b_test, level, yb, vb, xp=xp, device=device,
                                    control=control)
                    target[Row.s2w] = 1.0                       # z tests: no s2w in res
                    for name, values in res.items():
                        target[Row[name]] = values
            if not in_place:
                buf[:, pos] = target
                if finite is not None and ok is not None:
                    finite[pos] = ok
    if n_bad:
        invalid()
    sizes = grouping.sizes.astype(np.int64, copy=False)
    reason = _check_results(buf, sizes, test, method, finite)
    cols: dict[str, Any] = {by: grouping.keys, "k": sizes}
    for name in FIELDS[1:] + (KNHA_FIELDS if test == "knha" else ()):
        if name == "q_df":
            cols[name] = sizes - 1
        elif name == "df":
            df = sizes - 1.0            # (not np.where: that costs 4x more at n = 10^6)
            df[sizes == 1] = np.nan     # k = 1: a z test
            cols[name] = df
        elif name == "converged":
            cols[name] = buf[Row.converged] > 0
        elif name == "iterations":
            cols[name] = buf[Row.iterations].astype(np.int64)
        elif name == "reason":
            cols[name] = reason
        else:
            cols[name] = buf[Row[name]]
    return pd.DataFrame(cols, copy=False)


def _check_results(buf: np.ndarray, sizes: np.ndarray, test: str, method: str,
                   finite: np.ndarray | None = None) -> pd.Categorical:
    """The ``reason`` column (:data:`~metaverdict.batch._schema.REASON_DTYPE`) for a result
    buffer, which is edited in place: analyses with a NaN statistic or a non-finite field of
    :func:`finite_rows` get NaN in every numeric field and ``converged = 0``; an infinite or
    negative ``tau2_se`` becomes NaN. ``finite``: that check, where the compiled kernel made
    it; else a few vectorised passes over the analyses."""
    code = np.zeros(len(sizes), dtype=np.int8)
    if test == "knha":
        code[sizes == 1] = REASON_CODE["k1_z"]
    tau2_se = buf[Row.tau2_se]
    with np.errstate(invalid="ignore"):
        se_bad = ~((tau2_se >= 0) & (tau2_se < np.inf))         # NaN, negative or infinite
    if method in COMMON_EFFECT:                     # EE/FE: tau2_se is NaN by definition
        se_bad &= ~np.isnan(tau2_se)
    else:                                           # ... and with k = 1
        se_bad &= ~np.isnan(tau2_se) | (sizes > 1)
    if se_bad.any():
        tau2_se[se_bad] = np.nan
        code[se_bad] = REASON_CODE["tau2_se"]
    code[buf[Row.converged] <= 0] = REASON_CODE["no_convergence"]
    if finite is None:
        ok = ~np.isnan(buf[Row.statistic])
        tmp = np.empty_like(ok)
        for row in finite_rows(test):
            np.logical_and(ok, np.isfinite(buf[row], out=tmp), out=ok)
    else:
        ok = finite
    if not ok.all():
        failed = np.flatnonzero(~ok)
        numeric = np.array([row for row in Row if row not in _STATUS_ROWS])
        buf[np.ix_(numeric, failed)] = np.nan
        buf[Row.converged, failed] = 0.0
        code[failed] = REASON_CODE["failed"]
    return pd.Categorical.from_codes(code, dtype=REASON_DTYPE)


def fit_block(method: str, test: str, level: float, y: np.ndarray, v: np.ndarray, *,
              xp: Any = None, device: Any = None,
              control: SolverControl = BATCH_CONTROL) -> dict[str, np.ndarray]:
    """Fit the analyses of one ``(n, k)`` block with the array kernels (NumPy, or the array
    library ``xp`` on ``device``); returns NumPy columns named as the rows of
    :class:`~metaverdict.batch._schema.Row` (``s2w`` only for ``test="knha"``)."""
    if xp is not None:
        y = xp.asarray(y, device=device) if device is not None else xp.asarray(y)
        v = xp.asarray(v, device=device) if device is not None else xp.asarray(v)
    weights = None
    t2 = estimate_tau2(method, y, v, None, None, control)
    if method in ("GENQ", "GENQM"):
        weights = 1 / v                       # GENQ weights also estimate the coefficient
    po = pool(method, test, level, y, v, t2, None, weights, study_weights=False)
    cols = {"estimate": po.beta[..., 0], "se": po.se[..., 0], "statistic": po.statistic[..., 0],
            "pvalue": po.pvalue[..., 0], "ci_lower": po.ci_lower[..., 0],
            "ci_upper": po.ci_upper[..., 0], "tau2": t2.tau2, "tau2_se": t2.se, "i2": po.i2,
            "h2": po.h2, "q": po.q, "q_pvalue": po.q_pvalue, "pi_lower": po.pi_lower,
            "pi_upper": po.pi_upper, "converged": t2.converged, "iterations": t2.iterations}
    if test == "knha":
        cols["s2w"] = po.s2w
    return {name: to_host(values) for name, values in cols.items()}


def fit_block_compiled(method: str, test: str, level: float, y: np.ndarray, v: np.ndarray,
                       out: np.ndarray, finite: np.ndarray,
                       control: SolverControl = BATCH_CONTROL, threads: int = 1) -> int:
    """:func:`fit_block` by the compiled kernel (:mod:`.compiled`) into ``out`` (the rows of
    :class:`~metaverdict.batch._schema.Row`) and ``finite`` (see :func:`_check_results`),
    with the t p-values of Hartung-Knapp and the Q p-values for k - 1 > 60 added by SciPy;
    returns the number of analyses with an invalid value (see
    :func:`metaverdict.batch.compiled.fit_block`)."""
    k = y.shape[-1]
    knha = test == "knha"
    df = float(k - 1) if knha else float("nan")
    late = (((Row.pvalue,) if knha else ())                   # p-values added below
            + ((Row.q_pvalue,) if k - 1 > CLOSED_FORM_MAX_DF else ()))
    n_bad = compiled.fit_block(method, y, v, out, finite, knha=knha,
                               crit=critical_value(level, df), tol=control.tol,
                               max_iter=control.max_iter, global_search=control.global_search,
                               grid=_GRID, finite_rows=np.asarray(finite_rows(test, late),
                                                                  dtype=np.int64),
                               threads=threads)
    if knha:
        out[Row.pvalue] = two_sided(out[Row.statistic], df, level)[0]
    if k - 1 > CLOSED_FORM_MAX_DF:
        out[Row.q_pvalue] = special.chdtrc(k - 1, out[Row.q])
    for row in late:
        finite &= np.isfinite(out[row])
    return n_bad


def finite_rows(test: str, without: tuple[Row, ...] = ()) -> tuple[Row, ...]:
    """The rows that must be finite in every fit (``MUST_BE_FINITE``, and ``s2w`` with
    Hartung-Knapp), less ``without``."""
    rows = MUST_BE_FINITE + ((Row.s2w,) if test == "knha" else ())
    return tuple(row for row in rows if row not in without)


_GRID = np.asarray(grid_fractions(), dtype=np.float64)


def _use_compiled(backend: Any, method: str, control: SolverControl) -> bool:
    """The compiled kernel serves ``backend=None`` (when Numba is installed, the kernel has
    the method and ``control`` does not ask for scale-free stopping, which only the array
    kernels have) and ``"numba"``."""
    if isinstance(backend, str) and backend == "numba":
        if not compiled.available():
            raise InputError("field 'backend': backend='numba' needs Numba; install it with "
                             "pip install 'metaverdict[fast]', or use backend=None")
        if method not in compiled.COMPILED_METHODS:
            raise InputError(f"field 'backend': the compiled kernel has no method "
                             f"{str(method)!r} (it has {sorted(compiled.COMPILED_METHODS)}); "
                             "use backend=None")
        return True
    return (backend is None and method in compiled.COMPILED_METHODS and not control.scale_free
            and compiled.available())


def _namespace(backend: Any) -> Any:
    """The array namespace of ``backend`` (``None`` for NumPy)."""
    if backend is None or backend == "numpy" or backend is np:
        return None
    if isinstance(backend, str):
        try:
            module = importlib.import_module(backend)
        except ImportError as exc:
            raise InputError(f"field 'backend': cannot import {backend!r} ({exc}); install it "
                             "or pass an array namespace") from None
    else:
        module = backend
    from array_api_compat import array_namespace
    return array_namespace(module.asarray([0.0]))
