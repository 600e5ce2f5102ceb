"""Heterogeneity and effect priors: normalised densities, their log-tau forms and derivatives,
the published tables of Turner et al. (2015) and Rhodes et al. (2015), and the errors of bad
prior specifications."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from metaverdict import InputError
from metaverdict.models.bayes import (
    HalfNormalPrior,
    HalfStudentTPrior,
    JeffreysPrior,
    LogNormalPrior,
    LogStudentTPrior,
    LomaxPrior,
    MuPrior,
    UniformPrior,
    half_cauchy,
    rhodes_prior,
    turner_prior,
)
from metaverdict.models.bayes.priors import (
    RHODES_OUTCOMES,
    TURNER_OUTCOMES,
    Studies,
    mu_prior_from,
    tau_prior_from,
)

STUDIES = Studies(np.array([[0.04, 0.09, 0.02]]), np.array([[True, True, True]]))
PROPER = [HalfNormalPrior(0.5), half_cauchy(1.0), HalfStudentTPrior(0.3, 4.0),
          LomaxPrior(0.5, 2.0), LogNormalPrior(-1.3, 0.8), LogStudentTPrior(-1.7, 1.2)]
ALL = PROPER + [UniformPrior(), JeffreysPrior()]


def _pdf(prior, t: float) -> float:
    return float(np.exp(prior.logpdf(np.array([[t]]), STUDIES))[0, 0])


@pytest.mark.parametrize("prior", PROPER, ids=lambda p: p.describe())
def test_proper_priors_integrate_to_one(prior) -> None:
    # on log tau, where every one of them is a smooth bump
    def dens(s: float) -> float:
        return float(np.exp(prior.logpdf_log(np.array([[s]]), STUDIES))[0, 0])
    # log-t tails are polynomial in log tau; the others vanish long before tau = e^60
    far = (-np.inf, np.inf) if isinstance(prior, LogStudentTPrior) else (-400, 60)
    total = sum(integrate.quad(dens, a, b, epsabs=1e-13, epsrel=1e-12, limit=500)[0]
                for a, b in ((far[0], -10), (-10, 5), (5, far[1])))
    assert total == pytest.approx(1.0, abs=2e-9)
    assert prior.proper


@pytest.mark.parametrize("prior", ALL, ids=lambda p: p.describe())
def test_log_tau_density_and_derivative_agree_with_the_density(prior) -> None:
    t = np.array([[0.01, 0.2, 1.0, 7.0]])
    np.testing.assert_allclose(prior.logpdf_log(np.log(t), STUDIES),
                               prior.logpdf(t, STUDIES) + np.log(t), rtol=1e-12, atol=1e-12)
    h = 1e-6 * t
    numeric = (prior.logpdf(t + h, STUDIES) - prior.logpdf(t - h, STUDIES)) / (2 * h)
    np.testing.assert_allclose(prior.dlogpdf(t, STUDIES), numeric, rtol=1e-6, atol=1e-8)
    assert np.all(prior.logpdf(np.array([[-1.0]]), STUDIES) == -np.inf)


def test_closed_forms() -> None:
    assert _pdf(HalfNormalPrior(0.5), 0.0) == pytest.approx(2 / (0.5 * math.sqrt(2 * math.pi)))
    assert _pdf(half_cauchy(2.0), 2.0) == pytest.approx(1 / (2 * math.pi))
    assert _pdf(LomaxPrior(0.5, 2.0), 0.5) == pytest.approx(2 / 0.5 * 2.0**-3)
    assert _pdf(UniformPrior(), 3.0) == 1.0
    s2 = STUDIES.s2[0]
    assert _pdf(JeffreysPrior(), 0.3) == pytest.approx(
        math.sqrt(np.sum((0.3 / (s2 + 0.09)) ** 2)))
    assert _pdf(JeffreysPrior(), 0.0) == 0.0
    assert (half_cauchy(1).tail, LomaxPrior(1, 2).tail, HalfStudentTPrior(1, 3).tail) == (
        2.0, 3.0, 4.0)
    assert HalfNormalPrior(1).tail is None and UniformPrior().tail == 0.0


def test_turner_table_iv() -> None:
    """Turner et al. (2015) Table IV, log(tau²) ~ N(m, s²) -> log(tau) ~ N(m/2, (s/2)²)."""
    cells = {("all-cause mortality", "pharmacological", "placebo / control"): (-3.95, 1.34),
             ("pain", "non-pharmacological", "placebo"): (-2.05, 1.71),
             ("pain", "placebo", "non-pharma"): (-2.05, 1.71),
             ("subjective outcomes (various)", "non-pharma", "non-pharma"): (-2.26, 1.45),
             ("adverse events", "pharma", "pharma"): (-2.10, 1.58),
             ("obstetric", "non-pharmacological", "pharmacological"): (-2.49, 1.50)}
    for (outcome, c1, c2), (m, s) in cells.items():
        p = turner_prior(outcome, c1, c2)
        assert (p.meanlog, p.sdlog) == pytest.approx((m / 2, s / 2)), (outcome, c1, c2)
        assert "Turner et al. (2015) Table IV" in p.describe()
    assert (turner_prior().meanlog, turner_prior().sdlog) == pytest.approx((-1.28, 0.87))
    assert len(TURNER_OUTCOMES) == 16


def test_rhodes_table_3() -> None:
    """Rhodes et al. (2015) Table 3 (A.3.1 respiratory, A.3.2 cancer), log(tau²) ~ t5."""
    cells = {("obstetric outcome", "pharmacological", "placebo", "other"): (-4.13, 2.34),
             ("general physical health", "non-pharma", "placebo", "other"): (-3.02, 2.27),
             ("biological marker", "pharma", "pharma", "respiratory"): (-5.59, 2.78),
             ("resource use", "non-pharma", "pharma", "cancer"): (0.15, 2.68)}
    for (outcome, c1, c2, area), (loc, sc) in cells.items():
        p = rhodes_prior(outcome, c1, c2, area)
        assert (p.location, p.scale, p.df) == pytest.approx((loc / 2, sc / 2, 5.0))
    assert (rhodes_prior().location, rhodes_prior().scale) == pytest.approx((-1.72, 1.295))
    assert len(RHODES_OUTCOMES) == 8


@pytest.mark.parametrize("call, match", [
    (lambda: turner_prior("mortality"), "not one outcome type"),
    (lambda: turner_prior("pain", "placebo", "control"), "not both"),
    (lambda: turner_prior("pain", "surgery", "placebo"), "comparator1"),
    (lambda: rhodes_prior("obstetric", area="dental"), "area"),
    (lambda: HalfNormalPrior(-1.0), "tau_scale"),
    (lambda: LomaxPrior(1.0, 0.0), "tau_shape"),
    (lambda: tau_prior_from("half-normal"), "needs tau_scale"),
    (lambda: tau_prior_from("uniform", tau_scale=1.0), "not a parameter"),
    (lambda: tau_prior_from("gamma"), "unknown value"),
    (lambda: tau_prior_from("log-normal"), "as an object"),
    (lambda: mu_prior_from((0.0, -1.0)), "sd"),
    (lambda: mu_prior_from("flat"), "mu_prior"),
])
def test_bad_priors_are_input_errors(call, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()


def test_prior_names() -> None:
    assert tau_prior_from("Half-Normal", tau_scale=0.5) == HalfNormalPrior(0.5)
    assert tau_prior_from("halfcauchy", tau_scale=2) == half_cauchy(2.0)
    assert tau_prior_from("JEFFREYS") == JeffreysPrior()
    assert tau_prior_from("turner") == turner_prior()
    assert mu_prior_from(None) == MuPrior() == mu_prior_from("uniform")
    assert mu_prior_from({"mean": 1, "sd": 2}) == MuPrior(1.0, 2.0) == mu_prior_from((1, 2))
    assert not MuPrior().proper and MuPrior(0, 1).proper
