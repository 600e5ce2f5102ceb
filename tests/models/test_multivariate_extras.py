"""Fixed variance components (metafor ``rma.mv(sigma2=, tau2=, rho=, gamma2=, phi=)``) and
containment df (``dfs="contain"``) against metafor 3.8-1 (tests/data/rma_mv/extras.json,
written by extras.R there; nlminb at rel.tol 1e-11 where it converged, ``tight``)."""
from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_multivariate import DATA, check_fit

from metaverdict.diagnostics.profile import likelihood_profile
from metaverdict.errors import InputError
from metaverdict.models.multilevel import multilevel
from metaverdict.models.multivariate import containment_df, multivariate
from metaverdict.models.vcalc import vcalc

from conftest import assert_close


@cache
def load() -> dict[str, Any]:
    case: dict[str, Any] = json.loads((DATA / "extras.json").read_text())
    assert case["versions"]["metafor"] == "3.8.1"
    return case


def kon() -> pd.DataFrame:
    return pd.DataFrame(load()["konstantopoulos"])


def berkey(**kw: Any) -> Any:
    ref = load()
    return multivariate("yi", np.array(ref["berkey_V"]), mods="C(outcome) - 1",
                        random=kw.pop("random", "~ outcome | trial"),
                        data=pd.DataFrame(ref["berkey"]), **kw)


def check_all(res: Any, ref: dict[str, Any]) -> None:
    """Coefficients, components, fit statistics (the number of parameters counts only the
    estimated components) and, for t tests, each coefficient's df."""
    check_fit(res, ref)
    for name in ("gamma2", "phi"):          # metafor: 0 without a second structured term
        got = getattr(res, name)
        want = np.atleast_1d(ref[name])
        if got.size:
            assert_close(got, want, name, rtol=1e-5)
        else:
            assert np.all(want == 0), name
    fs = res.fit_statistics
    tol = 1e-6 if ref["tight"] else 1e-5       # metafor's default tolerance stops earlier
    for kind, tag in (("ML", "ml"), ("REML", "reml")):
        for field, theirs in (("ll", "ll"), ("aic", "AIC"), ("bic", "BIC"), ("aicc", "AICc")):
            assert_close(getattr(fs, f"{field}_{tag}"), ref["fit.stats"][kind][theirs],
                         f"{kind} {theirs}", rtol=tol, atol=tol)
    if "ddf" in ref:
        assert_close(res.ddf, ref["ddf"], "ddf", rtol=0)
    if "QM" in ref and res.qm is not None:
        assert_close(res.qm, ref["QM"], "QM", rtol=1e-5)
        assert_close(res.qm_pvalue, ref["QMp"], "QMp", rtol=1e-5)


# ----------------------------------------------------------------------------- fixed

@pytest.mark.parametrize("case, kw", [
    ("fixed_school", {"sigma2": [None, 0.03]}),
    ("fixed_district_ml", {"sigma2": [0.05, np.nan], "mods": "x", "method": "ML"}),
    ("fixed_both", {"sigma2": [0.05, 0.02]}),
])
def test_fixed_sigma2_matches_metafor(case: str, kw: dict[str, Any]) -> None:
    ref = load()[case]
    res = multivariate("yi", "vi", random="~ 1 | district/school", data=kon(), **kw)
    check_all(res, ref)
    given = np.array([np.nan if v is None else v for v in kw["sigma2"]], dtype=float)
    held = ~np.isnan(given)
    assert res.components["fixed"].tolist() == held.tolist()
    np.testing.assert_array_equal(res.sigma2[held], given[held])   # held exactly


@pytest.mark.parametrize("case, kw", [
    ("un_rho", {"struct": "UN", "rho": 0.5}),
    ("un_tau", {"struct": "UN", "tau2": [None, 0.01]}),
    ("cs_rho0", {"struct": "CS", "rho": 0}),
    ("two_terms_fixed", {"random": ["~ outcome | trial", "~ outcome | author"],
                         "struct": ["CS", "CS"], "gamma2": 0.005, "phi": 0.5}),
])
def test_fixed_structured_components_match_metafor(case: str, kw: dict[str, Any]) -> None:
    ref = load()[case]
    res = berkey(**kw)
    check_all(res, ref)
    for name in ("tau2", "rho", "gamma2", "phi"):
        if np.isscalar(kw.get(name)):
            assert np.all(getattr(res, name) == kw[name])


