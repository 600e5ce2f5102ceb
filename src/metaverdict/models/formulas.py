"""The element-wise formulas of the univariate random-effects model, written once.

Each function maps the sufficient statistics of one analysis (scalars) to a result with plain
arithmetic only (``+ - * /``, ``**``, ``abs``, comparisons), with no call into NumPy or any
other namespace, so that the same code

* broadcasts over arrays of analyses of any array-API library (NumPy, CuPy, PyTorch: the
  array kernels of :mod:`metaverdict.models.random_effects` and
  :mod:`metaverdict.models.inference`), and
* compiles with ``numba.njit`` into the per-analysis kernel of
  :mod:`metaverdict.batch.compiled` (a function of scalars, inlined into the loops).

``x ** 0.5`` is the square root (NumPy computes it with ``sqrt``; LLVM turns it into the
``sqrt`` instruction). Truncation at 0, the choice between steps and the guards against a zero
denominator are branches, so they stay with the caller (``xp.maximum``/``xp.where`` in array
code, ``max``/``if`` in compiled code); so do the sums over studies, which the array kernels
form with dot products and the compiled kernel in fused loops.

Notation (intercept-only or meta-regression model with ``k`` studies and ``p`` coefficients,
weights :math:`w_i = 1/(v_i + \\tau^2)`, ``df = k - p``, :math:`P = W - WX(X'WX)^{-1}X'W`):
``q`` = :math:`y'Py` (Cochran's Q when :math:`\\tau^2 = 0`), ``tr_p`` = :math:`\\operatorname{tr}P`,
``tr_p2`` = :math:`\\operatorname{tr}P^2`, ``ypy2`` = :math:`y'P^2y`, ``ypy3`` = :math:`y'P^3y`.

References: DerSimonian & Laird (1986), *Control Clin Trials* 7:177-188; Hedges (1983),
*Psychol Bull* 93:388-395; Viechtbauer (2005), *J Educ Behav Stat* 30:261-293 (the estimating
equations, Fisher information and standard errors); Paule & Mandel (1982), *J Res Natl Bur
Stand* 87:377-385; Hartung & Knapp (2001), *Stat Med* 20:3875-3889; Higgins & Thompson (2002),
*Stat Med* 21:1539-1558 (I², H², typical within-study variance); Riley, Higgins & Deeks
(2011), *BMJ* 342:d549 (prediction interval); metafor's ``rma.uni`` (Viechtbauer 2010,
*J Stat Softw* 36(3)).

>>> dl_tau2(q=12.0, df=4, tr_p=40.0)
0.2
>>> i2_h2(tau2=0.2, vtilde=0.05)
(80.0, 5.0)
"""
from __future__ import annotations

import math

#: :math:`\\log 2\\pi`, the constant of the normal log-likelihood.
LOG_2PI = math.log(2 * math.pi)


def dl_tau2(q: float, df: float, tr_p: float) -> float:
    """DerSimonian-Laird tau² before truncation at 0: :math:`(Q - df)/\\operatorname{tr}P`,
    with Q and P at weights 1/v (DerSimonian & Laird 1986; metafor ``method="DL"``)."""
    return (q - df) / tr_p


def dl_tau2_se(tau2: float, df: float, tr_p: float, tr_p2: float) -> float:
    """Standard error of the DL estimate (metafor ``se.tau2``):
    :math:`\\sqrt{2\\,df + 4\\tau^2 \\operatorname{tr}P + 2\\tau^4 \\operatorname{tr}P^2}
    / \\operatorname{tr}P`, P at weights 1/v."""
    root: float = (2 * df + 4 * tau2 * tr_p + 2 * tau2 * tau2 * tr_p2) ** 0.5
    return root / tr_p


def he_tau2(rss: float, tr_pv: float, df: float) -> float:
    """Hedges tau² before truncation at 0: :math:`(y'P_1y - \\operatorname{tr}P_1V)/df` with
    the unweighted projection :math:`P_1` (Hedges 1983; metafor ``method="HE"``)."""
    return (rss - tr_pv) / df


