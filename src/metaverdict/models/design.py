"""Moderator design matrices for meta-regression: formula strings (formulaic) or columns.

A formula is Wilkinson notation as formulaic reads it (``"ablat + C(alloc)"``; R's
``factor(x)`` is written ``C(x)``, ``I(year - mean(year))`` is ``I(year - year.mean())``).
Categorical terms use treatment coding with the first level in sorted order as reference, as
R's ``factor()`` does for ASCII labels of one case (R sorts in the locale's collation, which
can differ for mixed-case labels). Coefficient names follow R: ``intrcpt``, ``ablat``,
``allocrandom`` (``C(alloc)[T.random]`` in formulaic).
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from metaverdict.errors import InputError

_LEVEL = re.compile(r"^(?:C\((\w+)\)|(\w+))\[T\.(.*)\]$")


def r_name(column: str) -> str:
    """R's name for a design column: ``Intercept`` -> ``intrcpt``, ``C(x)[T.b]`` -> ``xb``."""
    if column == "Intercept":
        return "intrcpt"
    m = _LEVEL.match(column)
    if m:
        return f"{m.group(1) or m.group(2)}{m.group(3)}"
    return column


def _where(labels: list[Any] | None, i: int) -> str:
    return f"study {labels[i]!r}" if labels is not None else f"row {i + 1}"


def formula_variables(mods: str, data: pd.DataFrame) -> list[str]:
    """Columns of ``data`` that the formula ``mods`` uses (raises for unknown names)."""
    from formulaic import Formula
    formula = mods.strip().lstrip("~").strip()
    try:
        needed = Formula(formula).required_variables
    except Exception as exc:  # formulaic's parser raises several kinds
        raise InputError(f"field 'mods': cannot parse the formula {mods!r}: {exc}") from exc
    names = {str(c) for c in data.columns}
    unknown = sorted(v for v in needed if v not in names and not _is_module(v))
    if unknown:
        raise InputError(f"field 'mods': no column {unknown[0]!r} in data "
                         f"(columns: {list(data.columns)})")
    return sorted(v for v in needed if v in names)


def _is_module(name: str) -> bool:
    return name in {"np", "numpy", "pd", "pandas", "math"}


def complete_moderators(mods: Any, data: pd.DataFrame | None, k: int) -> np.ndarray:
    """Boolean mask of the studies whose moderators are all present (metafor's ``na.omit``)."""
    if isinstance(mods, str):
        if data is None:
            return np.ones(k, dtype=bool)
        cols = formula_variables(mods, data)
        return data[cols].notna().all(axis=1).to_numpy() if cols else np.ones(k, dtype=bool)
    frame = pd.DataFrame(mods)
    complete: np.ndarray = (frame.apply(pd.to_numeric, errors="coerce")
                            .notna().all(axis=1).to_numpy())
    return complete


def design_matrix(mods: Any, data: pd.DataFrame | None, k: int,
                  labels: list[Any] | None = None) -> tuple[np.ndarray, list[str]]:
    """Model matrix with the intercept first, and the coefficient names.

    Parameters
    ----------
    mods : str, DataFrame, Series or array
        A formula in Wilkinson notation over columns of ``data`` (``"ablat + C(alloc)"``,
        a leading ``~`` is optional; see the module docstring), or moderator columns.
        An intercept is added unless the formula removes it (``"0 + x"``/``"-1"``).
    data : DataFrame, optional
        Needed for formulas.
    k : int
        Number of studies (rows).
    labels : list, optional
        Study labels for error messages.

    Returns
    -------
    X : ndarray, shape (k, p)
    names : list of str
        R-like coefficient names (``intrcpt`` first).

    Raises
    ------
    InputError
        Missing or non-numeric moderator values (naming the study and moderator), an unknown
        column, a constant moderator, a design that is not of full column rank, or p >= k
        (a meta-regression needs more studies than coefficients).
    """
    if isinstance(mods, str):
        frame = _formula_frame(mods, data, labels)
    else:
        frame = pd.DataFrame(mods).reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        if "Intercept" not in frame.columns and "intrcpt" not in frame.columns:
            frame.insert(0, "Intercept", 1.0)
    if len(frame) != k:
        raise InputError(f"field 'mods': {len(frame)} rows of moderators for {k} studies")
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError(f"{_where(labels, int(bad[0]))}, moderator {col!r}: missing or not a "
                             f"finite number ({frame[col].iloc[bad[0]]!r}); drop the study "
                             "(missing='omit' drops it as metafor does) or impute the value")
        frame[col] = values
    names = [r_name(c) for c in frame.columns]
    X = frame.to_numpy(dtype=float)
    for j, name in enumerate(names):
        if name != "intrcpt" and np.ptp(X[:, j]) == 0 and "intrcpt" in names:
            raise InputError(f"moderator {name!r} is constant across studies; it cannot be "
                             "estimated alongside the intercept")
    check_full_rank(X, names)
    if X.shape[1] >= k:
        raise InputError(f"{X.shape[1]} coefficients need more than {k} studies")
    return X, names


