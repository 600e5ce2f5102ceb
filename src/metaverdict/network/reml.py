"""tau² of a network meta-analysis by (restricted) maximum likelihood, as netmeta computes it
with ``metafor::rma.mv``.

Each study contributes its contrasts against one of its arms (the reference treatment if it
has it, else its last treatment in R's order), ``y_s`` with within-study covariance ``V_s``:
the contrasts' variances on the diagonal and, where arm-level data are available (binary
outcomes, mean differences), the variance of the shared arm off the diagonal (netmeta's
``calcV``: e.g. ``1/(e + c) + 1/(n - e + c)`` of the reference arm for the log odds ratio);
otherwise ``V_s`` is diagonal. The model is

.. math:: y_s = X_s \\beta + u_s + \\varepsilon_s, \\quad
          u_s \\sim N(0, \\tau^2 (\\tfrac12 I + \\tfrac12 J)), \\quad
          \\varepsilon_s \\sim N(0, V_s),

(``random = ~ factor(comparison) | studlab``, compound symmetry with rho = 1/2), and the
restricted log-likelihood

.. math:: \\ell_R(\\tau^2) = -\\tfrac12 \\bigl[\\log|\\Sigma| + \\log|X^\\top\\Sigma^{-1}X|
          + r^\\top \\Sigma^{-1} r\\bigr], \\quad \\Sigma = V + \\tau^2 G,

is maximised over tau² >= 0 with :func:`scipy.optimize.brentq` on its score
:math:`\\tfrac12[r^\\top\\Sigma^{-1}G\\Sigma^{-1}r - \\operatorname{tr}(PG)]`
(``P = Σ⁻¹ - Σ⁻¹X(X'Σ⁻¹X)⁻¹X'Σ⁻¹``; ML drops the ``log|X'Σ⁻¹X|`` term and uses ``Σ⁻¹``
for ``P`` in the trace).

References
----------
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48.
"""
from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import linalg, optimize

from metaverdict.errors import ConvergenceError
from metaverdict.network.data import Contrasts

FloatArray = npt.NDArray[np.float64]


def _shared_arm_variance(sm: str | None, c: Contrasts, i: int) -> float | None:
    """Variance of the second arm (the reference arm after orientation) of contrast ``i``, as
    netmeta's ``calcV``; None when the arm-level data do not give it."""
    a = c.arms
    if sm in ("OR", "RR", "RD") and {"event2", "n2"} <= set(a):
        e, n = a["event2"][i], a["n2"][i]
        inc = a["incr1"][i] if "incr1" in a else 0.0
        if sm == "OR":
            return float(1 / (e + inc) + 1 / (n - e + inc))
        p = (e + inc) / (n + 2 * inc)
        nn = n + 2 * inc
        return float((1 - p) / (nn * p)) if sm == "RR" else float(p * (1 - p) / nn)
    if sm == "MD" and {"sd2", "n2"} <= set(a):
        return float(a["sd2"][i] ** 2 / a["n2"][i])
    return None


