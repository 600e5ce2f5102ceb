"""The result of bayesian_meta_analysis as a user meets it: the DESIGN.md names, consistent
densities, CDFs, quantiles and intervals, MCID probabilities, frozen fields, summary() and
to_dict(), and InputError naming the study and field."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

import metaverdict as mv
from metaverdict import InputError
from metaverdict.models.bayes import bayesian_meta_analysis, rhodes_prior

Y = [0.26, -0.04, 0.30, 0.13, 0.47, 0.21]
V = [0.04, 0.02, 0.05, 0.01, 0.09, 0.03]
LABELS = ["Ames", "Berg", "Cole", "Dahl", "Eng", "Fox"]


@pytest.fixture(scope="module")
def post():
    return bayesian_meta_analysis(Y, V, labels=LABELS, tau_prior="half-normal",
                                  tau_scale=0.5, mu_prior=(0.0, 2.0))


def test_design_names(post) -> None:
    table = post.summary_table
    assert list(table.index) == ["tau", "mu", "theta"]
    assert list(table.columns) == ["mode", "median", "mean", "sd", "ci_lower", "ci_upper"]
    assert isinstance(post.quantile("mu", 0.975), float)
    assert isinstance(post.cdf("mu", 0.0), float) and isinstance(post.pdf("tau", 0.3), float)
    assert list(post.shrinkage.index) == LABELS
    assert list(post.shrinkage.columns) == ["y", "sigma", "mode", "median", "mean", "sd",
                                            "ci_lower", "ci_upper"]
    assert post.marginal_likelihood > 0
    bf = post.bayes_factor
    assert all(b > 0 for b in (bf.tau0, bf.mu0, bf.tau0_minimum, bf.mu0_minimum))
    assert 0 <= post.probability_beyond(mcid=0.5, direction="benefit") <= 1
    assert post.estimate == table.loc["mu", "median"]
    assert (post.ci_lower, post.ci_upper) == tuple(table.loc["mu", ["ci_lower", "ci_upper"]])
    assert post.weight_labels == LABELS + ["prior mean"]
    assert post.weights.sum() == pytest.approx(1.0)
    assert np.allclose(post.weights_theta.sum(axis=0), 1.0)


@pytest.mark.parametrize("param, study", [("tau", None), ("mu", None), ("theta", None),
                                          ("theta", "Cole"), ("theta", 4)])
def test_cdf_quantile_and_density_agree(post, param: str, study) -> None:
    p = np.array([0.01, 0.1, 0.5, 0.9, 0.99])
    q = post.quantile(param, p, study=study)
    np.testing.assert_allclose(post.cdf(param, q, study=study), p, rtol=1e-10, atol=1e-12)
    lo, hi = q[1], q[3]
    mass = integrate.quad(lambda x: post.pdf(param, x, study=study), lo, hi, epsabs=1e-13,
                          epsrel=1e-11)[0]
    assert mass == pytest.approx(0.8, abs=1e-9)


@pytest.mark.parametrize("param, study", [("tau", None), ("mu", None), ("theta", None),
                                          ("theta", "Eng")])
def test_shortest_interval(post, param: str, study) -> None:
    short = post.interval(param, 0.9, "shortest", study=study)
    central = post.interval(param, 0.9, "central", study=study)
    assert short.ci_upper - short.ci_lower <= central.ci_upper - central.ci_lower + 1e-12
    inside = post.cdf(param, short.ci_upper, study=study) - post.cdf(param, short.ci_lower,
                                                                    study=study)
    assert inside == pytest.approx(0.9, abs=1e-10)
    if not (param == "tau" and short.ci_lower == 0):
        f_lo = post.pdf(param, short.ci_lower, study=study)
        f_hi = post.pdf(param, short.ci_upper, study=study)
        assert f_lo == pytest.approx(f_hi, rel=1e-7)
    assert short.estimate == post.quantile(param, 0.5, study=study)


def test_mcid_probabilities(post) -> None:
    m = 0.2
    benefit_low = post.probability_beyond(m, "benefit")                # lower is better
    harm_low = post.probability_beyond(m, "harm")
    within = post.probability_within(m)
    assert benefit_low + harm_low + within == pytest.approx(1.0, abs=1e-12)
    assert benefit_low == pytest.approx(post.cdf("mu", -m), abs=1e-14)
    assert harm_low == pytest.approx(1 - post.cdf("mu", m), abs=1e-12)
    assert post.probability_beyond(m, "benefit", lower_is_better=False) == harm_low
    assert post.probability_beyond(m, "greater") == harm_low
    assert post.probability_beyond(-m, "less") == benefit_low
    # a new study's effect and a study's own effect
    assert post.probability_beyond(m, "greater", param="theta") == pytest.approx(
        1 - post.cdf("theta", m), abs=1e-12)
    assert post.probability_within(m, param="theta", study="Dahl") == pytest.approx(
        post.cdf("theta", m, study="Dahl") - post.cdf("theta", -m, study="Dahl"), abs=1e-12)


def test_likelihood_i2_and_joint_density(post) -> None:
    tau = np.array([0.0, 0.1, 0.4])
    assert post.likelihood(tau).shape == (3,)
    s2 = post.typical_vi
    np.testing.assert_allclose(post.i2(tau), tau**2 / (tau**2 + s2))
    # the joint density integrates over mu to the marginal density of tau
    for t in (0.05, 0.3):
        marg = integrate.quad(lambda m: post.pdf_joint(t, m), -5, 5, epsabs=1e-13)[0]
        assert marg == pytest.approx(post.pdf("tau", t), rel=1e-8)


def test_frozen_read_only_and_serialisable(post) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        post.k = 3
    with pytest.raises(ValueError):
        post.weights[0] = 1.0
    d = post.to_dict()
    json.dumps(d)
    assert d["summary_table"]["mu"]["median"] == post.estimate
    assert d["bayes_factor"]["tau0"] == post.bayes_factor.tau0
    assert d["shrinkage"]["study"] == LABELS
    assert d["tail"]["proper"] is True
    text = post.summary()
    for part in ("Bayesian random-effects meta-analysis (k = 6; exact quadrature)",
                 "half-normal(scale=0.5)", "normal(mean=0, sd=2)", "theta (new study)",
                 "Bayes factors", "Cole", "marginal likelihood"):
        assert part in text
    assert "method='exact'" in repr(post)


def test_inputs_like_meta_analysis() -> None:
    frame = pd.DataFrame({"yi": Y, "vi": V}, index=LABELS)
    a = bayesian_meta_analysis("yi", "vi", data=frame, tau_prior="half-cauchy", tau_scale=1)
    b = bayesian_meta_analysis(Y, sei=np.sqrt(V), tau_prior="half-cauchy", tau_scale=1)
    assert a.study_labels == LABELS and b.study_labels == [str(i) for i in range(1, 7)]
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    es = mv.effect_sizes("MD", m1i=[5.0, 6.1, 4.8], sd1i=[2.0, 2.2, 1.9], n1i=[30, 40, 25],
                         m2i=[6.0, 6.5, 5.9], sd2i=[2.1, 2.0, 2.3], n2i=[31, 38, 27])
    c = bayesian_meta_analysis(es, tau_prior=rhodes_prior(), interval="central")
    assert c.interval_type == "central"
    assert c.ci_lower == pytest.approx(c.quantile("mu", 0.025), rel=1e-12)


def test_direct_method_reports_its_grid() -> None:
    d = bayesian_meta_analysis(Y, V, tau_prior="half-normal", tau_scale=0.5, method="direct")
    assert (d.method, d.delta, d.epsilon) == ("direct", 0.01, 1e-4)
    sup = d.support
    assert list(sup.columns) == ["tau", "weight", "mean", "sd", "sd_pred"]
    assert sup["tau"].iloc[0] == 0 and sup["tau"].is_monotonic_increasing
    assert "DIRECT grid, delta = 0.01" in d.summary()


@pytest.mark.parametrize("kwargs, match", [
    ({"vi": [0.04, 0.02, -0.05, 0.01, 0.09, 0.03]}, r"study 'Cole', field 'vi'"),
    ({"yi": [0.26, -0.04, float("nan"), 0.13, 0.47, 0.21]}, r"study 'Cole', field 'yi'"),
    ({"yi": [0.26, "x", 0.30, 0.13, 0.47, 0.21]}, r"study 'Berg', field 'yi'"),
    ({"vi": [0.04, 0.02]}, "mismatched lengths"),
    ({"tau_prior": "half-normal"}, "tau_scale"),
    ({"mu_prior": (0, 0)}, "mu_prior"),
    ({"level": 95}, "level"),
    ({"interval": "widest"}, "interval"),
    ({"method": "mcmc"}, "method"),
    ({"method": "direct", "delta": 0.0}, "delta"),
    ({"yi": Y[:2], "vi": V[:2], "labels": LABELS[:2]}, r"improper.*k = 2"),
])
def test_bad_input(kwargs: dict, match: str) -> None:
    args = {"yi": Y, "vi": V, "labels": LABELS}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        bayesian_meta_analysis(**args)


def test_bad_queries(post) -> None:
    with pytest.raises(InputError, match="study"):
        post.cdf("theta", 0.1, study="Zed")
    with pytest.raises(InputError, match="param='theta'"):
        post.cdf("mu", 0.1, study="Cole")
    with pytest.raises(InputError, match="param"):
        post.cdf("sigma", 0.1)
    with pytest.raises(InputError, match="'p'"):
        post.quantile("mu", 1.5)
    with pytest.raises(InputError, match="magnitude"):
        post.probability_beyond(-0.2, "benefit")
    with pytest.raises(InputError, match="direction"):
        post.probability_beyond(0.2, "sideways")
    with pytest.raises(InputError, match="tau"):
        post.likelihood(-1.0)


def test_moments_that_do_not_exist_are_nan() -> None:
    res = bayesian_meta_analysis(Y[:3], V[:3])             # k = 3, uniform priors: a = 2
    table = res.summary_table
    assert math.isnan(table.loc["tau", "mean"]) and math.isnan(table.loc["tau", "sd"])
    assert math.isnan(table.loc["mu", "sd"]) and math.isnan(table.loc["theta", "sd"])
    assert math.isfinite(table.loc["mu", "mean"]) and math.isfinite(res.ci_upper)
    assert math.isnan(res.marginal_likelihood)
    assert res.marginal_likelihood_reason == "improper effect prior"


def test_mcid_probabilities_are_fields() -> None:
    post = bayesian_meta_analysis(Y, V, tau_prior="half-normal", tau_scale=0.5, mcid=0.1,
                                  lower_is_better=False)
    assert post.prob_benefit == post.probability_beyond(0.1, "greater")
    assert post.prob_harm == post.probability_beyond(-0.1, "less")
    assert post.prob_benefit + post.prob_harm + post.prob_within == pytest.approx(1.0)
    assert post.to_dict()["prob_benefit"] == post.prob_benefit
    assert "P(benefit beyond the MCID)" in post.summary()
    plain = bayesian_meta_analysis(Y, V, tau_prior="half-normal", tau_scale=0.5)
    assert plain.mcid is None and math.isnan(plain.prob_benefit)
    with pytest.raises(InputError, match="mcid"):
        bayesian_meta_analysis(Y, V, tau_prior="half-normal", tau_scale=0.5, mcid=-1)