#: Moderators whose largest magnitude lies outside [1/MAX_SCALE, MAX_SCALE] are rejected: their
#: coefficients' variances would under- or overflow.
MAX_SCALE = 1e100
#: A design whose column-scaled condition number exceeds this is treated as rank-deficient
#: (R's ``lm`` aliases a column at QR tolerance 1e-7; metafor then refuses or drops it).
MAX_CONDITION = 1e7


def check_full_rank(X: np.ndarray, names: list[str]) -> None:
    """Raise :class:`InputError` naming the moderators involved when the model matrix ``X``
    (k, p) is singular or so nearly so that the fit would be inaccurate.

    The check is invariant to the units of each moderator: columns are scaled to a largest
    magnitude of 1 before the singular values are taken, and a design is rejected when the
    ratio of the largest to the smallest exceeds :data:`MAX_CONDITION`. The moderators named
    are those with a large share in the (nearly) null direction.
    """
    scale = np.max(np.abs(X), axis=0)
    for j, name in enumerate(names):
        if scale[j] == 0:
            raise InputError(f"moderator {name!r} is 0 for every study; it cannot be estimated")
        if not 1 / MAX_SCALE <= scale[j] <= MAX_SCALE:
            raise InputError(f"moderator {name!r} has values of magnitude {scale[j]:.3g}; "
                             "rescale it (e.g. to units with values near 1) so that its "
                             "coefficient and standard error are representable")
    Xs = X / scale
    if Xs.shape[1] > Xs.shape[0]:
        return                      # more coefficients than studies: reported by the caller
    _, sv, vt = np.linalg.svd(Xs, full_matrices=False)
    if sv[-1] > sv[0] / MAX_CONDITION:
        return
    direction = np.abs(vt[-1])
    involved = [name for name, d in zip(names, direction) if d >= 0.1 * direction.max()]
    cond = np.inf if sv[-1] == 0 else sv[0] / sv[-1]
    raise InputError(f"the moderators {involved} are (nearly) linearly dependent: the design is "
                     f"not of full rank (column-scaled condition number {cond:.3g} > "
                     f"{MAX_CONDITION:.0e}); remove or combine redundant moderators")


def _formula_frame(mods: str, data: pd.DataFrame | None, labels: list[Any] | None) -> pd.DataFrame:
    if data is None:
        raise InputError("field 'mods': a formula needs data= holding its columns")
    from formulaic import model_matrix
    for col in formula_variables(mods, data):
        bad = np.flatnonzero(data[col].isna().to_numpy())
        if bad.size:      # checked before formulaic, which codes a missing level as all zeros
            raise InputError(f"{_where(labels, int(bad[0]))}, moderator {col!r}: missing value; "
                             "drop the study (missing='omit' drops it as metafor does) or "
                             "impute the value")
    formula = mods.strip().lstrip("~").strip()
    try:
        mm = model_matrix(formula, data.reset_index(drop=True), na_action="ignore")
    except Exception as exc:  # formulaic raises many kinds; report them as bad input
        raise InputError(f"field 'mods': cannot build the design from {mods!r}: {exc}") from exc
    return pd.DataFrame(np.asarray(mm, dtype=float), columns=list(mm.columns))
