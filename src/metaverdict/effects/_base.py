"""Shared pieces of the effect-size kernels: array types, options, and the helpers that more
than one family of measures needs (Hedges' correction, pooled SD, Fisher's z, weighted means).

Every helper is elementwise over arrays of any shape, except :func:`study_mean`, which averages
over the last axis (the studies), so a leading batch axis works throughout.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln, hyp2f1

FloatArray = npt.NDArray[np.float64]
Arrays = dict[str, FloatArray]
MetaforVersion = Literal["5.0", "3.8"]


@dataclass(frozen=True)
class Options:
    """What changes a measure's formula besides its inputs.

    Attributes
    ----------
    vtype : str or tuple of str
        metafor's ``vtype``: which estimator of the sampling variance (``"LS"`` large-sample,
        ``"UB"`` unbiased, ``"AV"`` from the sample-size weighted average outcome, ...); a
        tuple gives one per study (the last axis of the inputs).
    correct : bool
        metafor 5's ``correct``: apply the small-sample bias corrections (Hedges' ``c(m)`` for the
        standardized measures, ``1/(2(n-1))`` for the log SD/CV measures, the second-order
        correction of ROM).
    metafor : {"5.0", "3.8"}
        Whose formulas: metafor 5.0-1 (default) or 3.8-1, for the measures whose formula changed
        between the two (ROM, ZPCOR, PCOR, SMDH, SMD1H, SMCRH).
    """

    vtype: str | tuple[str, ...] = "LS"
    correct: bool = True
    metafor: MetaforVersion = "5.0"

    @property
    def legacy(self) -> bool:
        """Whether metafor 3.8-1's formulas are asked for."""
        return self.metafor == "3.8"


Kernel = Callable[[Arrays, Options], tuple[FloatArray, FloatArray]]

#: From this many degrees of freedom on, :func:`hedges_correction` uses its asymptotic series.
HEDGES_SERIES_FROM = 30.0


def hedges_correction(m: FloatArray) -> FloatArray:
    """Exact small-sample bias correction of Hedges (1981).

    .. math:: c(m) = \\exp\\{\\ln\\Gamma(m/2) - \\tfrac12\\ln(m/2) - \\ln\\Gamma((m-1)/2)\\},

    with ``m = n1 + n2 - 2`` degrees of freedom (approximately ``1 - 3/(4m - 1)``).

    The difference of two log-gamma values of size ~m log m cancels for large m (relative
    error 4e-6 at m = 2e9, nonsense from m ~ 1e15), so from ``m >=`` :data:`HEDGES_SERIES_FROM`
    the logarithm is the asymptotic series of :math:`\\ln\\Gamma(z+\\tfrac12) - \\ln\\Gamma(z)`,
    :math:`z = (m-1)/2`: :math:`\\ln c = -\\tfrac12\\ln(1 + \\tfrac1{2z}) - \\tfrac1{8z}
    + \\tfrac1{192z^3} - \\tfrac1{640z^5} + \\tfrac{17}{14336z^7} - \\tfrac{31}{18432z^9}`,
    accurate to 1e-15 there (the exact formula is used below, as metafor does).
    """
    m = np.asarray(m, dtype=np.float64)
    big = m >= HEDGES_SERIES_FROM
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.where(big, (m - 1) / 2, HEDGES_SERIES_FROM)
        iz = 1 / z
        iz2 = iz * iz
        log_series = (-0.5 * np.log1p(0.5 * iz)
                      - iz * (1 / 8 - iz2 * (1 / 192 - iz2 * (1 / 640 - iz2 * (
                          17 / 14336 - iz2 * 31 / 18432)))))
        small = np.where(big, HEDGES_SERIES_FROM, m)
        log_exact = gammaln(small / 2) - 0.5 * np.log(small / 2) - gammaln((small - 1) / 2)
    c: FloatArray = np.exp(np.where(big, log_series, log_exact))
    return c


def bias_factor(m: FloatArray, options: Options) -> FloatArray:
    """:func:`hedges_correction` of ``m``, or 1 when ``options.correct`` is false."""
    c = hedges_correction(m)
    return c if options.correct else np.ones_like(c)