def he_tau2_se(tau2: float, df: float, tr_pv: float, ss_pv: float) -> float:
    """Standard error of the HE estimate: :math:`\\sqrt{2\\operatorname{tr}(P_1V)^2
    + 4\\tau^2\\operatorname{tr}P_1V + 2\\tau^4 df}/df`."""
    root: float = (2 * ss_pv + 4 * tau2 * tr_pv + 2 * tau2 * tau2 * df) ** 0.5
    return root / df


def intercept_unit_traces(sum_v: float, sum_v2: float, k: float) -> tuple[float, float]:
    """:math:`(\\operatorname{tr}P_1V, \\operatorname{tr}(P_1V)^2)` of the intercept-only model
    with unit weights, :math:`P_1 = I - J/k`, from :math:`\\sum v_i` and :math:`\\sum v_i^2`:
    :math:`\\sum v - \\sum v/k` and :math:`\\sum v^2 - 2\\sum v^2/k + (\\sum v/k)^2`."""
    mean_v = sum_v / k
    return sum_v - mean_v, sum_v2 - 2 * sum_v2 / k + mean_v * mean_v


def ml_equation(ypy2: float, sum_w: float) -> float:
    """The ML estimating equation (half the score): :math:`y'P^2y - \\operatorname{tr}W`,
    positive below the root (Hardy & Thompson 1996; Viechtbauer 2005, eq. 9)."""
    return ypy2 - sum_w


def reml_equation(ypy2: float, tr_p: float) -> float:
    """The REML estimating equation (half the score): :math:`y'P^2y - \\operatorname{tr}P`,
    positive below the root (Viechtbauer 2005, eq. 11)."""
    return ypy2 - tr_p


def q_equation(q: float, target: float) -> float:
    """The generalised Q equation :math:`y'Py - \\text{target}`, decreasing in tau²: Paule-Mandel
    with target k - p (Paule & Mandel 1982), its median variant, and Q-profile bounds."""
    return q - target


def equation_slope(information: float, ypy3: float) -> float:
    """The derivative in tau² of the ML or REML equation: :math:`I - 2y'P^3y`, with
    :math:`I` = :math:`\\sum w_i^2` (ML) or :math:`\\operatorname{tr}P^2` (REML), from
    :math:`d\\,y'P^2y/d\\tau^2 = -2y'P^3y`; negative where the likelihood is concave."""
    return information - 2 * ypy3


def fisher_step(value: float, information: float) -> float:
    """Metafor's Fisher-scoring step: the equation value over its expected information
    (:math:`\\sum w_i^2` for ML, :math:`\\operatorname{tr}P^2` for REML)."""
    return value / information


def newton_step(value: float, slope: float) -> float:
    """The Newton step :math:`-\\text{value}/\\text{slope}` on an estimating equation (for the
    generalised Q equation the slope is :math:`-y'P^2y`)."""
    return value / -slope


def step_converged(t_old: float, t_new: float, tol: float, scale: float) -> bool:
    """The stopping rule of the iterations: :math:`|t_{new} - t_{old}| \\le
    tol\\,(scale + t_{new})` (scale 1, or the smallest sampling variance for scale-free
    stopping); a boolean."""
    return abs(t_new - t_old) <= tol * (scale + t_new)


def regula_falsi(lo: float, hi: float, f_lo: float, f_hi: float) -> float:
    """The regula falsi point of a bracket :math:`[lo, hi]` with values :math:`f_{lo} > 0 >
    f_{hi}`: :math:`(lo\\,f_{hi} - hi\\,f_{lo})/(f_{hi} - f_{lo})` (the Illinois variant halves
    the value kept at an end that survives twice; the caller guards :math:`f_{hi} = f_{lo}`)."""
    return (lo * f_hi - hi * f_lo) / (f_hi - f_lo)


def ml_tau2_se(sum_w2: float) -> float:
    """Standard error of the ML estimate: :math:`\\sqrt{2/\\sum w_i^2}` (inverse Fisher
    information; metafor ``se.tau2``)."""
    se: float = (2 / sum_w2) ** 0.5
    return se


