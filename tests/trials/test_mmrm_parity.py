"""MMRM parity with R mmrm 0.3.16 on every public reference case (tests/data/mmrm, copied from
shared/reference/mmrm; schema and tolerances in its README: 1e-6 relative on every quantity).

Every model of every case and every df method stored is compared field by field; a fixture key
this module does not map fails the test (so a renamed key cannot turn into zero comparisons),
and each test asserts how many numbers it compared. Models that mmrm failed to fit
(``index.json``'s ``models_failed``) or entries stored as ``{"error": ...}`` are skipped with
R's message as the reason (there are none in the public cases).
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metaverdict.trials import mmrm

DATA = Path(__file__).parents[1] / "data" / "mmrm"
RTOL = 1e-6
DF_ARGS = {  # fixture key -> (df, vcov) of metaverdict
    "Kenward-Roger": ("kenward-roger", "kenward-roger"),
    "Kenward-Roger-Linear": ("kenward-roger-linear", "kenward-roger-linear"),
    "Satterthwaite": ("satterthwaite", "asymptotic"),
    "Residual": ("residual", "asymptotic"),
    "Residual-Empirical": ("residual", "empirical"),
    "Between-Within": ("between-within", "asymptotic"),
}
MODEL_KEYS_COMPARED = {"neg_log_lik", "logLik", "deviance", "AIC", "AICc", "BIC", "theta",
                       "theta_vcov", "covariance_matrix", "sd", "correlation", "beta",
                       "beta_vcov_asymptotic", "coef_names", "n_obs", "n_subjects",
                       "n_timepoints", "n_theta", "n_beta", "df_methods", "cholesky_lower",
                       "covariance_unit_distance", "sigma2", "rho"}
MODEL_KEYS_NOT_COMPARED = {  # descriptive, with the reason
    "formula", "covariance", "covariance_name", "reml",       # the call (used to fit)
    "convergence", "warnings", "seconds",                     # how R got there
    "theta_parameterization", "visits", "coordinates",        # labels
}


@cache
def _case(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def _cases() -> list[tuple[str, str]]:
    index = json.loads((DATA / "index.json").read_text())
    out = []
    for case in index["cases"]:
        for model in case["models"]:
            out.append((case["file"].removesuffix(".json"), model))
    return out


@cache
def _fit(name: str, key: str) -> Any:
    case = _case(name)
    spec = case["models"][key]
    return mmrm(pd.DataFrame(case["data"]), f"{case['response']} ~ {case['fixed_effects']}",
                subject=case["subject"], visit=case["visit"], arm=case["arm"],
                covariance=spec["covariance"], method="REML" if spec["reml"] else "ML",
                df="satterthwaite", levels=case["factor_levels"],
                coordinates=case.get("coordinates"))


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def close(self, got: Any, want: Any, what: str) -> None:
        g = np.asarray(got, dtype=float)
        w = np.asarray(want, dtype=float)
        assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
        assert np.array_equal(np.isnan(g), np.isnan(w)), f"{what}: NA pattern differs"
        ok = np.isnan(w) | (np.abs(g - w) <= RTOL * np.abs(w) + 1e-300)
        assert ok.all(), f"{what}: got {g[~ok]}, mmrm {w[~ok]}"
        self.n += int(w.size)


@pytest.mark.parametrize(("name", "key"), _cases())
def test_model_fields(name: str, key: str) -> None:
    spec = _case(name)["models"][key]
    if "error" in spec:
        pytest.skip(f"mmrm failed: {spec['error']}")
    unknown = set(spec) - MODEL_KEYS_COMPARED - MODEL_KEYS_NOT_COMPARED
    assert not unknown, f"fixture keys not mapped by this test: {unknown}"
    fit = _fit(name, key)
    c = Counter()
    assert fit.coef_names == tuple(spec["coef_names"])
    assert (fit.n_obs, fit.n_subjects, len(fit.data.visits), fit.n_theta, fit.n_beta) == (
        spec["n_obs"], spec["n_subjects"], spec["n_timepoints"], spec["n_theta"],
        spec["n_beta"])
    c.close(fit.neg_log_lik, spec["neg_log_lik"], "neg_log_lik")
    c.close(fit.loglik, spec["logLik"], "logLik")
    c.close(fit.deviance, spec["deviance"], "deviance")
    c.close([fit.aic, fit.aicc, fit.bic], [spec["AIC"], spec["AICc"], spec["BIC"]], "AIC/AICc/BIC")
    c.close(fit.theta, spec["theta"], "theta")
    c.close(fit.theta_vcov, spec["theta_vcov"], "theta_vcov")
    c.close(fit.covariance.to_numpy(), spec["covariance_matrix"], "covariance_matrix")
    c.close(np.sqrt(np.diag(fit.covariance)), spec["sd"], "sd")
    c.close(fit.correlation.to_numpy(), spec["correlation"], "correlation")
    if "cholesky_lower" in spec:
        c.close(np.linalg.cholesky(fit.covariance.to_numpy()), spec["cholesky_lower"],
                "cholesky_lower")
    if "sigma2" in spec:
        c.close(np.exp(fit.theta[0]), spec["sigma2"], "sigma2")
        rho = 1.0 / (1.0 + np.exp(-fit.theta[1]))
        c.close(rho, spec["rho"], "rho")
        c.close(np.exp(fit.theta[0]) * np.array([[1.0, rho], [rho, 1.0]]),
                spec["covariance_unit_distance"], "covariance_unit_distance")
    c.close(fit.beta, spec["beta"], "beta")
    c.close(fit.beta_vcov_asymptotic, spec["beta_vcov_asymptotic"], "beta_vcov_asymptotic")
    m = len(fit.data.visits)
    n, p = fit.n_theta, fit.n_beta
    assert c.n >= 6 + n + n * n + 2 * m * m + m + p + p * p, c.n


def _df_cases() -> list[tuple[str, str, str]]:
    out = []
    for name, key in _cases():
        for method in _case(name)["models"][key]["df_methods"]:
            out.append((name, key, method))
    return out


@pytest.mark.parametrize(("name", "key", "method"), _df_cases())
def test_df_method(name: str, key: str, method: str) -> None:
    case = _case(name)
    ref = case["models"][key]["df_methods"][method]
    if "error" in ref:
        pytest.skip(f"mmrm failed: {ref['error']}")
    known = {"method", "vcov", "se", "df", "t", "p", "beta_vcov", "interaction_test",
             "lsmeans", "differences", "numeric_covariates_at"}
    assert set(ref) <= known, f"fixture keys not mapped by this test: {set(ref) - known}"
    fit = _fit(name, key)
    df, vcov = DF_ARGS[method]
    c = Counter()
    tab = fit.coefficient_table(df, vcov)
    for ours, theirs in (("se", "se"), ("df", "df"), ("statistic", "t"), ("pvalue", "p")):
        c.close(tab[ours], ref[theirs], f"{method} {theirs}")
    c.close(fit.beta_vcov(vcov), ref["beta_vcov"], f"{method} beta_vcov")
    it, want = fit.interaction_test(df, vcov), ref["interaction_test"]
    assert it.num_df == want["num_df"]
    c.close([it.denom_df, it.f_stat, it.pvalue],
            [want["denom_df"], want["f_stat"], want["p_val"]], f"{method} interaction_test")
    ls, want = fit.lsmeans(df, vcov), ref["lsmeans"]
    assert ls[case["arm"]].astype(str).tolist() == want["arm"]
    assert ls[case["visit"]].astype(str).tolist() == want["visit"]
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("df", "df"),
                         ("ci_lower", "lower"), ("ci_upper", "upper"), ("statistic", "t"),
                         ("pvalue", "p")):
        c.close(ls[ours], want[theirs], f"{method} lsmeans {theirs}")
    dif, want = fit.arm_differences(df, vcov), ref["differences"]
    assert dif["contrast"].tolist() == want["contrast"]
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("df", "df"),
                         ("statistic", "t"), ("pvalue", "p"), ("ci_lower", "lower"),
                         ("ci_upper", "upper")):
        c.close(dif[ours], want[theirs], f"{method} differences {theirs}")
    for cov, value in ref["numeric_covariates_at"].items():
        c.close(fit.data.frame[cov].mean(), value, f"numeric covariate {cov}")
    p = fit.n_beta
    assert len(ls) == len(ref["lsmeans"]["estimate"]) and len(dif) == len(want["estimate"])
    assert c.n >= 4 * p + p * p + 3 + 7 * len(ls) + 7 * len(dif), c.n
