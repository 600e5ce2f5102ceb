"""Multilevel models (nested random intercepts) against metafor's ``rma.mv`` fixtures, both
reference sets (metafor 3.8-1 and 5.0-1, whose rma.mv results differ by 1e-9 to 1e-6: the
optimizer's path, tests/data/metafor5/README.md).

metafor fitted ``rma.mv`` with nlminb's defaults (README: compare at about 1e-4 relative); our
optimum is converged to 1e-12 and its (restricted) log-likelihood is never below metafor's.
metafor's profile-likelihood CIs come from ``uniroot`` with its default tolerance
(``.Machine$double.eps^0.25`` = 1.2e-4 absolute), so they are compared at that absolute
tolerance, and ours are checked to solve the profile equation to 1e-8.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metaverdict.errors import InputError
from metaverdict.models.multilevel import _fit_components, _Likelihood, multilevel

from conftest import METAFOR_VERSIONS, assert_close, case_data, load_case

CASES = ("dat.konstantopoulos2011__GEN", "dat.assink2016__GEN", "dat.tannersmith2016__GEN")
PARAMS = [(ver, c, key) for ver in METAFOR_VERSIONS for c in CASES
          for key in load_case(c, ver)["rma.mv"]]
RTOL = 1e-4


def _formula(mods: str | None) -> str | None:
    if mods is None:
        return None
    return re.sub(r"mean\((\w+)\)", r"\1.mean()", re.sub(r"factor\((\w+)\)", r"C(\1)", mods))


def _fit(case_id: str, key: str, version: str = "3.8"):
    case = load_case(case_id, version)
    ref = case["rma.mv"][key]
    groups = ref["random"].split("|")[1].strip().split("/")
    df = case_data(case)
    res = multilevel("yi", "vi", groups=groups, data=df, method=ref["method"], test=ref["test"],
                     mods=_formula(ref.get("mods")))
    return res, ref


@pytest.mark.parametrize("version,case_id,key", PARAMS,
                         ids=[f"{v}-{c}-{k}" for v, c, k in PARAMS])
def test_rma_mv_parity(version: str, case_id: str, key: str) -> None:
    res, ref = _fit(case_id, key, version)
    assert res.converged
    assert res.k == ref["k"] and res.p == ref["p"]
    co = res.coefficients
    for ours, theirs in (("estimate", "b"), ("se", "se"), ("statistic", "zval"),
                         ("pvalue", "pval"), ("ci_lower", "ci.lb"), ("ci_upper", "ci.ub")):
        assert_close(co[ours].to_numpy(), ref[theirs], theirs, rtol=RTOL)
    if "vb" in ref:
        assert_close(res.vcov, ref["vb"], "vb", rtol=RTOL, atol=1e-9)
    assert_close(res.sigma2, ref["sigma2"], "sigma2", rtol=RTOL)
    assert res.s_names == ref["s.names"]
    assert res.s_nlevels == ref["s.nlevels"]
    assert_close(res.q, ref["QE"], "QE")                      # does not depend on sigma2
    assert_close(res.q_pvalue, ref["QEp"], "QEp", atol=1e-300)
    if "QM" in ref:
        assert_close(res.qm, ref["QM"], "QM", rtol=RTOL)
        assert_close(res.qm_pvalue, ref["QMp"], "QMp", rtol=RTOL)
    if "dfs" in ref:
        assert_close(res.df, ref["dfs"], "dfs")
    else:
        assert np.isnan(res.df)
    fs = res.fit_statistics
    for kind in ("ML", "REML"):
        for ours, theirs in (("ll", "ll"), ("deviance", "dev"), ("aic", "AIC"), ("bic", "BIC"),
                             ("aicc", "AICc")):
            assert_close(getattr(fs, f"{ours}_{kind.lower()}"), ref["fit.stats"][kind][theirs],
                         f"fit.stats {kind} {theirs}", rtol=RTOL)
    # the criterion we maximise is at least as high as at metafor's solution
    ours = fs.ll_reml if res.method == "REML" else fs.ll_ml
    assert ours >= ref["fit.stats"][res.method]["ll"] - 1e-10
    if "predict" in ref:
        pred = res.predict()
        for o, t in (("pred", "pred"), ("se", "se"), ("ci_lower", "ci.lb"), ("ci_upper", "ci.ub"),
                     ("pi_lower", "pi.lb"), ("pi_upper", "pi.ub")):
            assert_close(pred[o].to_numpy(), ref["predict"][t], f"predict {t}", rtol=RTOL)
        assert res.pi_lower == pytest.approx(pred["pi_lower"].iloc[0])


@pytest.mark.parametrize("version", METAFOR_VERSIONS)
@pytest.mark.parametrize("case_id", CASES)
def test_profile_ci(case_id: str, version: str) -> None:
    res, ref = _fit(case_id, "REML", version)
    ci = res.profile_ci()
    want = ref["confint"]
    assert_close(ci.table["sigma2"].to_numpy(), [w["sigma2"] for w in want], "sigma2", rtol=RTOL)
    assert_close(ci.table["ci_lower"].to_numpy(), [w["ci.lb"] for w in want], "ci.lb",
                 rtol=0, atol=1.3e-4)
    assert_close(ci.table["ci_upper"].to_numpy(), [w["ci.ub"] for w in want], "ci.ub",
                 rtol=0, atol=1.3e-4)
    # our bounds solve 2 (ll_max - profile ll) = chi2_1(0.95) tightly
    lik = _Likelihood(res.yi, res.V, res.design, res.cluster_codes, reml=True)
    ll_max = lik(res.sigma2, derivatives=False).ll
    target = stats.chi2.ppf(0.95, 1) / 2
    for comp in range(len(res.sigma2)):
        fixed = np.arange(len(res.sigma2)) == comp
        for bound in ci.table.iloc[comp][["ci_lower", "ci_upper"]]:
            start = res.sigma2.copy()
            start[comp] = bound
            _, ev, ok, _ = _fit_components(lik, start, fixed)
            assert ok
            assert ll_max - ev.ll == pytest.approx(target, abs=1e-8)
    assert "sigma^2" in ci.summary()


def _dense_loglik(s2, y, V, X, codes, reml):
    M = V + sum(s * (c[:, None] == c[None, :]) for s, c in zip(s2, codes.T))
    Mi = np.linalg.inv(M)
    xmx = X.T @ Mi @ X
    b = np.linalg.solve(xmx, X.T @ Mi @ y)
    r = y - X @ b
    k, p = X.shape
    ll = -0.5 * (np.linalg.slogdet(M)[1] + r @ Mi @ r)
    if reml:
        return ll - 0.5 * ((k - p) * np.log(2 * np.pi) + np.linalg.slogdet(xmx)[1]) \
            + 0.5 * np.linalg.slogdet(X.T @ X)[1]
    return ll - 0.5 * k * np.log(2 * np.pi)


def _correlated_v(df: pd.DataFrame, rho: float = 0.6) -> np.ndarray:
    v = df["vi"].to_numpy()
    same = df["district"].to_numpy()[:, None] == df["district"].to_numpy()[None, :]
    V = rho * np.sqrt(np.outer(v, v)) * same
    np.fill_diagonal(V, v)
    return V


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_known_covariance_matches_direct_optimisation(method: str) -> None:
    df = case_data(load_case("dat.konstantopoulos2011__GEN"))
    V = _correlated_v(df)
    res = multilevel("yi", V=V, groups=["district", "school"], data=df, method=method,
                     mods="I(year - year.mean())")
    y, X = res.yi, res.design
    ll = lambda s2: _dense_loglik(s2, y, V, X, res.cluster_codes, method == "REML")  # noqa: E731
    best = ll(res.sigma2)
    ours = res.fit_statistics.ll_reml if method == "REML" else res.fit_statistics.ll_ml
    assert ours == pytest.approx(best, rel=1e-12)
    # a stationary point: central differences of the dense likelihood vanish, and no
    # nearby point is better
    for j in range(2):
        h = 1e-4 * res.sigma2[j]
        up, down = res.sigma2.copy(), res.sigma2.copy()
        up[j] += h
        down[j] -= h
        assert abs((ll(up) - ll(down)) / (2 * h)) * res.sigma2[j] < 1e-7
        for factor in (0.99, 1.01):
            near = res.sigma2.copy()
            near[j] *= factor
            assert ll(near) < best
    Mi = np.linalg.inv(res.marginal_covariance())
    vb = np.linalg.inv(X.T @ Mi @ X)
    np.testing.assert_allclose(res.vcov, vb, rtol=1e-9)
    np.testing.assert_allclose(res.coefficients["estimate"], vb @ X.T @ Mi @ y, rtol=1e-9)


def test_diagonal_v_equals_vi() -> None:
    df = case_data(load_case("dat.konstantopoulos2011__GEN"))
    a = multilevel("yi", "vi", groups=["district", "school"], data=df)
    b = multilevel(df["yi"], V=np.diag(df["vi"]), groups=["district", "school"], data=df)
    np.testing.assert_allclose(a.sigma2, b.sigma2, rtol=1e-10)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)


def test_single_level_equals_univariate_reml() -> None:
    from metaverdict.models import meta_analysis
    df = case_data(load_case("dat.bcg__RR"))
    df["trial"] = np.arange(len(df))
    ml = multilevel("yi", "vi", groups=["trial"], data=df)
    uni = meta_analysis(df["yi"], df["vi"], method="REML")
    assert ml.sigma2[0] == pytest.approx(uni.tau2, rel=1e-9)
    assert ml.estimate == pytest.approx(uni.estimate, rel=1e-9)
    assert ml.se == pytest.approx(uni.se, rel=1e-8)
    assert ml.fit_statistics.ll_reml == pytest.approx(uni.fit_statistics.ll_reml, rel=1e-9)


def test_summary_and_dict() -> None:
    res, _ = _fit("dat.konstantopoulos2011__GEN", "REML_mods")
    text = res.summary()
    assert "district/school" in text and "Test of moderators" in text
    assert res.to_dict()["s_names"] == ["district", "district/school"]


def test_bad_input() -> None:
    df = case_data(load_case("dat.konstantopoulos2011__GEN"))
    with pytest.raises(InputError, match="no column 'region'"):
        multilevel("yi", "vi", groups=["region"], data=df)
    bad = df.copy()
    bad.loc[3, "school"] = np.nan
    with pytest.raises(InputError, match="study 3, field 'school'"):
        multilevel("yi", "vi", groups=["district", "school"], data=bad)
    with pytest.raises(InputError, match="exactly one of vi"):
        multilevel("yi", groups=["district"], data=df)
    with pytest.raises(InputError, match="56 x 56"):
        multilevel("yi", V=np.eye(3), groups=["district"], data=df)
    with pytest.raises(InputError, match="positive definite"):
        multilevel("yi", V=-np.eye(56), groups=["district"], data=df)
    with pytest.raises(InputError, match="constant"):
        multilevel("yi", "vi", groups=["district"], data=df.assign(c=1.0), mods="c")
    with pytest.raises(InputError, match="method"):
        multilevel("yi", "vi", groups=["district"], data=df, method="DL")