def reml_tau2_se(tr_p2: float) -> float:
    """Standard error of the REML estimate: :math:`\\sqrt{2/\\operatorname{tr}P^2}`."""
    se: float = (2 / tr_p2) ** 0.5
    return se


def pm_tau2_se(k: float, df: float, sum_w: float) -> float:
    """Standard error of the Paule-Mandel (and EB, PMM) estimate as metafor computes it:
    :math:`\\sqrt{2k^2/df}/\\sum w_i`."""
    root: float = (2 * k * k / df) ** 0.5
    return root / sum_w


def ml_loglik(k: float, sum_log_v: float, rss: float) -> float:
    """The ML log-likelihood :math:`-\\tfrac k2\\log 2\\pi - \\tfrac12\\sum\\log(v_i+\\tau^2)
    - \\tfrac12 y'Py` (at the WLS coefficients)."""
    return -0.5 * k * LOG_2PI - 0.5 * sum_log_v - 0.5 * rss


def reml_loglik(df: float, logdet_xx: float, log_terms: float, rss: float) -> float:
    """metafor's full REML log-likelihood :math:`-\\tfrac{k-p}2\\log 2\\pi + \\tfrac12\\log|X'X|
    - \\tfrac12(\\sum\\log(v_i+\\tau^2) + \\log|X'WX|) - \\tfrac12 y'Py`; ``log_terms`` is the
    sum in parentheses, ``logdet_xx`` = :math:`\\log|X'X|` (log k for the intercept)."""
    return (-0.5 * df * LOG_2PI + 0.5 * logdet_xx
            - 0.5 * log_terms - 0.5 * rss)


def likelihood_grid_top(resid_ss: float, df: float, v_max: float) -> float:
    """The top of the grid on which the ML/REML likelihood is searched for a second maximum:
    :math:`4(\\sum(y_i-\\bar y)^2/df + \\max v_i)`, above every maximum of the likelihood."""
    return 4 * (resid_ss / df + v_max)


def knha_s2w(rss: float, df: float) -> float:
    """The Hartung-Knapp(-Sidik-Jonkman) variance factor :math:`s_w^2 = y'Py/df` at the
    estimated tau², not truncated at 1 (Hartung & Knapp 2001; metafor 3.8); the caller sets it
    to 0 where :math:`y'Py` is below the machine epsilon."""
    return rss / df


def confidence_bounds(estimate: float, se: float, crit: float) -> tuple[float, float]:
    """The Wald interval :math:`\\hat\\beta \\mp c\\,SE`."""
    return estimate - crit * se, estimate + crit * se


def prediction_bounds(estimate: float, se: float, tau2: float, crit: float) -> tuple[float, float]:
    """The prediction interval :math:`\\hat\\mu \\mp c\\sqrt{SE^2 + \\tau^2}` (metafor
    ``predict``; c normal, or t on k - p df with Hartung-Knapp)."""
    root: float = (se * se + tau2) ** 0.5
    half = crit * root
    return estimate - half, estimate + half


def typical_variance(df: float, tr_p: float) -> float:
    """The typical within-study variance :math:`\\tilde v = df/\\operatorname{tr}P` with P at
    weights 1/v (Higgins & Thompson 2002; metafor's ``vt``)."""
    return df / tr_p


def i2_h2(tau2: float, vtilde: float) -> tuple[float, float]:
    """:math:`I^2 = 100\\,\\tau^2/(\\tilde v + \\tau^2)` (percent) and
    :math:`H^2 = \\tau^2/\\tilde v + 1` of a random-effects fit."""
    return 100 * tau2 / (vtilde + tau2), tau2 / vtilde + 1


def common_effect_i2_h2(q: float, df: float) -> tuple[float, float]:
    """:math:`I^2 = 100(Q - df)/Q` before truncation at 0 and :math:`H^2 = Q/df` of a
    common-effect fit; the caller truncates I² at 0 and sets it to 0 where Q = 0."""
    return 100 * (q - df) / q, q / df