def test_profile_ci_skips_fixed_components() -> None:
    """metafor's confint profiles only the estimated components (its values: uniroot at
    its default tolerance, about 1e-4)."""
    for res, ref in ((multivariate("yi", "vi", random="~ 1 | district/school", data=kon(),
                                   sigma2=[None, 0.03]), load()["fixed_school"]),
                     (berkey(struct="UN", rho=0.5), load()["un_rho"])):
        table = res.profile_ci().table
        assert len(table) == len(ref["confint"])
        for row, want in zip(table.itertuples(), ref["confint"]):
            assert_close([row.ci_lower, row.ci_upper], [want["ci.lb"][0], want["ci.ub"][0]],
                         str(row.Index), rtol=2e-3, atol=1e-5)


def test_fixed_values_survive_refits() -> None:
    """Leave-one-out refits keep the held value: Cook's distances, hat values and DFBETAS as
    metafor's for the same fixed model."""
    ref = load()["fixed_school"]["influence"]
    res = multivariate("yi", "vi", random="~ 1 | district/school", data=kon(),
                       sigma2=[None, 0.03])
    inf = res.influence()
    assert_close(inf["cooks_distance"].to_numpy(), ref["cooks"], "cooks", rtol=1e-4)
    assert_close(inf["hat"].to_numpy(), ref["hat"], "hat", rtol=1e-5)
    assert_close(inf["dfbetas_intrcpt"].to_numpy(), np.ravel(ref["dfbetas"]), "dfbetas",
                 rtol=1e-4, atol=1e-8)
    assert res._model.subset(np.arange(50)).fixed is res._model.fixed


