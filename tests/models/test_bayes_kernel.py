"""The quadrature behind the Bayesian model against an independent computation with
scipy.integrate.quad (the priors the bayesmeta fixtures do not cover included), the moments
that exist, and the DIRECT grid against the exact mixture."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from metaverdict.models.bayes import (
    HalfNormalPrior,
    LogStudentTPrior,
    MuPrior,
    UniformPrior,
    bayesian_meta_analysis,
    half_cauchy,
    rhodes_prior,
    turner_prior,
)
from metaverdict.models.bayes.kernel import tail_behaviour

Y = np.array([0.42, -0.10, 0.25, 0.61, 0.05, 0.33])
V = np.array([0.040, 0.025, 0.090, 0.060, 0.030, 0.050])

_T4 = stats.t(4, scale=0.4)
_T5 = stats.t(5, loc=-2.99 / 2, scale=2.16 / 2)
#: (arguments, an independent prior density of tau on (0, inf), mu prior (mean, sd) or None)
CASES = [
    ({"tau_prior": "half-normal", "tau_scale": 0.3}, stats.halfnorm(scale=0.3).pdf, None),
    ({"tau_prior": "half-cauchy", "tau_scale": 0.5}, stats.halfcauchy(scale=0.5).pdf, (0, 2)),
    ({"tau_prior": "half-t", "tau_scale": 0.4, "tau_df": 4},
     lambda t: 2 * _T4.pdf(t), None),
    ({"tau_prior": "lomax", "tau_scale": 0.2, "tau_shape": 1.5},
     stats.lomax(1.5, scale=0.2).pdf, (0.1, 1)),
    ({"tau_prior": "uniform"}, lambda t: np.ones_like(t), None),
    ({"tau_prior": "jeffreys"},
     lambda t: np.sqrt(np.sum((t / (V[:, None] + t**2)) ** 2, axis=0)), None),
    ({"tau_prior": turner_prior("pain", "pharmacological", "placebo")},
     stats.lognorm(s=1.52 / 2, scale=math.exp(-1.83 / 2)).pdf, (0, 1)),
    ({"tau_prior": rhodes_prior("mental health", "pharmacological", "placebo")},
     lambda t: _T5.pdf(np.log(t)) / t, None),
]


def reference(prior_pdf, mu_prior):
    """Posterior functions by adaptive quadrature, from the model's definition."""
    def loglik(t: float) -> float:
        v = V + t * t
        yy, vv = Y, v
        if mu_prior is not None:
            yy, vv = np.append(Y, mu_prior[0]), np.append(v, mu_prior[1] ** 2)
        w = 1 / vv
        m = (w @ yy) / w.sum()
        return -0.5 * ((len(yy) - 1) * math.log(2 * math.pi) + np.log(vv).sum()
                       + (w * (yy - m) ** 2).sum() + math.log(w.sum()))

    def cond(t: float) -> tuple[float, float]:
        v = V + t * t
        w = 1 / v
        p, s = w.sum(), w @ Y
        if mu_prior is not None:
            p, s = p + mu_prior[1] ** -2, s + mu_prior[0] * mu_prior[1] ** -2
        return s / p, 1 / p

    def dens(t: float) -> float:
        return float(prior_pdf(np.array([t]))[0]) * math.exp(loglik(t)) if t > 0 else 0.0

    def quad(f, a=0.0, b=np.inf) -> float:
        # split where the posterior lives, so that adaptive quadrature sees it
        pts = [a] + [x for x in (1e-4, 1e-2, 0.1, 0.3, 1, 3, 10) if a < x < b] + [b]
        return sum(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=400)[0]
                   for lo, hi in zip(pts[:-1], pts[1:]))

    norm = quad(dens)

    def mu_cdf(x: float) -> float:
        def f(t: float) -> float:
            m, c = cond(t)
            return dens(t) * stats.norm.cdf(x, m, math.sqrt(c))
        return quad(f) / norm

    return norm, (lambda x: quad(dens, 0, x) / norm), mu_cdf, (lambda: quad(
        lambda t: t * dens(t)) / norm)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("kwargs, prior_pdf, mu_prior", CASES,
                         ids=["half-normal", "half-cauchy", "half-t", "lomax", "uniform",
                              "jeffreys", "turner", "rhodes"])
