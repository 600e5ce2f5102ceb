r"""The sampling covariance matrix V of dependent estimates (metafor ``vcalc``).

Estimates in different clusters (or different ``subgroup``\ s of a cluster: independent
samples) are independent. Within a cluster, :math:`V_{ij} = r_{ij}\sqrt{v_iv_j}` with

.. math:: r_{ij} = c_{ij}\;\frac{a(g_{1i},g_{1j},t_{1i},t_{1j})/\sqrt{w_{1i}w_{1j}}
          - a(g_{1i},g_{2j},t_{1i},t_{2j})/\sqrt{w_{1i}w_{2j}}
          - a(g_{2i},g_{1j},t_{2i},t_{1j})/\sqrt{w_{2i}w_{1j}}
          + a(g_{2i},g_{2j},t_{2i},t_{2j})/\sqrt{w_{2i}w_{2j}}}{s_is_j},

where :math:`a(g,g',t,t') = [g=g']\,\phi^{|t-t'|}`,
:math:`s_i^2 = 1/w_{1i} + 1/w_{2i} - 2a(g_{1i},g_{2i},t_{1i},t_{2i})/\sqrt{w_{1i}w_{2i}}`,
and the construct factor :math:`c_{ij}` is 1 for the same ``type`` and ``obs``, the
within-construct correlation :math:`\rho_{obs}` for the same type but different ``obs``, and
the between-construct correlation :math:`\rho_{type}` for different types. Thus:

* ``obs`` + ``rho``: different measures of one construct correlate ``rho``;
* ``type`` + ``rho``: different constructs correlate ``rho`` (with ``obs`` too: ``rho`` is
  (within, between));
* ``time1`` + ``phi``: the same measure at times :math:`t, t'` correlates :math:`\phi^{|t-t'|}`;
* ``grp1``/``grp2`` (+ ``w1``/``w2``, the group sizes or inverse-variance weights):
  contrasts sharing a group correlate through it (0.5 for equal weights); ``time2`` gives
  within-subject contrasts.

Reference: Viechtbauer, metafor ``vcalc`` (3.8); Gleser & Olkin (2009), in *The Handbook of
Research Synthesis and Meta-Analysis*, 2nd ed., ch. 19.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict._validation import as_float_array, check_bounds
from metaverdict.errors import InputError


def vcalc(vi: Any, cluster: Any, *, data: pd.DataFrame | None = None, subgroup: Any = None,
          obs: Any = None, type: Any = None, time1: Any = None, time2: Any = None,
          grp1: Any = None, grp2: Any = None, w1: Any = None, w2: Any = None,
          rho: Any = None, phi: float | None = None, rvars: Any = None) -> np.ndarray:
    r"""Construct V (k x k) for dependent estimates; see the module docstring.

    Parameters
    ----------
    vi : array-like, float or str
        Sampling variances (one number: the same for every row).
    cluster : array-like or str
        Cluster (study) of each estimate.
    data : DataFrame, optional
        Holds the columns named by the other arguments.
    subgroup, obs, type, grp1, grp2 : array-like or str, optional
        Independent subgroups; measures of one construct; constructs; the two groups of each
        contrast.
    time1, time2 : array-like or str, optional
        Numeric time points (of the groups of each contrast).
    w1, w2 : array-like or str, optional
        Group sizes (or weights) of ``grp1`` and ``grp2``.
    rho : float, DataFrame or a pair of them, optional
        Correlation of different ``obs`` or ``type`` (both given: (within, between)); a
        DataFrame gives one correlation per pair of values (rows and columns labelled by
        them).
    phi : float, optional
        Autocorrelation per unit of time.
    rvars : sequence of str or array-like, shape (k, m), optional
        The correlation matrices of the clusters, row by row (metafor ``rvars=``): for a
        cluster with :math:`k_i` rows (in data order), the first :math:`k_i` of these
        columns of its rows hold its matrix, of which the lower triangle (with the diagonal)
        is used; later columns may be missing. There are as many columns as the largest
        cluster has rows. (A missing value inside a lower triangle is an error here; metafor
        returns a matrix of NA.) Then
        :math:`V_{ij} = r_{ij}\sqrt{v_iv_j}` (with ``vi`` = 1 the columns are covariances,
        e.g. Berkey et al.'s 2 x 2 blocks). Replaces ``obs`` ... ``phi``; ``subgroup`` still
        splits clusters.

    Returns
    -------
    ndarray, shape (k, k)

    Raises
    ------
    InputError
        Missing values, lengths that differ from ``vi``, ``rho``/``phi`` missing or outside
        [-1, 1], non-numeric times or weights; ``rvars`` with fewer columns than a cluster has
        rows, a missing value within a cluster's lower triangle, or given together with the
        arguments it replaces.

    Examples
    --------
    >>> import metaverdict as mv
    >>> import metaverdict.models.vcalc
    >>> V = mv.models.vcalc.vcalc([0.04, 0.09, 0.01], cluster=[1, 1, 2], obs=[1, 2, 1],
    ...                           rho=0.5)
    >>> V.round(3).tolist()
    [[0.04, 0.03, 0.0], [0.03, 0.09, 0.0], [0.0, 0.0, 0.01]]
    """
    def col(name: str, x: Any, numeric: bool = False) -> np.ndarray:
        value = data[x].to_numpy() if isinstance(x, str) and data is not None else x
        arr = np.asarray(value, dtype=float if numeric else object).ravel()
        if len(arr) != k:
            raise InputError(f"field {name!r}: {len(arr)} values for {k} variances")
        if pd.isna(pd.Series(arr)).any():
            i = int(np.flatnonzero(pd.isna(pd.Series(arr)).to_numpy())[0])
            raise InputError(f"row {i + 1}, field {name!r}: missing value")
        return arr

    v = np.asarray(data[vi].to_numpy() if isinstance(vi, str) and data is not None else vi,
                   dtype=float).ravel()
    k = len(v)
    if k == 1:                        # one variance for every row (metafor: vi = 1)
        k = len(np.atleast_1d(np.asarray(
            data[cluster].to_numpy() if isinstance(cluster, str) and data is not None
            else cluster, dtype=object)))
        v = np.repeat(v, k)
    v = as_float_array(v, "vi", None)
    check_bounds(v, "vi", None, lower=0)
    cl = col("cluster", cluster).astype(str)
    if subgroup is not None:
        cl = np.char.add(np.char.add(cl.astype(str), "."), col("subgroup", subgroup).astype(str))
    if rvars is not None:
        others = {"obs": obs, "type": type, "time1": time1, "time2": time2, "grp1": grp1,
                  "grp2": grp2, "w1": w1, "w2": w2, "rho": rho, "phi": phi}
        given = [name for name, x in others.items() if x is not None]
        if given:
            raise InputError(f"field 'rvars': replaces {given}; give one or the other")
        return _from_rvars(v, cl, _rvars_matrix(rvars, data, k),
                           "cluster" if subgroup is None else "cluster.subgroup")
    ones = np.ones(k)
    if (obs is not None or type is not None) and rho is None:
        raise InputError("field 'rho': give the correlation of different 'obs'/'type'")
    if (time1 is not None or time2 is not None) and phi is None:
        raise InputError("field 'phi': give the autocorrelation of different time points")
    if phi is not None and not -1 <= phi <= 1:
        raise InputError(f"field 'phi': must lie in [-1, 1], got {phi}")
    rho_obs, rho_type = _split_rho(rho, obs is not None, type is not None)
    ob = col("obs", obs) if obs is not None else ones
    ty = col("type", type) if type is not None else ones
    g1 = col("grp1", grp1) if grp1 is not None else ones
    g2 = col("grp2", grp2) if grp2 is not None else 2 * ones
    t1 = col("time1", time1, True) if time1 is not None else ones
    t2 = col("time2", time2, True) if time2 is not None else t1
    a1 = col("w1", w1, True) if w1 is not None else ones
    a2 = col("w2", w2, True) if w2 is not None else a1
    f = 1.0 if phi is None else float(phi)

    def a(ga: np.ndarray, gb: np.ndarray, ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
        same: np.ndarray = (ga[:, None] == gb[None, :]) * f ** np.abs(ta[:, None] - tb[None, :])
        return same

    def inv(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out: np.ndarray = 1 / np.sqrt(np.outer(x, y))
        return out

    num = (a(g1, g1, t1, t1) * inv(a1, a1) - a(g1, g2, t1, t2) * inv(a1, a2)
           - a(g2, g1, t2, t1) * inv(a2, a1) + a(g2, g2, t2, t2) * inv(a2, a2))
    s = np.sqrt(1 / a1 + 1 / a2 - 2 * np.diag(a(g1, g2, t1, t2)) / np.sqrt(a1 * a2))
    same_type = ty[:, None] == ty[None, :]
    within = _pair_values(rho_obs, ob, "obs")
    between = _pair_values(rho_type, ty, "type")
    construct = np.where(same_type, np.where(ob[:, None] == ob[None, :], 1.0, within), between)
    R = construct * num / np.outer(s, s)
    R = np.where(cl[:, None] == cl[None, :], R, 0.0)
    np.fill_diagonal(R, 1.0)
    sd = np.sqrt(v)
    out: np.ndarray = R * np.outer(sd, sd)
    return out


def _rvars_matrix(rvars: Any, data: pd.DataFrame | None, k: int) -> np.ndarray:
    """The (k, m) values of ``rvars``: columns of ``data`` or an array."""
    if isinstance(rvars, str):
        rvars = [rvars]
    names = list(rvars) if isinstance(rvars, (list, tuple, pd.Index)) else []
    if names and all(isinstance(n, str) for n in names):
        if data is None:
            raise InputError("field 'data': rvars column names need data=")
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise InputError(f"field 'rvars': no column {missing} in data")
        rvars = data[names].to_numpy(dtype=float, na_value=np.nan)
    try:
        R = np.asarray(rvars, dtype=float)
    except (TypeError, ValueError):
        raise InputError("field 'rvars': expected column names or a numeric (k, m) array") \
            from None
    R = R.reshape(-1, 1) if R.ndim == 1 else R
    if R.ndim != 2 or R.shape[0] != k:
        raise InputError(f"field 'rvars': expected {k} rows (one per variance), got shape "
                         f"{R.shape}")
    return R


def _from_rvars(v: np.ndarray, cl: np.ndarray, rv: np.ndarray, what: str) -> np.ndarray:
    """V from each cluster's lower triangle in ``rv`` (see :func:`vcalc`)."""
    R = np.zeros((len(v), len(v)))
    largest = max(int(np.sum(cl == c)) for c in set(cl))
    if rv.shape[1] > largest:
        raise InputError(f"field 'rvars': {rv.shape[1]} columns, but the largest cluster has "
                         f"{largest} rows (give one column per row of the largest cluster)")
    for c in dict.fromkeys(cl):
        idx = np.flatnonzero(cl == c)
        if len(idx) > rv.shape[1]:
            raise InputError(f"field 'rvars': {what} {c} has {len(idx)} rows but rvars only "
                             f"{rv.shape[1]} columns")
        block = np.tril(rv[np.ix_(idx, np.arange(len(idx)))])
        bad = np.argwhere(np.isnan(block) & np.tri(len(idx), dtype=bool))
        if len(bad):
            i, j = bad[0]
            raise InputError(f"row {idx[i] + 1}, field 'rvars': missing value in column "
                             f"{j + 1} ({what} {c}'s lower triangle)")
        R[np.ix_(idx, idx)] = block + np.tril(block, -1).T
    sd = np.sqrt(v)
    out: np.ndarray = R * np.outer(sd, sd)
    return out


def _pair_values(rho: float | pd.DataFrame, labels: np.ndarray, name: str) -> Any:
    """A scalar correlation, or the (k, k) correlations of each pair of ``labels`` looked up
    in a labelled matrix."""
    if not isinstance(rho, pd.DataFrame):
        return rho
    index = {str(i): n for n, i in enumerate(rho.index)}
    missing = sorted({str(v) for v in labels} - set(index))
    if missing or [str(c) for c in rho.columns] != [str(i) for i in rho.index]:
        raise InputError(f"field 'rho': the matrix for {name!r} needs rows and columns for "
                         f"every value (missing: {missing[:3]})")
    values = rho.to_numpy(dtype=float)
    if np.any(np.abs(values) > 1) or not np.allclose(values, values.T):
        raise InputError(f"field 'rho': the matrix for {name!r} must be symmetric with "
                         "entries in [-1, 1]")
    pos = np.array([index[str(v)] for v in labels])
    return values[np.ix_(pos, pos)]


def _split_rho(rho: Any, has_obs: bool, has_type: bool
               ) -> tuple[float | pd.DataFrame, float | pd.DataFrame]:
    """(within-construct, between-construct) correlations: scalars or labelled matrices."""
    if rho is None:
        return 0.0, 0.0
    parts = list(rho) if isinstance(rho, (list, tuple)) else [rho]
    out: list[float | pd.DataFrame] = []
    for part in parts:
        if isinstance(part, pd.DataFrame):
            out.append(part)
            continue
        value = float(np.asarray(part, dtype=float).ravel()[0]) \
            if np.size(part) == 1 else float("nan")
        if not -1 <= value <= 1:
            raise InputError(f"field 'rho': correlations must lie in [-1, 1], got {part}")
        out.append(value)
    if has_obs and has_type:
        if len(out) != 2:
            raise InputError("field 'rho': with both 'obs' and 'type' give (within, between)")
        return out[0], out[1]
    if len(out) != 1:
        raise InputError("field 'rho': give one correlation (or one matrix)")
    return (out[0], 0.0) if has_obs else (0.0, out[0])
