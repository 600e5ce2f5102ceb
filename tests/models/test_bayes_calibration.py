"""Simulation-based calibration (Talts et al. 2018): meta-analyses drawn from the prior, then
fitted; an exact posterior puts the true mu, tau and a new study's theta at uniformly
distributed posterior CDF values, so its credible and prediction intervals cover at their
nominal rate. Slow-marked (a few seconds), and run in CI like every test."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from metaverdict.models.bayes import (
    HalfNormalPrior,
    LomaxPrior,
    MuPrior,
    TauPrior,
    bayesian_meta_analysis,
    turner_prior,
)
from metaverdict.models.bayes.kernel import (
    batch_data,
    mu_mixture,
    predictive_mixture,
    tau_posterior,
)

SIMULATIONS = 4000
LEVELS = (0.5, 0.8, 0.95)


def _draw_tau(prior: TauPrior, rng: np.random.Generator, n: int) -> np.ndarray:
    if isinstance(prior, HalfNormalPrior):
        return np.asarray(np.abs(rng.normal(0, prior.scale, n)))
    if isinstance(prior, LomaxPrior):
        return np.asarray(prior.scale * ((1 - rng.random(n)) ** (-1 / prior.shape) - 1))
    return np.asarray(np.exp(rng.normal(prior.meanlog, prior.sdlog, n)))  # type: ignore


def simulate(prior: TauPrior, mu: MuPrior, n: int, seed: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n meta-analyses from the prior: k from 2 to 10, sigma_i from 0.1 to 0.6; also the true
    tau and mu and a new study's theta."""
    rng = np.random.default_rng(seed)
    tau = _draw_tau(prior, rng, n)
    mu_true = rng.normal(mu.mean, mu.sd, n)  # type: ignore[arg-type]
    k = rng.integers(2, 11, n)
    sigma = rng.uniform(0.1, 0.6, (n, 10))
    theta = mu_true[:, None] + tau[:, None] * rng.normal(size=(n, 10))
    y = theta + sigma * rng.normal(size=(n, 10))
    mask = np.arange(10)[None, :] < k[:, None]
    new = mu_true + tau * rng.normal(size=n)
    return np.where(mask, y, np.nan), np.where(mask, sigma**2, np.nan), tau, mu_true, new


def _covered(u: np.ndarray, level: float) -> float:
    return float(np.mean(np.abs(u - 0.5) <= level / 2))


def _assert_calibrated(u: np.ndarray, what: str) -> None:
    n = len(u)
    for level in LEVELS:
        sd = math.sqrt(level * (1 - level) / n)
        cov = _covered(u, level)
        assert abs(cov - level) <= 4 * sd, f"{what}: {level:.0%} intervals cover {cov:.3f}"
    assert stats.kstest(u, "uniform").pvalue > 1e-3, f"{what}: posterior CDF not uniform"


@pytest.mark.slow
@pytest.mark.parametrize("prior, mu", [
    (HalfNormalPrior(0.5), MuPrior(0.0, 1.0)),
    (LomaxPrior(0.3, 3.0), MuPrior(0.2, 0.5)),
    (turner_prior("all-cause mortality", "pharmacological", "placebo"), MuPrior(0.0, 2.0)),
], ids=["half-normal", "lomax", "turner"])
def test_posterior_cdf_at_the_truth_is_uniform(prior: TauPrior, mu: MuPrior) -> None:
    y, vi, tau, mu_true, new = simulate(prior, mu, SIMULATIONS, seed=20261216)
    mask = np.isfinite(y)
    post = tau_posterior(batch_data(np.where(mask, y, 0), np.where(mask, vi, 1), mu, mask),
                         prior)
    u_tau = post.cdf(tau[:, None])[:, 0]
    u_mu = mu_mixture(post.nodes).cdf(mu_true[:, None])[:, 0]
    u_new = predictive_mixture(post.nodes).cdf(new[:, None])[:, 0]
    assert len(u_mu) == SIMULATIONS >= 1000
    _assert_calibrated(u_tau, "tau")
    _assert_calibrated(u_mu, "mu")
    _assert_calibrated(u_new, "new study's theta")


@pytest.mark.slow
def test_shortest_intervals_cover_at_their_level() -> None:
    """Shortest (highest-density) 95% intervals of mu and of a new study's theta, as the single
    fit computes them (Mixture.shortest_interval), cover 95% of the true values."""
    prior, mu = HalfNormalPrior(0.5), MuPrior(0.0, 1.0)
    y, vi, _, mu_true, new = simulate(prior, mu, SIMULATIONS, seed=7)
    mask = np.isfinite(y)
    post = tau_posterior(batch_data(np.where(mask, y, 0), np.where(mask, vi, 1), mu, mask),
                         prior)
    sd = math.sqrt(0.95 * 0.05 / SIMULATIONS)
    for mix, truth, what in ((mu_mixture(post.nodes), mu_true, "mu"),
                             (predictive_mixture(post.nodes), new, "new study's theta")):
        lo, hi = mix.shortest_interval(0.95)
        central = mix.quantile(np.tile([0.025, 0.975], (SIMULATIONS, 1)))
        assert np.all(hi - lo <= central[:, 1] - central[:, 0] + 1e-12)
        cover = float(np.mean((lo <= truth) & (truth <= hi)))
        assert abs(cover - 0.95) <= 4 * sd, f"{what}: {cover:.3f}"
    # the single fit reports these same intervals
    keep = mask[0]
    one = bayesian_meta_analysis(y[0][keep], vi[0][keep], tau_prior=prior,
                                 mu_prior=(mu.mean, mu.sd))
    lo, hi = mu_mixture(post.nodes).shortest_interval(0.95)
    assert (one.ci_lower, one.ci_upper) == pytest.approx((lo[0], hi[0]), rel=1e-9)
