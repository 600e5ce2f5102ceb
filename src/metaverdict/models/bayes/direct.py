r"""bayesmeta's DIRECT grid: a discrete mixture over tau whose neighbouring normal conditionals
differ by a bounded divergence (Röver & Friede 2017), for reproducing bayesmeta's own
(approximate) numbers.

Reference points :math:`\tau_1 = 0 < \tau_2 < \dots` and bin bounds alternate so that each is
the first :math:`\tau` beyond the last at which the largest symmetrised Kullback-Leibler
divergence

.. math:: D(\tau, \tau') = \max_c \Bigl[\frac{(m_c - m'_c)^2}{2}\Bigl(\frac{1}{s_c^2}
          + \frac{1}{s_c'^2}\Bigr) + \frac{(s_c^2 - s_c'^2)^2}{2 s_c^2 s_c'^2}\Bigr]

over the conditionals :math:`c` of mu, of a new study's theta and of every study's
:math:`\theta_i` reaches ``delta``; the grid stops past the :math:`1-\epsilon` quantile of
tau. Each reference point's weight is the posterior probability of its bin (the exact CDF of
tau), renormalised to sum to 1. bayesmeta 3.4's defaults are ``delta = 0.01``,
``epsilon = 1e-4``. :func:`metaverdict.bayesian_meta_analysis` uses exact quadrature unless
``method="direct"``; the grid is here so that bayesmeta's default runs can be reproduced number
for number (tests/models/test_bayes_parity.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from metaverdict._jit import njit
from metaverdict.models.bayes.kernel import (
    BatchData,
    MixtureNodes,
    TauPosterior,
    mixture_nodes,
)


@dataclass(frozen=True)
class _Studies:
    """One analysis as plain vectors (the grid search evaluates tens of thousands of
    divergences, in :func:`_moments` and :func:`_max_divergence`)."""

    y: np.ndarray
    s2: np.ndarray
    prior_precision: float
    prior_weighted_mean: float

    @classmethod
    def of(cls, data: BatchData) -> _Studies:
        mu = data.mu
        p0 = 0.0 if mu.sd is None else 1 / mu.sd**2
        m0 = 0.0 if mu.mean is None else float(mu.mean)
        return cls(np.ascontiguousarray(data.y[0][data.mask[0]]),
                   np.ascontiguousarray(data.s2[0][data.mask[0]]), p0, p0 * m0)

    def moments(self, tau: float) -> tuple[np.ndarray, np.ndarray]:
        means, sds = np.empty(len(self.y) + 2), np.empty(len(self.y) + 2)
        _moments(tau, self.y, self.s2, self.prior_precision, self.prior_weighted_mean,
                 means, sds)
        return means, sds

    def divergence(self, ref: tuple[np.ndarray, np.ndarray], tau: float) -> float:
        return float(_max_divergence(ref[0], ref[1], tau, self.y, self.s2,
                                     self.prior_precision, self.prior_weighted_mean))


@njit(cache=True)
def _moments(tau: float, y: np.ndarray, s2: np.ndarray, p0: float, pm0: float,
             means: np.ndarray, sds: np.ndarray) -> None:  # pragma: no cover (compiled)
    """Means and sds of the conditionals of mu, of a new study's theta and of every theta_i
    at ``tau`` (formulas in :mod:`.kernel`), written into ``means`` and ``sds`` (k + 2)."""
    t2 = tau * tau
    prec = p0
    wy = pm0
    for i in range(len(y)):
        w = 1.0 / (s2[i] + t2)
        prec += w
        wy += w * y[i]
    c = 1.0 / prec
    m = wy * c
    means[0], sds[0] = m, math.sqrt(c)
    means[1], sds[1] = m, math.sqrt(c + t2)
    for i in range(len(y)):
        b = s2[i] / (s2[i] + t2)
        means[i + 2] = b * m + (1 - b) * y[i]
        sds[i + 2] = math.sqrt((1 - b) * s2[i] + b * b * c)


@njit(cache=True)
def _max_divergence(ref_means: np.ndarray, ref_sds: np.ndarray, tau: float, y: np.ndarray,
                    s2: np.ndarray, p0: float, pm0: float) -> float:  # pragma: no cover
    """The largest symmetrised KL divergence between the conditionals at the reference and
    at ``tau`` (module docstring)."""
    means, sds = np.empty(len(y) + 2), np.empty(len(y) + 2)
    _moments(tau, y, s2, p0, pm0, means, sds)
    out = 0.0
    for c in range(len(means)):
        v1, v2 = ref_sds[c] ** 2, sds[c] ** 2
        d = means[c] - ref_means[c]
        div = d * d * 0.5 * (1 / v1 + 1 / v2) + (v1 - v2) ** 2 / (2 * v1 * v2)
        out = max(out, div)
    return out


def direct_grid(post: TauPosterior, delta: float = 0.01, epsilon: float = 1e-4,
                xtol: float = 1e-13) -> MixtureNodes:
    """The DIRECT support points (tau, weight) of a single analysis (batch of one) and the
    conditionals of mu there, as :class:`~.kernel.MixtureNodes`."""
    maxtau = float(post.quantile(np.array([[1 - min(epsilon, 1 - epsilon)]]))[0, 0])
    studies = _Studies.of(post.data)

    def next_root(start: float, upper: float) -> tuple[float, float]:
        ref = studies.moments(start)

        def excess(t: float) -> float:
            return studies.divergence(ref, t) - delta

        while excess(upper) <= 0:
            upper *= 2
        root = optimize.brentq(excess, start, upper, xtol=xtol, rtol=4 * np.finfo(float).eps,
                               maxiter=500)
        return float(root), upper

    tau, upper = 0.0, 1.0
    bound, upper = next_root(tau, upper)
    taus, bounds = [0.0], [bound]
    tau = bound
    while tau <= maxtau or len(taus) < 2:
        ref, upper = next_root(tau, upper)
        tau, upper = next_root(ref, upper)
        if ref <= taus[-1]:      # as bayesmeta: a failed root search ends the grid
            break
        taus.append(ref)
        bounds.append(tau)
    # each reference point's weight is its bin's probability, [previous bound, bound)
    cum = post.cdf(np.asarray(bounds)[None, :])[0]
    w = np.maximum(np.diff(np.concatenate([[0.0], cum])), 0.0)
    w = np.full(w.shape, 1 / w.size) if w.sum() <= 0 else w / w.sum()
    return mixture_nodes(post.data, np.asarray(taus)[None, :], w[None, :])
