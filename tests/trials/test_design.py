"""Sample size and power of a two-arm parallel trial (metaverdict.trials.design).

Independent checks:

* Cohen (1988) table 2.4.1: d = 0.5, alpha = 0.05 two-sided, power 0.80 -> 64 per group (t test);
  the normal-approximation closed form gives 2 (1.959964 + 0.841621)^2 / 0.25 = 62.791 -> 63.
* statsmodels ``TTestIndPower`` (its own noncentral-t power and root finder) over a grid of
  effect sizes, ratios, alphas and powers (skipped when statsmodels is not installed).
* The repeated-measures variance factors against the quadratic forms of the compound-symmetry
  covariance matrix, and the resulting power against a seeded simulation of the trial.
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from metaverdict.errors import InputError
from metaverdict.trials.design import PowerAnalysis, power, sample_size, variance_factor

# -- textbook cases ---------------------------------------------------------------------------

def test_cohen_half_sd_is_64_per_arm_by_t_test() -> None:
    res = sample_size(delta=0.5, sd=1.0, alpha=0.05, power=0.8)
    assert (res.n1, res.n2, res.n1_enrolled, res.n2_enrolled) == (64, 64, 64, 64)
    assert res.total == 128 and res.total_enrolled == 128
    assert res.power >= 0.8 and res.solved_for == "n" and res.method == "t"
    assert res.n1_exact == pytest.approx(63.76561, abs=1e-5)       # statsmodels, pwr.t.test
    assert power(0.5, 1.0, 63).power < 0.8 <= power(0.5, 1.0, 64).power
    assert power(0.5, 1.0, 64).power == pytest.approx(0.8014596, abs=1e-7)


def test_cohen_half_sd_is_63_per_arm_by_normal_approximation() -> None:
    res = sample_size(delta=0.5, sd=1.0, method="normal")
    z = 1.959963984540054 + 0.8416212335729143                      # z_.975 + z_.80 (tables)
    assert res.n1_exact == pytest.approx(2 * z**2 / 0.25, rel=1e-12)
    assert res.n1_exact == pytest.approx(62.79104, abs=1e-5)
    assert (res.n1, res.n2) == (63, 63)
    assert res.df is None and res.critical_value == pytest.approx(1.959963984540054)


def test_units_only_through_delta_over_sd() -> None:
    a = sample_size(delta=1.0, sd=2.0)            # a 1-point difference on a 0-10 VAS, SD 2
    b = sample_size(delta=-0.5, sd=1.0)           # the sign does not matter
    assert (a.n1, a.n2) == (b.n1, b.n2) == (64, 64)
    assert a.n1_exact == pytest.approx(b.n1_exact, rel=1e-12)


def test_unequal_allocation_normal_formula() -> None:
    # n1 = (1 + 1/k)(z_a + z_b)^2 sd^2 / delta^2 with k = 2, delta = 0.4, sd = 1, power 0.9
    z = 1.959963984540054 + 1.2815515655446004
    res = sample_size(delta=0.4, sd=1.0, power=0.9, ratio=2, method="normal")
    assert res.n1_exact == pytest.approx(1.5 * z**2 / 0.16, rel=1e-12)
    assert res.n1 == math.ceil(res.n1_exact) and res.n2 == math.ceil(2 * res.n1)


# -- statsmodels ------------------------------------------------------------------------------

GRID = [(d, k, a, p) for d in (0.2, 0.5, 0.8, 1.3) for k in (0.5, 1.0, 2.0, 3.0)
        for a in (0.01, 0.05) for p in (0.8, 0.9)]


@pytest.fixture(scope="module")
def ttest_ind_power():
    mod = pytest.importorskip("statsmodels.stats.power",
                              reason="statsmodels not installed (pip install -e '.[bench]')")
    return mod.TTestIndPower()


@pytest.mark.parametrize("d, k, alpha, target", GRID)
def test_matches_statsmodels(ttest_ind_power, d: float, k: float, alpha: float,
                             target: float) -> None:
    res = sample_size(delta=d, sd=1.0, alpha=alpha, power=target, ratio=k)
    ref = float(ttest_ind_power.solve_power(effect_size=d, alpha=alpha, power=target, ratio=k))
    assert res.n1_exact == pytest.approx(ref, rel=1e-6)
    for n1, n2 in ((res.n1, res.n2), (17, 29)):
        sm = ttest_ind_power.power(effect_size=d, nobs1=n1, alpha=alpha, ratio=n2 / n1)
        assert power(d, 1.0, n1, n2, alpha=alpha).power == pytest.approx(sm, rel=1e-9)


# -- the integer answer -----------------------------------------------------------------------

@pytest.mark.parametrize("method", ["t", "normal"])
@pytest.mark.parametrize("d, k, target", [(0.5, 1.0, 0.8), (0.3, 0.5, 0.9), (1.1, 2.0, 0.85),
                                          (0.7, 1.5, 0.8), (0.25, 0.7, 0.95), (2.5, 1.0, 0.8)])
def test_smallest_whole_n1_reaching_the_target(method: str, d: float, k: float,
                                               target: float) -> None:
    res = sample_size(delta=d, sd=1.0, power=target, ratio=k, method=method)
    assert res.n2 == max(2, math.ceil(k * res.n1 - 1e-9))
    assert res.power >= target
    assert power(d, 1.0, res.n1, res.n2, method=method).power == pytest.approx(res.power)
    if res.n1 > 2:
        m1 = res.n1 - 1
        below = power(d, 1.0, m1, max(2, math.ceil(k * m1 - 1e-9)), method=method).power
        assert below < target


@pytest.mark.parametrize("delta", [10.0, 20.0, 100.0])
def test_huge_effect_gives_the_smallest_design(delta: float) -> None:
    # SciPy's nct.cdf is NaN at df = 1, nc = 8.66: the lower tail is taken as sf at -nc
    res = sample_size(delta=delta, sd=1.0)
    assert (res.n1, res.n2) == (2, 2) and res.power >= 0.8 and math.isfinite(res.power)


@pytest.mark.parametrize("dropout", [0.1, 0.15, 0.2, 0.33])
def test_dropout_inflation_and_round_trip(dropout: float) -> None:
    res = sample_size(delta=0.5, sd=1.0, dropout=dropout, ratio=2)
    base = sample_size(delta=0.5, sd=1.0, ratio=2)
    assert (res.n1, res.n2) == (base.n1, base.n2)
    assert res.n1_enrolled == math.ceil(base.n1 / (1 - dropout) - 1e-9)
    assert res.n2_enrolled == math.ceil(base.n2 / (1 - dropout) - 1e-9)
    again = power(0.5, 1.0, res.n1_enrolled, res.n2_enrolled, dropout=dropout)
    assert again.power >= 0.8
    assert again.n1 == pytest.approx(res.n1_enrolled * (1 - dropout))


def test_dropout_textbook() -> None:
    assert sample_size(delta=0.5, sd=1.0, dropout=0.2).n1_enrolled == 80     # 64 / 0.8


def test_power_default_n2_from_ratio_and_given_n2_sets_ratio() -> None:
    res = power(0.5, 1.0, 30, ratio=2)
    assert (res.n1_enrolled, res.n2_enrolled) == (30, 60)
    res = power(0.5, 1.0, 30, 45)
    assert res.ratio == pytest.approx(1.5) and res.n2 == 45


def test_power_at_zero_difference_is_alpha() -> None:
    assert power(0.0, 1.0, 40, alpha=0.05).power == pytest.approx(0.05, abs=1e-12)


# -- repeated measures ------------------------------------------------------------------------

def _cs(m: int, rho: float, r: float) -> np.ndarray:
    """Covariance (SD 1) of (baseline, visit 1..m): rho among visits, r with the baseline."""
    s = np.full((m + 1, m + 1), rho)
    s[0, :] = s[:, 0] = r
    np.fill_diagonal(s, 1.0)
    return s


@pytest.mark.parametrize("m, rho, r", [(1, 0.0, 0.6), (2, 0.3, 0.5), (4, 0.5, 0.5),
                                       (6, 0.7, 0.4), (3, -0.2, 0.1), (5, 0.9, 0.9)])
def test_variance_factors_equal_the_matrix_quadratic_forms(m: int, rho: float, r: float) -> None:
    s = _cs(m, rho, r)
    assert np.all(np.linalg.eigvalsh(s) > 0)
    post = np.r_[0.0, np.full(m, 1.0 / m)]
    change = post - np.r_[1.0, np.zeros(m)]
    var_post = post @ s @ post
    cov_base = post @ s[:, 0]
    assert variance_factor(m, rho) == pytest.approx(var_post, rel=1e-12)
    assert variance_factor(m, rho, r, "change") == pytest.approx(change @ s @ change, rel=1e-12)
    assert variance_factor(m, rho, r, "ancova") == pytest.approx(
        var_post - cov_base**2 / s[0, 0], rel=1e-12)


def test_repeated_measures_equal_a_single_visit_with_the_effective_sd() -> None:
    f = (1 + 3 * 0.5) / 4
    rm = sample_size(delta=1.0, sd=2.0, visits=4, rho=0.5)
    one = sample_size(delta=1.0, sd=2.0 * math.sqrt(f))
    assert rm.variance_factor == pytest.approx(0.625)
    assert (rm.n1, rm.n2) == (one.n1, one.n2) and rm.df == one.df
    assert rm.effective_sd == pytest.approx(2.0 * math.sqrt(f))
    anc = sample_size(delta=1.0, sd=2.0, visits=4, rho=0.5, baseline_correlation=0.5,
                      analysis="ancova")
    assert anc.variance_factor == pytest.approx(0.375)
    assert anc.df == anc.n1 + anc.n2 - 3                             # baseline slope
    assert anc.n1 < rm.n1 < sample_size(delta=1.0, sd=2.0).n1


def test_visits_with_rho_one_add_nothing() -> None:
    assert variance_factor(5, 1.0) == pytest.approx(1.0)
    assert sample_size(0.5, 1.0, visits=5, rho=1.0).n1 == 64


def _simulated_power(n: int, delta: float, m: int, rho: float, r: float | None,
                     reps: int, seed: int) -> float:
    """Seeded simulation: two arms of n, baseline + m visits (compound symmetry, SD 1); the
    test is the pooled t test on the mean of the visits (r None) or ANCOVA on the baseline."""
    from scipy import stats
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(_cs(m, rho, 0.0 if r is None else r))
    z = rng.standard_normal((reps, 2, n, m + 1)) @ chol.T
    base, y = z[..., 0], z[..., 1:].mean(axis=-1)
    y[:, 1] += delta
    if r is None:
        diff = y[:, 1].mean(-1) - y[:, 0].mean(-1)
        s2 = (y.var(axis=-1, ddof=1)).mean(axis=-1)
        t = diff / np.sqrt(s2 * 2 / n)
        df = 2 * n - 2
    else:                                       # pooled within-arm slope, then adjusted diff
        xc = base - base.mean(-1, keepdims=True)
        yc = y - y.mean(-1, keepdims=True)
        sxx, sxy = (xc * xc).sum((-1, -2)), (xc * yc).sum((-1, -2))
        b = sxy / sxx
        dx = base[:, 1].mean(-1) - base[:, 0].mean(-1)
        diff = y[:, 1].mean(-1) - y[:, 0].mean(-1) - b * dx
        resid = yc - b[:, None, None] * xc
        df = 2 * n - 3
        s2 = (resid**2).sum((-1, -2)) / df
        t = diff / np.sqrt(s2 * (2 / n + dx**2 / sxx))
    return float(np.mean(np.abs(t) > stats.t.ppf(0.975, df)))


@pytest.mark.parametrize("delta, m, rho, r, analysis", [(0.6, 3, 0.4, None, "post"),
                                                        (0.5, 4, 0.5, 0.5, "ancova")])
def test_power_agrees_with_simulation(delta: float, m: int, rho: float, r: float | None,
                                      analysis: str) -> None:
    # formula 0.748 and 0.790; 40000 replicates gave 0.747 and 0.785 (ANCOVA: the slope's
    # small-sample variance inflation, not modelled, costs about 0.005)
    reps = 4000
    n = 24
    want = power(delta, 1.0, n, visits=m, rho=rho, baseline_correlation=r, analysis=analysis)
    got = _simulated_power(n, delta, m, rho, r, reps, seed=20180401)
    se = math.sqrt(want.power * (1 - want.power) / reps)
    assert abs(got - want.power) < 4 * se + 0.01, (got, want.power)


# -- results ----------------------------------------------------------------------------------

def test_result_is_frozen_and_serialises() -> None:
    res = sample_size(delta=1.0, sd=2.0, dropout=0.1, visits=3, rho=0.3,
                      baseline_correlation=0.4, analysis="change")
    assert isinstance(res, PowerAnalysis)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.n1 = 3                                               # type: ignore[misc]
    d = json.loads(json.dumps(res.to_dict()))
    assert {"n1", "n2", "n1_enrolled", "n2_enrolled", "power", "target_power", "delta", "sd",
            "alpha", "ratio", "dropout", "variance_factor", "analysis", "total",
            "total_enrolled", "df", "noncentrality"} <= set(d)
    assert d["n1_enrolled"] == res.n1_enrolled and d["analysis"] == "change"
    text = res.summary()
    assert "sample size" in text and "enrolled" in text and "change" in text
    assert str(res.n1_enrolled) in text and f"{res.power:.4f}" in text
    assert repr(res).startswith("PowerAnalysis(solved_for='n'")
    assert "power" in power(1.0, 2.0, 20).summary().splitlines()[0]


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, field", [
    (dict(delta=0.0, sd=1.0), "delta"),
    (dict(delta="big", sd=1.0), "delta"),
    (dict(delta=float("nan"), sd=1.0), "delta"),
    (dict(delta=0.5, sd=0.0), "sd"),
    (dict(delta=0.5, sd=-1.0), "sd"),
    (dict(delta=0.5, sd=1.0, alpha=0.0), "alpha"),
    (dict(delta=0.5, sd=1.0, alpha=1.2), "alpha"),
    (dict(delta=0.5, sd=1.0, power=1.0), "power"),
    (dict(delta=0.5, sd=1.0, power=0.0), "power"),
    (dict(delta=0.5, sd=1.0, ratio=0.0), "ratio"),
    (dict(delta=0.5, sd=1.0, dropout=1.0), "dropout"),
    (dict(delta=0.5, sd=1.0, dropout=-0.1), "dropout"),
    (dict(delta=0.5, sd=1.0, method="z"), "method"),
    (dict(delta=0.5, sd=1.0, visits=0), "visits"),
    (dict(delta=0.5, sd=1.0, visits=2.5), "visits"),
    (dict(delta=0.5, sd=1.0, visits=3, rho=-0.6), "rho"),
    (dict(delta=0.5, sd=1.0, visits=3, rho=1.1), "rho"),
    (dict(delta=0.5, sd=1.0, analysis="ancova"), "baseline_correlation"),
    (dict(delta=0.5, sd=1.0, baseline_correlation=0.5), "baseline_correlation"),
    (dict(delta=0.5, sd=1.0, analysis="change", baseline_correlation=1.5),
     "baseline_correlation"),
    (dict(delta=0.5, sd=1.0, visits=4, rho=0.1, baseline_correlation=0.9, analysis="ancova"),
     "baseline_correlation"),
    (dict(delta=0.5, sd=1.0, analysis="mixed"), "analysis"),
    (dict(delta=1e-9, sd=1.0), "delta"),
])
def test_sample_size_bad_input_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError, match=rf"^{field}:"):
        sample_size(**kwargs)


@pytest.mark.parametrize("args, kwargs, field", [
    ((0.5, 1.0, 0), {}, "n1"),
    ((0.5, 1.0, 10.5), {}, "n1"),
    ((0.5, 1.0, True), {}, "n1"),
    ((0.5, 1.0, 10, 0), {}, "n2"),
    ((0.5, 1.0, 1, 1), {}, "n1"),
    ((0.5, 1.0, 2, 2), {"dropout": 0.5}, "n1"),
])
def test_power_bad_input_names_the_field(args: tuple, kwargs: dict, field: str) -> None:
    with pytest.raises(InputError, match=rf"^{field}:"):
        power(*args, **kwargs)