def test_quadrature_matches_adaptive_integration(kwargs, prior_pdf, mu_prior) -> None:
    post = bayesian_meta_analysis(Y, V, mu_prior=mu_prior, **kwargs)
    norm, tau_cdf, mu_cdf, tau_mean = reference(prior_pdf, mu_prior)
    np.testing.assert_allclose(math.exp(post._post.log_norm[0]), norm, rtol=1e-8)
    for x in (0.05, 0.2, 0.6):
        np.testing.assert_allclose(post.cdf("tau", x), tau_cdf(x), rtol=1e-8, atol=1e-12)
    for x in (-0.1, 0.2, 0.5):
        np.testing.assert_allclose(post.cdf("mu", x), mu_cdf(x), rtol=1e-8, atol=1e-12)
    if post.tail.tau_mean_exists:
        np.testing.assert_allclose(post.summary_table.loc["tau", "mean"], tau_mean(),
                                   rtol=1e-7)
    # the marginal likelihood is the normalising constant when both priors are proper
    if post.tau_prior_proper and mu_prior is not None:
        np.testing.assert_allclose(post.marginal_likelihood, norm, rtol=1e-8)
    else:
        assert math.isnan(post.marginal_likelihood)


def test_one_study_posterior_of_tau_is_the_prior() -> None:
    """With k = 1 and a uniform mu prior L(tau) is constant: the posterior is the prior."""
    post = bayesian_meta_analysis([0.3], [0.05], tau_prior="half-normal", tau_scale=0.5)
    p = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(post.quantile("tau", p), stats.halfnorm(scale=0.5).ppf(p),
                               rtol=1e-9)


@pytest.mark.parametrize("prior, mu, k, expected", [
    (UniformPrior(), MuPrior(), 2, (1.0, False, False, False, False, False)),
    (UniformPrior(), MuPrior(), 3, (2.0, True, False, False, False, False)),
    (UniformPrior(), MuPrior(), 4, (3.0, True, True, False, False, False)),
    (UniformPrior(), MuPrior(), 5, (4.0, True, True, True, True, True)),
    (UniformPrior(), MuPrior(0, 1), 3, (3.0, True, True, False, True, False)),
    (half_cauchy(1.0), MuPrior(), 2, (3.0, True, True, False, False, False)),
    (LogStudentTPrior(-1, 1), MuPrior(), 2, (2.0, True, True, False, False, False)),
    (HalfNormalPrior(1.0), MuPrior(), 2, (None, True, True, True, True, True)),
])
def test_which_moments_exist(prior, mu, k, expected) -> None:
    t = tail_behaviour(prior, mu, k)
    assert (t.exponent, t.proper, t.tau_mean_exists, t.tau_sd_exists, t.mu_sd_exists,
            t.theta_sd_exists) == expected


def test_direct_grid_converges_to_the_exact_mixture() -> None:
    """Smaller delta and epsilon bring DIRECT closer to the quadrature (Röver & Friede 2017)."""
    exact = bayesian_meta_analysis(Y, V, tau_prior="half-normal", tau_scale=0.3)
    gaps = []
    for delta, eps in ((0.01, 1e-4), (1e-3, 1e-5), (1e-4, 1e-6)):
        direct = bayesian_meta_analysis(Y, V, tau_prior="half-normal", tau_scale=0.3,
                                        method="direct", delta=delta, epsilon=eps)
        assert direct.support["weight"].sum() == pytest.approx(1.0)
        gaps.append(abs(direct.quantile("mu", 0.975) - exact.quantile("mu", 0.975)))
        # what depends on tau alone is exact either way
        assert direct.quantile("tau", 0.5) == exact.quantile("tau", 0.5)
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-4