def pooled_sd_kernel(sd1: FloatArray, n1: FloatArray, sd2: FloatArray,
                     n2: FloatArray) -> FloatArray:
    """Pooled standard deviation ``sqrt(((n1-1) sd1^2 + (n2-1) sd2^2) / (n1 + n2 - 2))``."""
    return np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))


def fisher_z(r: FloatArray) -> FloatArray:
    """Fisher's r-to-z transformation ``atanh(r) = ln((1 + r)/(1 - r))/2``."""
    return 0.5 * np.log((1 + r) / (1 - r))


def to_z_scale(yi: FloatArray, vi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """A correlation-type ``(yi, vi)`` on Fisher's z scale by the delta method (metafor's ZPHI,
    ZTET, ZPB, ZBIS, ZSPCOR): ``vi / (1 - min(yi^2, 1))^2`` and ``atanh(yi)``."""
    return fisher_z(yi), vi / (1 - np.minimum(yi**2, 1)) ** 2


#: Most terms summed by :func:`hypergeometric_2f1`'s series (it converges geometrically there).
SERIES_TERMS = 100_000


def hypergeometric_2f1(a: float, b: float, c: FloatArray, z: FloatArray) -> FloatArray:
    """Gauss's hypergeometric function ``2F1(a, b; c; z)`` for ``0 <= z < 1`` (metafor's
    ``.Fcalc``; NaN unless ``c > a + b``).

    SciPy's ``hyp2f1`` returns NaN for large ``c`` with ``z`` near 1 (e.g. ``c = 162``,
    ``z = 0.9975``, SciPy 1.x); there the defining power series is summed instead (its terms
    shrink at least geometrically once ``k`` exceeds ``c``).
    """
    c, z = np.broadcast_arrays(np.asarray(c, dtype=np.float64), np.asarray(z, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        out = np.where(c > a + b, hyp2f1(a, b, c, z), np.nan)
    redo = ~np.isfinite(out) & (c > a + b) & np.isfinite(z)
    if redo.any():
        cc, zz = c[redo], z[redo]
        term, total = np.ones_like(zz), np.ones_like(zz)
        for k in range(SERIES_TERMS):
            term = term * (a + k) * (b + k) / ((cc + k) * (k + 1)) * zz
            total = total + term
            if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
                break
        out = out.copy()
        out[redo] = total
    result: FloatArray = out
    return result


def olkin_pratt(r: FloatArray, n: FloatArray) -> FloatArray:
    """Olkin and Pratt's (1958) unbiased correlation ``r 2F1(1/2, 1/2; (n-2)/2; 1 - r^2)``."""
    return r * hypergeometric_2f1(0.5, 0.5, (n - 2) / 2, 1 - r**2)


def study_mean(x: FloatArray, w: FloatArray) -> FloatArray:
    """Weighted mean over the studies (last axis) of the finite entries, kept as an axis of
    length one so it broadcasts against per-study arrays (metafor's ``.wmean(na.rm=TRUE)``)."""
    ok = np.isfinite(x) & np.isfinite(w)
    num = np.sum(np.where(ok, x * w, 0.0), axis=-1, keepdims=True)
    den = np.sum(np.where(ok, w, 0.0), axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean: FloatArray = num / den
    return mean


def by_vtype(options: Options, **variances: Callable[[], FloatArray]) -> FloatArray:
    """The variance that ``options.vtype`` names among ``variances`` (checked beforehand);
    with one vtype per study, each study's from its own (estimators that average over the
    studies, such as ``"AV"``, still average over all of them, as metafor's)."""
    if isinstance(options.vtype, str):
        return variances[options.vtype]()
    kinds = np.asarray(options.vtype)
    out: FloatArray | None = None
    for kind in dict.fromkeys(options.vtype):
        value = np.asarray(variances[kind](), dtype=np.float64)
        if out is None:
            out = np.array(np.broadcast_to(value, value.shape[:-1] + kinds.shape))
        mask = kinds == kind
        out[..., mask] = np.broadcast_to(value, out.shape)[..., mask]
    assert out is not None
    return out
