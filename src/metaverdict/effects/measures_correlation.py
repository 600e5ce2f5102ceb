"""Kernels of the correlation measures: raw and Fisher-z correlations, and partial and
semi-partial correlations from a regression's t statistic (metafor's ``escalc`` formulas).

References
----------
Olkin, I., & Pratt, J. W. (1958). Unbiased estimation of certain correlation coefficients.
Annals of Mathematical Statistics, 29(1), 201-211 (UCOR and its unbiased variance).
Aloe, A. M., & Becker, B. J. (2012). An effect size for regression predictors in meta-analysis.
Journal of Educational and Behavioral Statistics, 37(2), 278-297 (SPCOR).
Aloe, A. M., & Thompson, C. G. (2013). The synthesis of partial effect sizes. Journal of the
Society for Social Work and Research, 4(4), 390-405 (PCOR, ZPCOR).
"""
from __future__ import annotations

import numpy as np

from metaverdict.effects._base import (
    Arrays,
    FloatArray,
    Options,
    by_vtype,
    fisher_z,
    hypergeometric_2f1,
    olkin_pratt,
    study_mean,
    to_z_scale,
)


def _raw_variance(yi: FloatArray, x: Arrays, o: Options) -> FloatArray:
    r, n = x["ri"], x["ni"]

    def unbiased() -> FloatArray:
        f = hypergeometric_2f1(1, 1, n / 2, 1 - r**2)
        return yi**2 - (1 - (n - 3) / (n - 2) * (1 - r**2) * f)

    return by_vtype(o, LS=lambda: (1 - yi**2) ** 2 / (n - 1), UB=unbiased,
                    AV=lambda: (1 - study_mean(yi, n) ** 2) ** 2 / (n - 1))


def correlation(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    r = x["ri"].copy()
    return r, _raw_variance(r, x, o)


def unbiased_correlation(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    yi = olkin_pratt(x["ri"], x["ni"])
    return yi, _raw_variance(yi, x, o)


def fisher_z_correlation(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return fisher_z(x["ri"]), 1 / (x["ni"] - 3)


def _partial(x: Arrays) -> FloatArray:
    t = x["ti"]
    return t / np.sqrt(t**2 + x["ni"] - x["mi"] - 1)


def partial_correlation(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """PCOR ``t/sqrt(t^2 + n - m - 1)``; ``vi = (1 - r^2)^2/(n - m)`` (metafor 5.0; 3.8-1:
    ``/(n - m - 1)``), with ``mi`` the number of predictors as in the data."""
    yi = _partial(x)
    df = x["ni"] - x["mi"] - (1 if o.legacy else 0)
    return yi, by_vtype(o, LS=lambda: (1 - yi**2) ** 2 / df,
                        AV=lambda: (1 - study_mean(yi, x["ni"]) ** 2) ** 2 / df)


def partial_correlation_z(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """ZPCOR: Fisher's z of PCOR; ``vi = 1/(n - m - 2)`` (metafor 5.0; 3.8-1: ``1/(n - m - 1)``)."""
    return fisher_z(_partial(x)), 1 / (x["ni"] - x["mi"] - (1 if o.legacy else 2))


def r_squared(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """R2: the coefficient of determination of a regression with ``mi`` predictors; ``vi =
    4 R^2 (1 - R^2)^2/n`` ("LS"), or Kendall and Stuart's (1979, eq. 27.87) full
    ``4 R^2 (1 - R^2)^2 (n - m - 1)^2/((n^2 - 1)(n + 3))`` ("LS2")."""
    r2, n, m = x["r2i"], x["ni"], x["mi"]
    return r2.copy(), by_vtype(
        o, LS=lambda: 4 * r2 * (1 - r2) ** 2 / n,
        LS2=lambda: 4 * r2 * (1 - r2) ** 2 * (n - m - 1) ** 2 / ((n**2 - 1) * (n + 3)),
        AV=lambda: 4 * study_mean(r2, n) * (1 - study_mean(r2, n)) ** 2 / n)


def r_squared_z(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """ZR2: ``atanh(sqrt(R^2))``, ``vi = 1/n`` (Olkin & Finn 1995, p. 162, with the 1/2 of
    Fisher's z)."""
    return fisher_z(np.sqrt(x["r2i"])), 1 / x["ni"]


def semipartial_correlation(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """SPCOR ``t sqrt(1 - R^2)/sqrt(n - m - 1)`` (Aloe & Becker 2012)."""
    n, r2 = x["ni"], x["r2i"]
    yi = x["ti"] * np.sqrt(1 - r2) / np.sqrt(n - x["mi"] - 1)

    def variance(y: FloatArray) -> FloatArray:
        return (r2**2 - 2 * r2 + (r2 - y**2) + 1 - (r2 - y**2) ** 2) / n

    return yi, by_vtype(o, LS=lambda: variance(yi), AV=lambda: variance(study_mean(yi, n)))


def semipartial_correlation_z(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return to_z_scale(*semipartial_correlation(x, o))
