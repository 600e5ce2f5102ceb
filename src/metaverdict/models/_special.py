"""The χ² upper tail for the Q test, shared by the array engine and the compiled kernel.

For integer ``df`` up to :data:`CLOSED_FORM_MAX_DF` it is a closed form (Abramowitz & Stegun
26.4.4-5): for even df the finite Poisson sum :math:`e^{-x/2} \\sum_{j<df/2} (x/2)^j / j!`,
for odd df the normal tail :math:`\\operatorname{erfc}(\\sqrt{x/2})` plus
:math:`e^{-x/2} \\sqrt{2x/\\pi} \\sum_{j<(df-1)/2} x^j / (3 \\cdot 5 \\cdots (2j+1))`.
It equals ``scipy.stats.chi2.sf`` within 1e-13 relative and is several times faster; other
``df`` go to SciPy.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from scipy import stats

CLOSED_FORM_MAX_DF = 60
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


@numba.njit(cache=True)
def chi2_sf_int(x: float, df: int) -> float:
    """P(χ²_df > x) for an integer 1 <= ``df`` <= :data:`CLOSED_FORM_MAX_DF` (scalar)."""
    if x == math.inf:
        return 0.0
    h = x / 2
    if df % 2 == 0:
        term = math.exp(-h)
        total = term
        for j in range(1, df // 2):
            term *= h / j
            total += term
        return total
    r = math.sqrt(x)
    total = math.erfc(r / math.sqrt(2.0))
    if df > 1:
        term = math.exp(-h) * r * _SQRT_2_OVER_PI
        total += term
        for j in range(1, (df - 1) // 2):
            term *= x / (2 * j + 1)
            total += term
    return total


@numba.njit(cache=True)
def _chi2_sf_array(x: np.ndarray, df: int) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = chi2_sf_int(x[i], df)
    return out


def chi2_sf(x: np.ndarray, df: float) -> np.ndarray:
    """Upper tail of the χ² distribution at ``x`` (array) with ``df`` degrees of freedom."""
    x = np.asarray(x, dtype=float)
    if df != int(df) or not 1 <= df <= CLOSED_FORM_MAX_DF:
        sf: np.ndarray = stats.chi2.sf(x, df)
        return sf
    return _chi2_sf_array(x.ravel(), int(df)).reshape(x.shape)
