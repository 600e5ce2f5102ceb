"""Henmi and Copas's confidence interval for the pooled effect, robust to publication bias
(metafor ``hc``)."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import integrate, special

from metaverdict._results import ResultMixin, fmt
from metaverdict.diagnostics._refit import require_intercept_only, require_result
from metaverdict.errors import ConvergenceError, InputError
from metaverdict.models.results import MetaAnalysisResult
from metaverdict.models.zeroin import zeroin

_R_TOL = np.finfo(float).eps ** 0.25      # R's default tolerance of integrate() and uniroot()


@dataclass(frozen=True, repr=False)
class HenmiCopas(ResultMixin):
    """The common-effect estimate with Henmi and Copas's standard error and interval, and the
    DerSimonian-Laird ``tau2`` they use."""

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    tau2: float
    level: float
    _repr_fields = ("estimate", "ci_lower", "ci_upper", "tau2")

    def summary(self) -> str:
        pct = int(round(self.level * 100))
        return (f"Henmi-Copas: estimate {fmt(self.estimate)} (SE {fmt(self.se)}), {pct}% CI "
                f"{fmt(self.ci_lower)} to {fmt(self.ci_upper)}; tau^2 (DL) = {fmt(self.tau2)}")


def henmi_copas(res: MetaAnalysisResult, tol: float = _R_TOL) -> HenmiCopas:
    """Henmi-Copas interval: the inverse-variance (common-effect) estimate, with the
    DerSimonian-Laird tau² in its variance, and an interval from the exact distribution of
    :math:`T = (\\hat\\theta - \\theta)/\\operatorname{SE}` given Q.

    With :math:`w_i = 1/v_i`, :math:`W_1 = \\sum w_i`, :math:`W_m = \\sum w_i^m / W_1`:
    :math:`\\hat\\theta = \\sum w_i y_i / W_1`, :math:`\\operatorname{Var}\\hat\\theta =
    (\\hat\\tau^2 W_2 + 1)/W_1`. :math:`R = (\\hat\\theta - \\theta)\\sqrt{W_1}` is normal with
    variance :math:`1 + \\hat\\tau^2 W_2`; Q given R is approximated by a gamma distribution with
    the conditional mean and variance of Henmi & Copas (2010, Appendix). The interval is
    :math:`\\hat\\theta \\pm u_0 \\operatorname{SE}` where :math:`u_0 = \\operatorname{SD}(R)\\,t_0`
    and :math:`t_0` solves :math:`\\int_{t}^{\\infty} P(Q \\le f^{-1}(r/t) \\mid R)\\,\\phi(r)\\,dr
    = (1 - \\text{level})/2`.

    The integral uses QUADPACK's ``qagi`` and the root Brent's ``zeroin``, both with tolerance
    ``tol``; the default (R's :math:`\\epsilon^{1/4} \\approx 1.2\\times 10^{-4}`) reproduces
    metafor to machine precision, a smaller one gives the exact root.

    Raises
    ------
    InputError
        Moderators or k < 2.

    References
    ----------
    Henmi M, Copas JB (2010). Confidence intervals for random effects meta-analysis and
    robustness to publication bias. *Statistics in Medicine* 29:2969-2983.
    """
    require_result(res, "henmi_copas")
    require_intercept_only(res, "the Henmi-Copas interval")
    y, v = res.yi, res.vi
    k = len(y)
    if k < 2:
        raise InputError(f"the Henmi-Copas interval needs at least 2 studies, got k = {k}")
    w = 1 / v
    W1 = w.sum()
    W2, W3, W4 = ((w ** m).sum() / W1 for m in (2, 3, 4))
    theta = float((w * y).sum() / W1)
    q = float((w * (y - theta) ** 2).sum())
    tau2 = max(0.0, (q - (k - 1)) / (W1 - W2))
    se = math.sqrt((tau2 * W2 + 1) / W1)
    vr = 1 + tau2 * W2
    sdr = math.sqrt(vr)
    d3 = W3 - W2 ** 2

    def mean_q(r: float) -> float:
        return (k - 1) + tau2 * (W1 - W2) + tau2 ** 2 * (r * r / vr ** 2 - 1 / vr) * d3

    def var_q(r: float) -> float:
        s = r * r / vr ** 2 - 1 / vr
        return (2 * (k - 1) + 4 * tau2 * (W1 - W2) + 2 * tau2 ** 2 * (W1 * W2 - 2 * W3 + W2 ** 2)
                + 4 * tau2 ** 2 * s * d3 + 4 * tau2 ** 3 * s * (W4 - 2 * W2 * W3 + W2 ** 3)
                + 2 * tau2 ** 4 * (1 / vr ** 2 - 2 * r * r / vr ** 3) * d3 ** 2)

    def q_bound(f: float) -> float:                         # f^{-1}: Q as a function of T/R
        return (W1 / W2 - 1) * (f * f - 1) + (k - 1)

    alpha = 1 - res.level

    def equation(t: float) -> float:
        def integrand(r: float) -> float:
            bound = q_bound(r / t) if t > 0 else math.inf
            m, s2 = mean_q(sdr * r), var_q(sdr * r)
            cdf = (1.0 if math.isinf(bound)
                   else float(special.gammainc(m * m / s2, max(bound, 0.0) * m / s2)))
            return cdf * math.exp(-r * r / 2) / math.sqrt(2 * math.pi)
        return (integrate.quad(integrand, t, math.inf, epsabs=tol, epsrel=tol, limit=100)[0]
                - alpha / 2)

    t0 = _zeroin(equation, 0.0, 2.0, tol)
    u0 = sdr * t0
    return HenmiCopas(theta, se, theta - u0 * se, theta + u0 * se, tau2, res.level)


def _zeroin(f: Callable[[float], float], a: float, b: float, tol: float,
            max_iter: int = 1000) -> float:
    """The root of ``f`` in [a, b] as R's ``uniroot`` finds it
    (:func:`metaverdict.models.zeroin.zeroin`)."""
    fa, fb = f(a), f(b)
    if fa * fb > 0:
        raise ConvergenceError("Henmi-Copas: the equation does not change sign on [0, 2]")
    root, converged = zeroin(f, a, b, fa, fb, tol, max_iter)
    if not converged:
        raise ConvergenceError(f"Henmi-Copas: root search did not converge in {max_iter} "
                               "iterations")
    return root
