"""Standardised moderators for likelihood optimisation (as metafor's ``scaleX``/``scaleZ``):
non-dummy columns of a design with an intercept are centred and scaled to unit SD during the
fit, which keeps the optimiser's problem well conditioned; the coefficients are mapped back
exactly afterwards."""
from __future__ import annotations

import numpy as np


def standardised(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The design with its non-dummy columns standardised, and the matrix ``M`` with
    ``coef = M @ coef_standardised`` (``Var coef = M V M'``). Designs without an intercept
    in column 0, or intercept-only ones, are returned unchanged (``M`` = I)."""
    p = X.shape[1]
    M = np.eye(p)
    if p == 1 or not np.all(X[:, 0] == 1):
        return X, M
    Xs = X.copy()
    for j in range(1, p):
        if np.all(np.isin(X[:, j], (0.0, 1.0))):
            continue
        m, s = X[:, j].mean(), X[:, j].std(ddof=1)
        Xs[:, j] = (X[:, j] - m) / s
        M[0, j], M[j, j] = -m / s, 1 / s
    return Xs, M
