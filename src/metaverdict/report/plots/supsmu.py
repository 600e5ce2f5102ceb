r"""Friedman's super smoother (R ``stats::supsmu``), which metafor's ``qqnorm`` applies to the
simulated envelope.

Three running-line smoothers (spans of 5%, 20% and 50% of the observations: the tweeter,
midrange and woofer) are fitted; their leave-one-out absolute residuals, smoothed with the
midrange span, pick at each point the span with the smallest cross-validated error (pushed
toward the woofer by the bass control α, 0 < α <= 10, as
:math:`s + (s_3 - s)\max(10^{-7}, r/r_3)^{10-α}`); those spans are smoothed with the
midrange span, the fit at each point is interpolated between the two neighbouring smooths,
and the result is smoothed once more with the tweeter span. A running line over the window
of :math:`2\lfloor span\,n/2 + 1/2\rfloor + 1` neighbours (at least 5) is updated one
observation in and one out; its slope is 0 where the window's x variance is below
:math:`(10^{-3} \cdot IQR_x)^2`; tied x values share their mean. The constants are those of
R's Fortran (single-precision literals: 0.05, 0.2, 0.5, 1e-7, 1e-3 as stored there), so that
the smooth is R's to rounding.

Reference: Friedman, J. H. (1984). A variable span smoother. Technical Report No. 5,
Laboratory for Computational Statistics, Stanford University.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from metaverdict.errors import InputError

_SPANS = tuple(float(np.float32(s)) for s in (0.05, 0.2, 0.5))   # tweeter, midrange, woofer
_BIG = float(np.float32(1e20))
_SML = float(np.float32(1e-7))
_EPS = float(np.float32(1e-3))


def super_smoother(x: Any, y: Any, weights: Any = None, span: float | str = "cv",
                   bass: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth y against x (R ``supsmu(x, y, wt, span, bass=)``, not periodic).

    Parameters
    ----------
    x, y : array_like
        The observations; pairs with a non-finite x, y or weight are left out (as R).
    weights : array_like, optional
        Case weights (default 1).
    span : float or "cv"
        A fixed span in (0, 1] (fraction of the observations in each window), or ``"cv"``
        for the cross-validated variable span.
    bass : float
        Bass control, in (0, 10] to favour larger spans (0: none).

    Returns
    -------
    (x, smooth) : tuple of ndarray
        The distinct x values in increasing order and the smooth there.

    Raises
    ------
    InputError
        Lengths that differ, a span outside [0, 1], no finite observation.
    """
    xa, ya = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    w = np.ones_like(ya) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not (len(xa) == len(ya) == len(w)):
        raise InputError(f"super_smoother(): x, y and weights have {len(xa)}, {len(ya)} and "
                         f"{len(w)} values")
    if span == "cv":
        span_value = 0.0
    elif isinstance(span, (int, float)) and not isinstance(span, bool) and 0 <= span <= 1:
        span_value = float(span)
    else:
        raise InputError(f"field 'span': 'cv' or a number in [0, 1] expected, got {span!r}")
    ok = np.isfinite(xa + ya + w)
    if not ok.any():
        raise InputError("super_smoother(): no finite observation")
    order = np.lexsort((ya[ok], xa[ok]))
    xs, ys, ws = xa[ok][order], ya[ok][order], w[ok][order]
    smo = _supsmu(xs, ys, ws, span_value, float(bass))
    first = np.concatenate([[True], xs[1:] != xs[:-1]])
    return xs[first], smo[first]


