"""Multivariate models (``multivariate``, ``vcalc``, CR2 robust inference) against metafor
3.8-1 ``rma.mv`` and clubSandwich 0.5.8 (tests/data/rma_mv, written by generate.R there).

metafor fitted with nlminb at ``rel.tol = 1e-11`` where that converged (``tight`` in the
fixture: compared at 1e-5 relative) and at its defaults otherwise (1e-4 relative);
components near zero at an absolute 1e-6; quantities that do not depend on the
optimum (vcalc's V, Q_E) agree to rounding. Profile-likelihood bounds come from
metafor's ``uniroot`` at its default tolerance (about 1e-4 absolute).
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metaverdict.errors import InputError
from metaverdict.models.multilevel import multilevel
from metaverdict.models.multivariate import multivariate
from metaverdict.models.mv_influence import hat_values
from metaverdict.models.robust import robust
from metaverdict.models.vcalc import vcalc

from conftest import assert_close

DATA = Path(__file__).resolve().parent.parent / "data" / "rma_mv"
RTOL = 1e-4
TIGHT = 1e-5      # fits where metafor's nlminb converged at rel.tol 1e-11 ("tight")


@cache
def load(name: str) -> dict[str, Any]:
    case: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    assert case["versions"]["metafor"] == "3.8.1"
    return case


def frame(name: str, key: str = "data") -> pd.DataFrame:
    return pd.DataFrame(load(name)[key])        # records (jsonlite's data-frame rows)


def check_fit(res: Any, ref: dict[str, Any], rtol: float | None = None) -> None:
    if rtol is None:                      # nlminb at rel.tol 1e-11 agrees more closely
        rtol = TIGHT if ref.get("tight") else RTOL
    co = res.coefficients
    for ours, theirs in (("estimate", "b"), ("se", "se"), ("statistic", "zval"),
                         ("pvalue", "pval"), ("ci_lower", "ci.lb"), ("ci_upper", "ci.ub")):
        assert_close(co[ours].to_numpy(), ref[theirs], theirs, rtol=rtol, atol=1e-10)
    assert_close(res.vcov, np.reshape(ref["vb"], res.vcov.shape), "vb", rtol=rtol, atol=1e-10)
    for name in ("sigma2", "tau2", "rho"):
        want = np.atleast_1d(np.asarray(ref[name], dtype=float))
        got = getattr(res, name)
        if not got.size:
            assert np.all(want == 0), name
            continue
        assert_close(got, want, name, rtol=rtol, atol=1e-6)
    assert_close(res.q, ref["QE"], "QE", rtol=1e-9)
    if "QM" in ref and res.qm is not None:
        assert_close(res.qm, ref["QM"], "QM", rtol=rtol)
        assert_close(res.qm_pvalue, ref["QMp"], "QMp", rtol=1e-3, atol=1e-300)
    fs = res.fit_statistics
    for kind in ("ML", "REML"):
        for ours, theirs in (("ll", "ll"), ("deviance", "dev"), ("aic", "AIC"), ("bic", "BIC"),
                             ("aicc", "AICc")):
            assert_close(getattr(fs, f"{ours}_{kind.lower()}"), ref["fit.stats"][kind][theirs],
                         f"fit.stats {kind} {theirs}", rtol=rtol, atol=1e-8)
    criterion = fs.ll_reml if res.method == "REML" else fs.ll_ml
    assert criterion >= ref["fit.stats"][res.method]["ll"] - 1e-8


# ----------------------------------------------------------------------------- Berkey 1998

def berkey(**kw: Any) -> Any:
    case = load("berkey1998")
    args = {"random": "~ outcome | trial", "struct": "UN", "mods": "C(outcome) - 1"} | kw
    return multivariate("yi", np.array(case["V"]), data=frame("berkey1998"), **args)


@pytest.mark.parametrize("key,kw", [("un", {}), ("un_ml", {"method": "ML"}),
                                    ("un_t", {"test": "t"}),
                                    ("un_year", {"mods": "C(outcome) + C(outcome):I(year - 1983)"
                                                         " - 1"}),
                                    ("no_random", {"random": None})])
def test_berkey_parity(key: str, kw: dict[str, Any]) -> None:
    res = berkey(**kw)
    assert res.converged
    check_fit(res, load("berkey1998")[key])
    if kw.get("test") == "t":
        assert res.df == res.k - res.p


def test_berkey_tests_and_contrasts() -> None:
    ref = load("berkey1998")
    an = berkey().anova([[1, -1]])
    assert_close(an.statistic, ref["anova_X"]["QM"], "QM", rtol=RTOL)
    assert_close(an.hypotheses["estimate"].to_numpy(), ref["anova_X"]["hyp_est"], "Xb",
                 rtol=RTOL)
    assert_close(an.hypotheses["se"].to_numpy(), ref["anova_X"]["hyp_se"], "se", rtol=RTOL)
    an_t = berkey(test="t").anova([[1, -1], [1, 1]])
    assert_close(an_t.statistic, ref["anova_X_t"]["QM"], "F", rtol=RTOL)
    assert (an_t.df_num, an_t.df_denom) == tuple(ref["anova_X_t"]["QMdf"])
    assert_close(an_t.pvalue, ref["anova_X_t"]["QMp"], "p", rtol=1e-3)
    wb = berkey(mods="C(outcome) + C(outcome):I(year - 1983) - 1").wald_test([2, 3])
    assert_close(wb.statistic, ref["wald_btt"]["QM"], "QM btt", rtol=RTOL)
    assert_close(wb.pvalue, ref["wald_btt"]["QMp"], "QMp btt", rtol=RTOL)
    with pytest.raises(InputError, match="btt"):
        berkey().wald_test([5])


def test_berkey_ranef_confint_influence() -> None:
    ref = load("berkey1998")
    res = berkey()
    blup = res.ranef()["outcome | trial"]
    want = ref["ranef"]["~outcome | trial"]
    assert list(blup.index) == want["names"]
    assert_close(blup["estimate"].to_numpy(), want["intrcpt"], "ranef", rtol=RTOL, atol=1e-7)
    assert_close(blup["se"].to_numpy(), want["se"], "ranef se", rtol=RTOL)
    ci = res.profile_ci().table
    for row, block in zip(ci.itertuples(), ref["confint"]):
        assert_close(row.ci_lower, np.atleast_1d(block["ci.lb"])[0], "ci.lb", rtol=0, atol=1.2e-4)
        assert_close(row.ci_upper, np.atleast_1d(block["ci.ub"])[0], "ci.ub", rtol=0, atol=1.2e-4)
    inf = res.influence()
    cooks = np.array(ref["influence"]["cooks"], dtype=float)
    ok = np.isfinite(cooks)                      # metafor's refit without trial 8 failed
    assert_close(inf["cooks_distance"].to_numpy()[ok], cooks[ok], "cooks", rtol=RTOL)
    dfb = np.array(ref["influence"]["dfbetas"], dtype=float)
    assert_close(inf.filter(like="dfbetas").to_numpy()[ok], dfb[ok], "dfbetas", rtol=RTOL,
                 atol=1e-6)
    assert_close(inf["hat"].to_numpy(), ref["influence"]["hat"], "hat", rtol=1e-6)
    for ours, theirs in (("rstudent", "rstudent"), ("resid_deleted", "resid_deleted"),
                         ("se_deleted", "se_deleted")):
        want = np.array(ref["influence"][theirs], dtype=float)
        assert_close(inf[ours].to_numpy()[ok], want[ok], theirs, rtol=RTOL, atol=1e-6)


def test_berkey_cr2() -> None:
    ref = load("berkey1998")["cr2"]
    df = frame("berkey1998")
    rb = robust(berkey(), df["trial"], correction="CR2")
    assert_close(rb.coefficients["se"].to_numpy(), ref["SE"], "SE", rtol=RTOL)
    assert_close(rb.coefficient_df, ref["df"], "df", rtol=RTOL)
    assert_close(rb.vcov, ref["vcov"], "vcov", rtol=RTOL, atol=1e-10)
    w = rb.wald_test([[1, -1]])
    assert_close(w.statistic, ref["wald"]["Fstat"], "F", rtol=RTOL)
    assert_close(w.df_denom, ref["wald"]["df_denom"], "df", rtol=RTOL)


# ----------------------------------------------------------------------------- Assink 2016

def assink(**kw: Any) -> Any:
    df = frame("assink2016")
    return multivariate("yi", kw.pop("V", "vi"), data=df, **({"random": "~ 1 | study/esid"}
                                                           | kw))


@pytest.mark.parametrize("key", ["three_level", "three_level_V", "three_level_mods",
                                 "three_level_W", "no_random"])
def test_assink_parity(key: str) -> None:
    case = load("assink2016")
    df = frame("assink2016")
    kw: dict[str, Any] = {
        "three_level": {}, "three_level_V": {"V": np.array(case["V06"])},
        "three_level_mods": {"mods": "C(deltype)"}, "three_level_W": {"W": 1 / df["vi"]},
        "no_random": {"V": np.array(case["V06"]), "random": None, "mods": "C(deltype)"}}[key]
    res = assink(**kw)
    check_fit(res, case[key])
    if key == "three_level":
        assert res.s_names == ["study", "study/esid"]


def test_multilevel_is_the_intercepts_case() -> None:
    df = frame("assink2016")
    ml = multilevel("yi", "vi", groups=["study", "esid"], data=df)
    mv_ = assink()
    # the same scoring engine; only the order of the clusters (sorted here) differs
    np.testing.assert_allclose(ml.sigma2, mv_.sigma2, rtol=1e-10)
    np.testing.assert_allclose(ml.vcov, mv_.vcov, rtol=1e-10)
    assert ml.fit_statistics.ll_reml == pytest.approx(mv_.fit_statistics.ll_reml, rel=1e-13)


def test_assink_confint_and_cluster_influence() -> None:
    ref = load("assink2016")
    res = assink()
    ci = res.profile_ci().table
    for row, block in zip(ci.itertuples(), ref["confint"]):
        assert_close(row.ci_lower, block["ci.lb"][0], "ci.lb", rtol=0, atol=1.2e-4)
        assert_close(row.ci_upper, block["ci.ub"][0], "ci.ub", rtol=0, atol=1.2e-4)
    inf = res.influence(cluster=frame("assink2016")["study"])
    assert_close(inf["cooks_distance"].to_numpy(), ref["influence_cluster"]["cooks"], "cooks",
                 rtol=RTOL)


@pytest.mark.parametrize("key,mods", [("cr2", None), ("cr2_mods", "C(deltype)")])
def test_assink_cr2(key: str, mods: str | None) -> None:
    ref = load("assink2016")[key]
    df = frame("assink2016")
    rb = robust(assink(mods=mods), df["study"], correction="CR2")
    assert_close(rb.coefficients["estimate"].to_numpy(), ref["beta"], "beta", rtol=RTOL)
    assert_close(rb.coefficients["se"].to_numpy(), ref["SE"], "SE", rtol=RTOL)
    assert_close(rb.coefficient_df, ref["df"], "df", rtol=RTOL)
    assert_close(rb.coefficients["pvalue"].to_numpy(), ref["p"], "p", rtol=1e-3)
    if "wald" in ref:                         # clubSandwich's HTZ test of the moderators
        assert_close(rb.qm, ref["wald"]["Fstat"], "F", rtol=RTOL)
        assert_close(rb.qm_df[1], ref["wald"]["df_denom"], "df", rtol=RTOL)
        assert_close(rb.qm_pvalue, ref["wald"]["p"], "p", rtol=1e-3)


def test_assink_cr1_unchanged_and_univariate_cr2() -> None:
    import metaverdict as mv
    case = load("assink2016")
    df = frame("assink2016")
    rb = robust(assink(mods="C(deltype)"), df["study"])
    assert rb.correction == "CR1"
    assert_close(rb.coefficients["se"].to_numpy(), case["cr1_mods"]["se"], "se", rtol=RTOL)
    assert_close(rb.qm, case["cr1_mods"]["QM"], "QM", rtol=RTOL)
    uni = mv.meta_analysis(df["yi"].to_numpy(), df["vi"].to_numpy(), mods=df[["year"]],
                           method="REML")
    rb2 = robust(uni, df["study"], correction="CR2")
    ref = case["cr2_univariate"]
    assert_close(rb2.coefficients["se"].to_numpy(), ref["SE"], "SE", rtol=RTOL)
    assert_close(rb2.coefficient_df, ref["df"], "df", rtol=RTOL)
    with pytest.raises(InputError, match="correction"):
        robust(uni, df["study"], correction="CR3")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- structures

# UN (4 x 4): metafor's optimum lies on the boundary of the positive definite correlation
# matrices (smallest eigenvalue 1e-11), reached through the partial-correlation parametrisation
STRUCTS = ["CS", "HCS", "AR", "HAR", "ID", "DIAG", "CAR", "UN"]


@pytest.mark.parametrize("struct", STRUCTS)
def test_structures_parity(struct: str) -> None:
    inner = "months" if struct == "CAR" else "time"
    res = multivariate("yi", "vi", random=f"~ {inner} | study", struct=struct,
                       data=frame("longitudinal_simulated"), mods="C(time) - 1")
    # UN: a boundary optimum, flat along the boundary, so only the default tolerance
    check_fit(res, load("longitudinal_simulated")["fits"][struct], RTOL if struct == "UN" else None)


def test_two_terms_ar_and_intercepts() -> None:
    ref = load("longitudinal_simulated")
    df = frame("longitudinal_simulated")
    res = multivariate("yi", "vi", random=["~ time | study", "~ 1 | time"], struct="AR",
                       data=df)
    check_fit(res, ref["ar_plus_intercept"])
    assert list(res.components.index) == ["tau2", "rho", "sigma2"]


def test_ar_confint_ranef_cr2() -> None:
    ref = load("longitudinal_simulated")
    df = frame("longitudinal_simulated")
    res = multivariate("yi", "vi", random="~ time | study", struct="AR", data=df,
                       mods="C(time) - 1")
    ci = res.profile_ci().table
    for row, block in zip(ci.itertuples(), ref["ar_confint"]):
        assert_close(row.ci_lower, np.atleast_1d(block["ci.lb"])[0], "ci.lb", rtol=0, atol=1.2e-4)
        assert_close(row.ci_upper, np.atleast_1d(block["ci.ub"])[0], "ci.ub", rtol=0, atol=1.2e-4)
    blup = res.ranef()["time | study"]
    want = ref["ar_ranef"]["~time | study"]
    assert list(blup.index) == want["names"]
    assert_close(blup["estimate"].to_numpy(), want["intrcpt"], "ranef", rtol=RTOL, atol=1e-7)
    assert_close(blup["se"].to_numpy(), want["se"], "ranef se", rtol=RTOL)
    assert_close(hat_values(res), ref["ar_influence"]["hat"], "hat", rtol=1e-6)
    rb = robust(res, df["study"], correction="CR2")
    cr2 = ref["ar_cr2"]
    assert_close(rb.coefficients["se"].to_numpy(), cr2["SE"], "SE", rtol=RTOL)
    assert_close(rb.coefficient_df, cr2["df"], "df", rtol=RTOL)
    w = rb.wald_test([[1, -1, 0, 0], [1, 0, -1, 0], [1, 0, 0, -1]])
    assert_close(w.statistic, cr2["wald"]["Fstat"], "F", rtol=RTOL)
    assert_close(w.df_denom, cr2["wald"]["df_denom"], "df", rtol=RTOL)
    assert_close(w.pvalue, cr2["wald"]["p"], "p", rtol=1e-3)


def test_phylogenetic_known_correlation() -> None:
    case = load("lim2014")
    A = pd.DataFrame(case["A"]["values"], index=case["A"]["names"], columns=case["A"]["names"])
    res = multivariate("yi", "vi", data=frame("lim2014"), R={"species.phy": A},
                       random=["~ 1 | article", "~ 1 | species", "~ 1 | species.phy"])
    check_fit(res, case["phylo"])
    with pytest.raises(InputError, match="no row"):
        multivariate("yi", "vi", data=frame("lim2014"), R={"species.phy": A.iloc[1:, 1:]},
                     random="~ 1 | species.phy")


# ----------------------------------------------------------------------------- vcalc

@pytest.mark.parametrize("key,kw", [
    ("obs", {"obs": "esid", "rho": 0.6}),
    ("type_obs", {"type": "type", "obs": "esid", "rho": (0.5, 0.3)}),
    ("time", {"time1": "time", "phi": 0.9}),
    ("type_time", {"type": "type", "time1": "time", "rho": 0.4, "phi": 0.8}),
    ("subgroup", {"subgroup": "type", "obs": "esid", "rho": 0.7})])
def test_vcalc_parity(key: str, kw: dict[str, Any]) -> None:
    V = vcalc("vi", "study", data=frame("vcalc"), **kw)
    assert_close(V, load("vcalc")["V"][key], key, rtol=1e-12, atol=1e-15)


def test_vcalc_shared_groups_and_errors() -> None:
    V = vcalc("vi", "study", data=frame("vcalc", "groups"), grp1="grp1", grp2="grp2",
              w1="w1", w2="w2")
    assert_close(V, load("vcalc")["V"]["shared"], "shared", rtol=1e-12, atol=1e-15)
    with pytest.raises(InputError, match="rho"):
        vcalc([0.1, 0.2], [1, 1], obs=[1, 2])
    with pytest.raises(InputError, match="phi"):
        vcalc([0.1, 0.2], [1, 1], time1=[1, 2], phi=1.5)


# ----------------------------------------------------------------------------- input errors

def test_input_errors() -> None:
    df = frame("berkey1998")
    with pytest.raises(InputError, match="struct"):
        berkey(struct="XYZ")
    with pytest.raises(InputError, match="random"):
        berkey(random="~ outcome")
    with pytest.raises(InputError, match="no column"):
        berkey(random="~ outcome | nosuch")
    with pytest.raises(InputError, match="V"):
        multivariate("yi", np.ones((3, 3)), data=df)
    bad = df.assign(trial=df["trial"].astype(object))
    bad.loc[2, "trial"] = None
    with pytest.raises(InputError, match="missing"):
        multivariate("yi", "vi", data=bad, random="~ outcome | trial")
    with pytest.raises(InputError, match="X"):
        berkey().anova([[1, 2, 3]])
    res = berkey()
    with pytest.raises(InputError, match="newmods"):
        res.predict([[1.0]])
    assert "Multivariate meta-analysis" in res.summary()
    d = res.to_dict()
    assert d["components"]["value"][2] == pytest.approx(res.rho[0])


def test_predict_and_weighted_cr1() -> None:
    ref = load("berkey1998")["un"]
    res = berkey()
    pred = res.predict([[1, 0], [0, 1]])
    assert_close(pred["pred"].to_numpy(), ref["b"], "pred", rtol=RTOL)
    assert_close(pred["se"].to_numpy(), ref["se"], "se", rtol=RTOL)
    assert_close(pred["ci_lower"].to_numpy(), ref["ci.lb"], "ci.lb", rtol=RTOL)
    # CR1 of a fit with user weights uses those weights in the bread (metafor robust())
    df = frame("assink2016")
    w = 1 / df["vi"].to_numpy()
    fit = assink(W=w)
    rb = robust(fit, df["study"])
    X = fit.design
    B = np.linalg.solve(X.T @ (w[:, None] * X), (w[:, None] * X).T)
    e = fit.yi - X @ fit.beta
    codes = pd.factorize(df["study"])[0]
    u = np.array([B[:, codes == c] @ e[codes == c] for c in range(codes.max() + 1)])
    n = len(u)
    assert rb.vcov[0, 0] == pytest.approx(float(u[:, 0] @ u[:, 0]) * n / (n - 1), rel=1e-12)


def test_assink_ranef_nested_intercepts() -> None:
    ref = load("assink2016")["ranef"]
    blups = assink().ranef()
    assert list(blups) == list(ref)
    for name, want in ref.items():
        got = blups[name].loc[want["names"]]
        assert_close(got["estimate"].to_numpy(), want["intrcpt"], f"ranef {name}", rtol=RTOL,
                     atol=1e-6)
        assert_close(got["se"].to_numpy(), want["se"], f"ranef se {name}", rtol=RTOL)


def test_vcalc_correlation_matrix_by_label() -> None:
    rho = pd.DataFrame([[1, 0.3], [0.3, 1]], index=["a", "b"], columns=["a", "b"])
    V = vcalc("vi", "study", data=frame("vcalc"), type="type", rho=rho)
    assert_close(V, load("vcalc")["V"]["type_matrix"], "type_matrix", rtol=1e-12, atol=1e-15)
    with pytest.raises(InputError, match="missing"):
        vcalc("vi", "study", data=frame("vcalc"), type="type", rho=rho.iloc[:1, :1])


def test_multilevel_fit_takes_cr2() -> None:
    ref = load("assink2016")["cr2"]
    df = frame("assink2016")
    rb = robust(multilevel("yi", "vi", groups=["study", "esid"], data=df), df["study"],
                correction="CR2")
    assert_close(rb.se, ref["SE"], "SE", rtol=RTOL)
    assert_close(rb.df, ref["df"], "df", rtol=RTOL)


def test_random_term_errors() -> None:
    df = frame("longitudinal_simulated")
    with pytest.raises(InputError, match="struct"):
        multivariate("yi", "vi", data=df, random=["~ time | study", "~ time | study"],
                     struct=["AR"])
    with pytest.raises(InputError, match="R"):
        multivariate("yi", "vi", data=df, random="~ 1 | study", R={"time": np.eye(4)})
    with pytest.raises(InputError, match="R"):
        multivariate("yi", "vi", data=df, random="~ 1 | time", R={"time": np.eye(3)})
    with pytest.raises(InputError, match="numeric"):
        multivariate("yi", "vi", data=df.assign(t=df["time"].map("t{}".format)),
                     random="~ t | study", struct="CAR")
    with pytest.raises(InputError, match="data"):
        multivariate("yi", "vi", random="~ 1 | study")


def test_cr2_with_user_weights() -> None:
    ref = load("assink2016")["cr2_W"]
    df = frame("assink2016")
    rb = robust(assink(W=1 / df["vi"]), df["study"], correction="CR2")
    assert_close(rb.se, ref["SE"], "SE", rtol=RTOL)
    assert_close(rb.df, ref["df"], "df", rtol=RTOL)