def _structure(c: Contrasts, reference: str, sm: str | None
               ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(y, V, G, X)`` of the basic contrasts (see the module docstring)."""
    by_study: dict[str, list[int]] = {}
    for i, s in enumerate(c.studlab):
        by_study.setdefault(s, []).append(i)
    trts = list(c.treatments)
    pos = {t: k for k, t in enumerate(trts)}
    arm_data = "n1" in c.arms and ("event1" in c.arms or "sd1" in c.arms or "time1" in c.arms)
    ys, vs, gs, xs = [], [], [], []
    for idx in by_study.values():
        study_trts = sorted({c.treat1[i] for i in idx} | {c.treat2[i] for i in idx},
                            key=lambda t: pos[t])
        ref = reference if reference in study_trts else study_trts[-1]
        keep = [i for i in idx if ref in (c.treat1[i], c.treat2[i])]
        y, shared, x = [], [], []
        for i in keep:
            flip = c.treat1[i] == ref          # orient as "other versus ref"
            other = c.treat2[i] if flip else c.treat1[i]
            y.append(-c.te[i] if flip else c.te[i])
            row = np.zeros(len(trts))
            row[pos[other]] += 1
            row[pos[ref]] -= 1
            x.append(row)
            if arm_data:
                # calcV uses the study's first kept row: its (oriented) second arm is ref
                j = keep[0]
                shared.append(_ref_arm_variance(sm, c, j, ref))
        k = len(keep)
        v = np.diag(c.se[keep] ** 2)
        if arm_data and shared and shared[0] is not None:
            off = shared[0]
            v = np.full((k, k), off)
            np.fill_diagonal(v, c.se[keep] ** 2)
        ys.append(np.array(y))
        vs.append(v)
        gs.append((np.eye(k) + np.ones((k, k))) / 2)
        xs.append(np.array(x))
    x_all = np.vstack(xs)[:, :-1]      # drop one treatment: the basic parameters
    return (np.concatenate(ys), linalg.block_diag(*vs), linalg.block_diag(*gs), x_all)


def _ref_arm_variance(sm: str | None, c: Contrasts, i: int, ref: str) -> float | None:
    """Variance of the reference arm's estimate for contrast ``i`` (either orientation)."""
    if c.treat2[i] == ref:
        return _shared_arm_variance(sm, c, i)
    swapped = {}
    for a, b in (("n1", "n2"), ("event1", "event2"), ("sd1", "sd2"), ("time1", "time2"),
                 ("incr1", "incr2")):
        if a in c.arms and b in c.arms:
            swapped[a], swapped[b] = c.arms[b], c.arms[a]
    mirror = Contrasts(studlab=c.studlab, treat1=c.treat2, treat2=c.treat1, te=-c.te, se=c.se,
                       arms=swapped, row=c.row, dropped=c.dropped, treatments=c.treatments)
    return _shared_arm_variance(sm, mirror, i)


def _loglik_and_score(tau2: float, y: FloatArray, v: FloatArray, g: FloatArray, x: FloatArray,
                      reml: bool) -> tuple[float, float]:
    sigma = v + tau2 * g
    cf = linalg.cho_factor(sigma)
    si_x = linalg.cho_solve(cf, x)
    xsx = x.T @ si_x
    beta = linalg.solve(xsx, si_x.T @ y, assume_a="pos")
    r = y - x @ beta
    si_r = linalg.cho_solve(cf, r)
    logdet = 2 * np.sum(np.log(np.diag(cf[0])))
    ll = -0.5 * (logdet + r @ si_r)
    si_g = linalg.cho_solve(cf, g)
    trace = np.trace(si_g)
    if reml:
        sign, logdet_x = np.linalg.slogdet(xsx)
        ll -= 0.5 * logdet_x
        # tr(P G) = tr(Σ⁻¹G) - tr((X'Σ⁻¹X)⁻¹ X'Σ⁻¹ G Σ⁻¹ X)
        trace -= np.trace(linalg.solve(xsx, si_x.T @ g @ si_x, assume_a="pos"))
    score = 0.5 * (si_r @ g @ si_r - trace)
    return float(ll), float(score)


def likelihood_tau2(c: Contrasts, reference: str, sm: str | None, method: str = "REML"
                    ) -> float:
    """tau² by REML (or ML) for the network of ``c`` (see the module docstring).

    Raises
    ------
    ConvergenceError
        If no maximum is found (the score does not change sign on [0, 1e8]).
    """
    y, v, g, x = _structure(c, reference, sm)
    reml = method == "REML"

    def score(t: float) -> float:
        return _loglik_and_score(t, y, v, g, x, reml)[1]

    s0 = score(0.0)
    if s0 <= 0:
        return 0.0
    hi = max(float(np.mean(np.diag(v))), 1e-8)
    while score(hi) > 0:
        hi *= 4
        if hi > 1e8:
            raise ConvergenceError(f"{method} estimate of tau^2 not found: the restricted "
                                   "likelihood still increases at tau^2 = 1e8")
    root = optimize.brentq(score, 0.0, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps,
                           maxiter=500)
    ll_root = _loglik_and_score(root, y, v, g, x, reml)[0]
    ll_zero = _loglik_and_score(0.0, y, v, g, x, reml)[0]
    return float(root) if ll_root >= ll_zero or not math.isfinite(ll_zero) else 0.0