def _supsmu(x: np.ndarray, y: np.ndarray, w: np.ndarray, span: float,
            alpha: float) -> np.ndarray:
    n = len(x)
    if not x[-1] > x[0]:
        sw = float(np.sum(w))
        return np.full(n, float(np.sum(w * y)) / sw if sw > 0 else 0.0)
    # 1-based quartile positions, as in Fortran (which reads x(0) below n = 4: here 1)
    i, j = max(n // 4, 1), max(3 * (n // 4), 1)
    scale = x[j - 1] - x[i - 1]
    while scale <= 0:
        j = j + 1 if j < n else j
        i = i - 1 if i > 1 else i
        scale = x[j - 1] - x[i - 1]
    vsmlsq = (_EPS * scale) ** 2
    if span > 0:
        return _smooth(x, y, w, span, True, vsmlsq)[0]
    fits, cv = [], []
    for s in _SPANS:
        fit, resid = _smooth(x, y, w, s, True, vsmlsq)
        fits.append(fit)
        cv.append(_smooth(x, resid, w, _SPANS[1], False, vsmlsq)[0])
    best = np.empty(n)
    for j in range(n):
        resmin = _BIG
        for s, r in zip(_SPANS, cv):
            if r[j] < resmin:
                resmin = r[j]
                best[j] = s
        if 0 < alpha <= 10 and 0 < resmin < cv[2][j]:
            best[j] += (_SPANS[2] - best[j]) * max(_SML, resmin / cv[2][j]) ** (10 - alpha)
    chosen = _smooth(x, best, w, _SPANS[1], False, vsmlsq)[0]
    blend = np.empty(n)
    for j in range(n):
        s = min(max(chosen[j], _SPANS[0]), _SPANS[2])
        f = s - _SPANS[1]
        if f < 0:
            f = -f / (_SPANS[1] - _SPANS[0])
            blend[j] = (1 - f) * fits[1][j] + f * fits[0][j]
        else:
            f = f / (_SPANS[2] - _SPANS[1])
            blend[j] = (1 - f) * fits[1][j] + f * fits[2][j]
    return _smooth(x, blend, w, _SPANS[0], False, vsmlsq)[0]


def _smooth(x: np.ndarray, y: np.ndarray, w: np.ndarray, span: float, cross_validate: bool,
            vsmlsq: float) -> tuple[np.ndarray, np.ndarray]:
    """A running-line smooth with the given span and, when ``cross_validate``, each point's
    absolute leave-one-out residual (Fortran ``smooth``, non-periodic)."""
    n = len(x)
    xm = ym = var = cvar = fbw = 0.0
    ibw = max(int(0.5 * span * n + 0.5), 2)
    smo, acvr = np.empty(n), np.zeros(n)

    def add(xv: float, yv: float, wt: float) -> None:
        nonlocal xm, ym, var, cvar, fbw
        fbo = fbw
        fbw += wt
        if fbw > 0:
            xm = (fbo * xm + wt * xv) / fbw
            ym = (fbo * ym + wt * yv) / fbw
        tmp = fbw * wt * (xv - xm) / fbo if fbo > 0 else 0.0
        var += tmp * (xv - xm)
        cvar += tmp * (yv - ym)

    for i in range(min(2 * ibw + 1, n)):
        add(x[i], y[i], w[i])
    for j in range(n):
        out, into = j - ibw - 1, j + ibw            # 0-based: the point leaving, the one entering
        if out >= 0 and into < n:
            wt, fbo = w[out], fbw
            fbw -= wt
            tmp = fbo * wt * (x[out] - xm) / fbw if fbw > 0 else 0.0
            var -= tmp * (x[out] - xm)
            cvar -= tmp * (y[out] - ym)
            if fbw > 0:
                xm = (fbo * xm - wt * x[out]) / fbw
                ym = (fbo * ym - wt * y[out]) / fbw
            add(x[into], y[into], w[into])
        slope = cvar / var if var > vsmlsq else 0.0
        smo[j] = slope * (x[j] - xm) + ym
        if cross_validate:
            h = 1 / fbw if fbw > 0 else 0.0
            if var > vsmlsq:
                h += (x[j] - xm) ** 2 / var
            a = 1 - w[j] * h
            if a > 0:
                acvr[j] = abs(y[j] - smo[j]) / a
            elif j > 0:
                acvr[j] = acvr[j - 1]
    j = 0
    while j < n:                                     # tied x values share their mean
        j0, sy, sw = j, smo[j] * w[j], w[j]
        while j + 1 < n and not x[j + 1] > x[j]:
            j += 1
            sy += w[j] * smo[j]
            sw += w[j]
        if j > j0:
            smo[j0:j + 1] = sy / sw if sw > 0 else 0.0
        j += 1
    return smo, acvr