@pytest.mark.parametrize("kw, message", [
    ({"tau2": 0.1}, "no tau2 component"),
    ({"sigma2": [0.1, 0.2, 0.3]}, "3 values for the model's 2 sigma2"),
    ({"sigma2": [-0.1, None]}, "outside"),
    ({"sigma2": [np.inf, None]}, "outside"),
])
def test_bad_fixed_values_raise_input_error(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        multivariate("yi", "vi", random="~ 1 | district/school", data=kon(), **kw)


def test_bad_fixed_correlation_raises_input_error() -> None:
    with pytest.raises(InputError, match="field 'rho'.*outside"):
        berkey(struct="UN", rho=1.5)


# ----------------------------------------------------------------------------- dfs

@pytest.mark.parametrize("case, mods", [("contain", "x"), ("contain_groups", "x + C(dgrp)")])
def test_containment_df_matches_metafor(case: str, mods: str) -> None:
    """A district-level moderator gets the 11 districts minus p, a school-level one the 56
    schools minus p."""
    ref = load()[case]
    res = multivariate("yi", "vi", mods=mods, random="~ 1 | district/school", data=kon(),
                       dfs="contain")
    assert res.test == "t" and res.dfs == "contain"
    check_all(res, ref)
    assert res.qm_df == tuple(ref["QMdf"])
    assert "t tests on the contain df" in res.summary()


def test_containment_df_of_a_structured_term() -> None:
    """``~ outcome | trial``: the outcome indicators are constant within the inner-within-
    outer cells (10 rows), not within trials: df = 10 - 2."""
    ref = load()["contain_un"]
    res = berkey(struct="UN", dfs="contain")
    check_all(res, ref)
    np.testing.assert_array_equal(containment_df(res._model), ref["ddf"])


def test_containment_df_in_predict_anova_and_ranef() -> None:
    """metafor: predictions and BLUP intervals on the smallest df; each hypothesis on the
    smallest df of its coefficients, the omnibus F on the smallest of those."""
    ref = load()
    res = multivariate("yi", "vi", mods="x + C(dgrp)", random="~ 1 | district/school",
                       data=kon(), dfs="contain")
    pred = res.predict(newmods=[[1, 3, 0, 0]]).iloc[0]
    want = ref["contain_predict"]
    for ours, theirs in (("pred", "pred"), ("se", "se"), ("ci_lower", "ci.lb"),
                         ("ci_upper", "ci.ub"), ("pi_lower", "pi.lb"), ("pi_upper", "pi.ub")):
        assert_close(pred[ours], want[theirs], theirs, rtol=1e-5)
    an = res.anova([[0, 1, 0, 0], [1, 0, 0, 0]])
    want = ref["contain_anova"]
    assert_close(an.hypotheses["df"].to_numpy(), want["ddf"], "ddf", rtol=0)
    assert_close(an.hypotheses["pvalue"].to_numpy(), want["pval"], "pval", rtol=1e-5)
    assert (an.df_num, an.df_denom) == tuple(want["QMdf"])
    assert_close(an.statistic, want["QM"], "QM", rtol=1e-5)
    assert_close(an.pvalue, want["QMp"], "QMp", rtol=1e-5)
    blup = res.ranef()["district"]
    want = ref["contain_ranef"]["district"]
    assert_close(blup["estimate"].to_numpy(), want["intrcpt"], "blup", rtol=1e-4, atol=1e-7)
    crit = (blup["pi_upper"] - blup["estimate"]) / blup["se"]
    assert_close(blup["se"].to_numpy(), want["se"], "blup se", rtol=1e-4, atol=1e-7)
    assert_close(crit.to_numpy(), np.full(len(blup), stats.t.ppf(0.975, 7)), "t(0.975, 7)",
                 rtol=1e-12)


def test_residual_df_unchanged() -> None:
    res = multivariate("yi", "vi", mods="x", random="~ 1 | district/school", data=kon(),
                       test="t")
    np.testing.assert_array_equal(res.ddf, [54.0, 54.0])
    z = multivariate("yi", "vi", mods="x", random="~ 1 | district/school", data=kon())
    assert np.isnan(z.ddf).all() and np.isnan(z.df)


def test_bad_dfs_raises_input_error() -> None:
    with pytest.raises(InputError, match="dfs"):
        multivariate("yi", "vi", random="~ 1 | district/school", data=kon(), dfs="between")


# ----------------------------------------------------------------------------- vcalc rvars

@cache
def rvars_case() -> dict[str, Any]:
    case: dict[str, Any] = json.loads((DATA / "vcalc_rvars.json").read_text())
    assert case["versions"]["metafor"] == "3.8.1"
    return case


def test_vcalc_rvars_rebuilds_berkey_blocks() -> None:
    """metafor's help-page example: the 2 x 2 covariance blocks from the columns v1i, v2i
    with vi = 1 give the block-diagonal V of Berkey et al. (1998)."""
    ref = rvars_case()
    V = vcalc(1, "author", data=pd.DataFrame(ref["berkey"]), rvars=["v1i", "v2i"])
    assert_close(V, np.array(ref["berkey_rvars"]), "V", rtol=1e-14, atol=0)
    assert_close(V, np.array(ref["berkey_V"]), "bldiag V", rtol=1e-14, atol=0)


@pytest.mark.parametrize("frame, key, kw", [
    ("layout", "layout_V", {"rvars": ["r1", "r2", "r3", "r4"]}),
    ("layout_sub", "layout_sub_V", {"rvars": ["r1", "r2"], "subgroup": "sub"}),
])
def test_vcalc_rvars_matches_metafor(frame: str, key: str, kw: dict[str, Any]) -> None:
    ref = rvars_case()
    data = pd.DataFrame(ref[frame])
    V = vcalc("vi", "study", data=data, **kw)
    assert_close(V, np.array(ref[key]), "V", rtol=1e-14, atol=0)
    arr = vcalc(data["vi"].to_numpy(), data["study"].to_numpy(),
                subgroup=None if "subgroup" not in kw else data["sub"].to_numpy(),
                rvars=data[kw["rvars"]].to_numpy())
    np.testing.assert_array_equal(arr, V)


def test_vcalc_rvars_bad_input() -> None:
    data = pd.DataFrame(rvars_case()["layout"])
    with pytest.raises(InputError, match="largest cluster has 4 rows"):
        vcalc("vi", "study", data=data, rvars=["r1", "r2", "r3", "r4", "r4"])
    with pytest.raises(InputError, match="cluster 3 has 4 rows but rvars only 2"):
        vcalc("vi", "study", data=data, rvars=["r1", "r2"])
    with pytest.raises(InputError, match="cluster.subgroup 3.1 has 4 rows"):
        vcalc("vi", "study", data=data, rvars=["r1", "r2"], subgroup=[1] * 7)
    holed = data.copy()
    holed.loc[5, "r2"] = np.nan
    with pytest.raises(InputError, match="row 6, field 'rvars': missing value in column 2"):
        vcalc("vi", "study", data=holed, rvars=["r1", "r2", "r3", "r4"])
    with pytest.raises(InputError, match="replaces \\['rho'\\]"):
        vcalc("vi", "study", data=data, rvars=["r1", "r2", "r3", "r4"], rho=0.5)
    with pytest.raises(InputError, match="no column"):
        vcalc("vi", "study", data=data, rvars=["r1", "r9"])
    with pytest.raises(InputError, match="expected 7 rows"):
        vcalc("vi", "study", data=data, rvars=np.ones((3, 4)))


# ----------------------------------------------------------------------------- profiles

@cache
def profile_case() -> dict[str, Any]:
    case: dict[str, Any] = json.loads((DATA / "mv_profile.json").read_text())
    assert case["versions"]["metafor"] == "3.8.1"
    return case


def three_level(**kw: Any) -> Any:
    return multivariate("yi", "vi", random="~ 1 | district/school", data=kon(), **kw)


@pytest.mark.parametrize("key, fit, component, kw", [
    ("three_sigma2_1", lambda: three_level(mods="x"), "sigma2.1", {"steps": 7}),
    ("three_sigma2_2", lambda: three_level(mods="x"), "sigma2.2",
     {"steps": 5, "xlim": (0, 0.08)}),
    ("three_fixed_sigma2_1", lambda: three_level(sigma2=[None, 0.03]), None, {"steps": 5}),
    ("un_rho", lambda: berkey(struct="UN"), "rho", {"steps": 6}),
    ("un_tau2_2", lambda: berkey(struct="UN"), "tau2.2", {"steps": 5, "xlim": (0, 0.05)}),
    ("un_ml_tau2_1", lambda: berkey(struct="UN", method="ML"), "tau2.1", {"steps": 5}),
    ("three_sigma2_1", lambda: multilevel("yi", "vi", groups=["district", "school"],
                                          data=kon(), mods="x"), "sigma2.1", {"steps": 7}),
    ("three_sigma2_2", lambda: multilevel("yi", "vi", groups=["district", "school"],
                                          data=kon(), mods="x"), "sigma2.2",
     {"steps": 5, "xlim": (0, 0.08)}),
])
def test_component_profile_matches_metafor(key: str, fit: Any, component: str | None,
                                           kw: dict[str, Any]) -> None:
    """metafor ``profile.rma.mv``: its default range (from the fitted value, which metafor's
    default tolerance gives to about 1e-5), and the log-likelihoods and coefficients on its
    own grid; the three-level model also as an ``mv.multilevel`` fit."""
    ref = profile_case()[key]
    res = fit()
    prof = likelihood_profile(res, component=component, **kw)
    name = prof.parameter
    assert_close(prof.table[name].to_numpy(), ref["x"], "grid", rtol=1e-4, atol=1e-7)
    assert_close(prof.value_hat, ref["vc"], "vc", rtol=1e-4, atol=1e-7)
    assert_close(prof.ll_max, ref["maxll"], "maxll", rtol=1e-5, atol=1e-5)
    on_grid = likelihood_profile(res, component=component, steps=len(ref["x"]),
                                 xlim=(ref["x"][0], ref["x"][-1])).table
    assert_close(on_grid["ll"].to_numpy(), ref["ll"], "ll", rtol=1e-5, atol=1e-5)
    terms = list(res.terms)
    beta = on_grid[terms[0] if len(terms) > 1 else "estimate"].to_numpy()
    assert_close(beta, np.asarray(ref["beta"])[:, 0], "beta", rtol=1e-4, atol=1e-6)
    lower = on_grid[f"{terms[0]}_ci_lower" if len(terms) > 1 else "ci_lower"].to_numpy()
    assert_close(lower, np.asarray(ref["ci.lb"])[:, 0], "ci.lb", rtol=1e-4, atol=1e-6)
    assert name in prof.summary()


def test_component_profile_bad_input() -> None:
    res = three_level()
    with pytest.raises(InputError, match="name one of \\['sigma2.1', 'sigma2.2'\\]"):
        likelihood_profile(res)
    with pytest.raises(InputError, match="'tau2' is not an estimated parameter"):
        likelihood_profile(res, component="tau2")
    with pytest.raises(InputError, match="sigma2.2' is not an estimated"):
        likelihood_profile(three_level(sigma2=[None, 0.03]), component="sigma2.2")
    with pytest.raises(InputError, match="no estimated variance component"):
        likelihood_profile(three_level(sigma2=[0.05, 0.03]))
    with pytest.raises(InputError, match="ranges over \\[-1, 1\\]"):
        likelihood_profile(berkey(struct="UN"), component="rho", xlim=(0, 1.5))
    with pytest.raises(InputError, match="steps"):
        likelihood_profile(res, component="sigma2.1", steps=1)


def test_component_profile_plot() -> None:
    """The plot draws the profile against the component, labelled with its symbol."""
    from metaverdict.report.plots.profile import parameter_label, profile_plot

    prof = likelihood_profile(berkey(struct="UN"), component="rho", steps=4)
    fig = profile_plot(prof)
    ax = fig.axes[0]
    line = next(ln for ln in ax.get_lines() if ln.get_gid() == "profile-line")
    np.testing.assert_allclose(line.get_xdata(), prof.table["rho"])
    assert ax.get_xlabel() == "\u03c1"
    assert parameter_label("sigma2.2") == "\u03c3\u00b2 (2)"


def test_given_dfs() -> None:
    """metafor 5's numeric ``dfs``: each coefficient's t test and CI on the given df (t from
    SciPy here); one number for all; the omnibus F on the smallest of its coefficients."""
    res = multivariate("yi", "vi", mods="x", random="~ 1 | district/school", data=kon(),
                       dfs=[8, 40])
    co = res.coefficients
    assert res.test == "t" and res.dfs == "given"
    np.testing.assert_array_equal(res.ddf, [8.0, 40.0])
    np.testing.assert_allclose(co["pvalue"], 2 * stats.t.sf(np.abs(co["statistic"]), [8, 40]),
                               rtol=1e-12)
    np.testing.assert_allclose(co["ci_upper"] - co["estimate"],
                               stats.t.ppf(0.975, [8, 40]) * co["se"], rtol=1e-12)
    assert res.qm_df == (1, 40.0)
    one = multivariate("yi", "vi", mods="x", random="~ 1 | district/school", data=kon(),
                       dfs=12)
    np.testing.assert_array_equal(one.ddf, [12.0, 12.0])
    prof = likelihood_profile(res, component="sigma2.1", steps=3)
    assert np.isfinite(prof.table["ll"]).all()
    for bad, message in (([8, 40, 3], "3 values for the 2"), ([0, 5], "positive"),
                         ("many", "dfs")):
        with pytest.raises(InputError, match=message):
            multivariate("yi", "vi", mods="x", random="~ 1 | district/school", data=kon(),
                         dfs=bad)


def test_car_correlation_held_at_zero() -> None:
    """A CAR correlation of 0 (lag 0 gives 0^0 = 1; it gave NaN before) fits as metafor's,
    and the default profile of rho, which starts at 0 for small estimates, is finite.
    (SIMULATED longitudinal data, tests/data/rma_mv/generate.R.)"""
    long = pd.DataFrame(json.loads((DATA / "longitudinal_simulated.json").read_text())["data"])
    res = multivariate("yi", "vi", mods="C(time) - 1", random="~ months | study",
                       struct="CAR", data=long, rho=0)
    check_all(res, load()["car_rho0"])
    free = multivariate("yi", "vi", mods="C(time) - 1", random="~ months | study",
                        struct="CAR", data=long)
    prof = likelihood_profile(free, component="rho", steps=3, xlim=(0, 0.9))
    assert np.isfinite(prof.table["ll"]).all()
    assert prof.table["ll"].iloc[0] == pytest.approx(res.fit_statistics.ll_reml, abs=1e-6)


def test_held_correlations_must_be_admissible() -> None:
    """Held CS correlations that make the correlation matrix indefinite (3 inner levels,
    rho = -0.9 < -1/2) are refused, whether or not tau² is held too (metafor: not positive
    definite)."""
    long = pd.DataFrame(json.loads((DATA / "longitudinal_simulated.json").read_text())["data"])
    for kw in ({"tau2": 0.5, "rho": -0.9}, {"rho": -0.9}):
        with pytest.raises(InputError, match="not positive semi-definite"):
            multivariate("yi", "vi", mods="C(time) - 1", random="~ time | study",
                         struct="CS", data=long, **kw)
