"""Moderator design matrices for meta-regression: formula strings (formulaic) or columns."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict.errors import InputError


def design_matrix(mods: Any, data: pd.DataFrame | None, k: int,
                  labels: list[Any] | None = None) -> tuple[np.ndarray, list[str]]:
    """Model matrix with the intercept first, and the coefficient names.

    Parameters
    ----------
    mods : str, DataFrame, Series or array
        A formula in Wilkinson notation over columns of ``data`` (``"ablat + C(alloc)"``,
        a leading ``~`` is optional; categorical terms use treatment coding with the first
        level, in sorted order, as reference, like R's ``factor()``), or moderator columns.
        An intercept is added unless the formula removes it (``"0 + x"``/``"-1"``).
    data : DataFrame, optional
        Needed for formulas.
    k : int
        Number of studies (rows).

    Raises
    ------
    InputError
        Missing or non-numeric moderator values (naming the study and moderator), a constant
        moderator, or a design that is not of full column rank.
    """
    if isinstance(mods, str):
        if data is None:
            raise InputError("field 'mods': a formula needs data= holding its columns")
        from formulaic import model_matrix
        formula = mods.strip().lstrip("~").strip()
        try:
            mm = model_matrix(formula, data, na_action="ignore")
        except Exception as exc:  # formulaic raises many kinds; report them as bad input
            raise InputError(f"field 'mods': cannot build the design from {mods!r}: {exc}") from exc
        frame = pd.DataFrame(np.asarray(mm, dtype=float), columns=list(mm.columns))
    else:
        frame = pd.DataFrame(mods).reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        if "Intercept" not in frame.columns:
            frame.insert(0, "Intercept", 1.0)
    if len(frame) != k:
        raise InputError(f"field 'mods': {len(frame)} rows of moderators for {k} studies")
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            where = f"study {labels[bad[0]]!r}" if labels else f"row {bad[0] + 1}"
            raise InputError(f"{where}, moderator {col!r}: missing or not a finite number "
                             f"({frame[col].iloc[bad[0]]!r}); drop the study or impute the value")
        frame[col] = values
    names = ["intrcpt" if c == "Intercept" else c for c in frame.columns]
    X = frame.to_numpy(dtype=float)
    for j, name in enumerate(names):
        if name != "intrcpt" and np.ptp(X[:, j]) == 0 and "intrcpt" in names:
            raise InputError(f"moderator {name!r} is constant across studies; it cannot be "
                             "estimated alongside the intercept")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise InputError(f"the moderators {names} are linearly dependent (design not of full "
                         "rank); remove redundant moderators")
    if X.shape[1] >= k:
        raise InputError(f"{X.shape[1]} coefficients need more than {k} studies")
    return X, names
