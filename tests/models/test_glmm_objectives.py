"""The marginal likelihoods of metaverdict.models.glmm at fixed parameters, against lme4's
deviance function (adaptive Gauss-Hermite quadrature, nAGQ = 7) and metafor's CM.EL
likelihood (BiasedUrn densities integrated by ``integrate()``): no optimiser is involved, so
these agree far more tightly than the fits (tests/data/glmm/make_glmm_reference.R,
``objectives``). Also the quadrature against SciPy's QUADPACK, and R's ``glm.fit`` rules."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from metaverdict.models._glmm_fit import (
    Binomial,
    MixedProblem,
    NoncentralHypergeometric,
    glm_fit,
)

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "glmm" / "glmm_reference.json"
REF: dict[str, Any] = json.loads(REFERENCE.read_text())


def _data(name: str) -> pd.DataFrame:
    return pd.DataFrame(REF["datasets"][name])


def test_random_intercept_deviance_matches_lme4() -> None:
    df = _data("dat.pritz1997")
    k = len(df)
    fam = Binomial(df["xi"].to_numpy(float)[:, None], df["ni"].to_numpy(float)[:, None])
    problem = MixedProblem(fam, np.zeros((k, 1)), np.ones((k, 1, 1)), np.ones((k, 1, 1)), 7)
    sat = float(fam.saturated().sum())
    for point in REF["objectives"]["pritz_PLO_dev"]["points"]:
        x = np.array([point["beta"], point["theta"]])
        deviance = -2 * (float(problem.study_loglik(x).sum()) - sat)
        # lme4's PIRLS stops at a relative change of 1e-7 (tolPwrss): ~2e-8 in the deviance
        assert deviance == pytest.approx(point["deviance"], rel=1e-8)


def test_fixed_study_effects_deviance_matches_lme4() -> None:
    df = _data("dat.nielweise2007")
    df = df[~((df["ai"] == 0) & (df["ci"] == 0))]
    k = len(df)
    fam = Binomial(df[["ai", "ci"]].to_numpy(float), df[["n1i", "n2i"]].to_numpy(float))
    arm1 = np.array([1.0, 0.0])[None, :, None] * np.ones((k, 1, 1))
    group = np.broadcast_to(np.array([0.5, -0.5])[None, :, None], (k, 2, 1)).copy()
    problem = MixedProblem(fam, np.zeros((k, 2)), arm1, group, 7, alpha_loading=np.ones(2))
    sat = float(fam.saturated().sum())
    for point in REF["objectives"]["niel_UMFS_dev"]["points"]:
        x = np.concatenate([[point["beta"], point["theta"]], point["alpha"]])
        deviance = -2 * (float(problem.study_loglik(x).sum()) - sat)
        assert deviance == pytest.approx(point["deviance"], rel=1e-10)


def _bcg_hypergeometric() -> tuple[NoncentralHypergeometric, pd.DataFrame]:
    df = _data("dat.bcg")
    a, b, c, d = (df[f].to_numpy(float) for f in ("tpos", "tneg", "cpos", "cneg"))
    return NoncentralHypergeometric(a, a + b, c + d, a + c), df


def test_exact_conditional_likelihood_matches_metafor() -> None:
    fam, df = _bcg_hypergeometric()
    k = len(df)
    problem = MixedProblem(fam, np.zeros((k, 1)), np.ones((k, 1, 1)), np.ones((k, 1, 1)), 21)
    for point in REF["objectives"]["bcg_CMEL_nll"]["points"]:
        x = np.array([point["beta"], np.sqrt(point["tau2"])])
        # integrate() at rel.tol 1.2e-4 is in fact accurate to ~3e-9 here
        assert -float(problem.study_loglik(x).sum()) == pytest.approx(point["nll"], rel=1e-7)


def test_hypergeometric_density_matches_scipy() -> None:
    fam, df = _bcg_hypergeometric()
    eta = np.linspace(-2, 1, 4)[:, None, None] * np.ones((1, len(df), 1))
    ll = fam.derivs(eta)[0][..., 0]
    a, b, c, d = (df[f].to_numpy() for f in ("tpos", "tneg", "cpos", "cneg"))
    for g, e in enumerate(eta[:, 0, 0]):
        want = stats.nchypergeom_fisher.logpmf(a, a + b + c + d, a + b, a + c, np.exp(e))
        np.testing.assert_allclose(ll[g], want, rtol=1e-9)


def test_quadrature_matches_quadpack() -> None:
    """Adaptive Gauss-Hermite with many nodes equals the integral by scipy.integrate.quad."""
    fam, df = _bcg_hypergeometric()
    k = len(df)
    mu, tau = -0.7, 0.6
    problem = MixedProblem(fam, np.zeros((k, 1)), np.ones((k, 1, 1)), np.ones((k, 1, 1)), 21)
    got = problem.study_loglik(np.array([mu, tau]))
    a, b, c, d = (df[f].to_numpy(float) for f in ("tpos", "tneg", "cpos", "cneg"))
    for i in (0, 3, 7, 11):
        one = NoncentralHypergeometric(a[i:i + 1], (a + b)[i:i + 1], (c + d)[i:i + 1],
                                       (a + c)[i:i + 1])

        def integrand(t: float, fam_i: NoncentralHypergeometric = one) -> float:
            return float(np.exp(fam_i.derivs(np.array([[t]]))[0][0, 0])
                         * stats.norm.pdf(t, mu, tau))
        value, _ = integrate.quad(integrand, -np.inf, np.inf, epsabs=0, epsrel=1e-12, limit=200)
        assert got[i] == pytest.approx(np.log(value), rel=1e-9, abs=1e-10)


def test_laplace_is_one_node_and_quadrature_refines_it() -> None:
    df = _data("dat.pritz1997")
    k = len(df)
    fam = Binomial(df["xi"].to_numpy(float)[:, None], df["ni"].to_numpy(float)[:, None])
    x = np.array([1.3, 0.8])

    def ll(nodes: int) -> float:
        return float(MixedProblem(fam, np.zeros((k, 1)), np.ones((k, 1, 1)), np.ones((k, 1, 1)),
                                  nodes).study_loglik(x).sum())
    exact = ll(60)
    assert abs(ll(7) - exact) < abs(ll(1) - exact)
    assert ll(25) == pytest.approx(exact, abs=1e-9)


def test_glm_fit_matches_r_rules_under_separation() -> None:
    """A zero cell has no finite MLE: glm.fit stops by its deviance rule with the estimate
    far out and a huge variance, and the fit's log-likelihood is then the saturated one."""
    y = np.array([0.0, 5.0])
    n = np.array([20.0, 20.0])
    fit = glm_fit(y, n, np.eye(2), np.zeros(2))
    assert fit.coef[0] < -15 and fit.vcov[0, 0] > 1e5
    assert fit.iterations < 25
    sat = float(Binomial(y, n).saturated().sum())
    assert fit.loglik == pytest.approx(sat, abs=1e-6)
    assert fit.coef[1] == pytest.approx(np.log(5 / 15), abs=1e-9)
