"""The weighted chi-squared distribution (Imhof inversion) and the generalised Q estimator and
CI built on it, against independent computations: the chi-squared distribution (equal
weights), the closed form of a sum of exponentials (each weight twice: lambda chi2_2 is an
exponential with mean 2 lambda), Ruben's (1962) series, and the equal-variance case where
GENQM is the median-unbiased Paule-Mandel estimator and the generalised Q-profile CI is the
Q-profile CI. Parity with metafor 5.0-1 (CompQuadForm's farebrother, to 1e-9 in tau²) is in
tests/models/test_parity_univariate.py."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

import metaverdict as mv
from metaverdict.models.quadform import weighted_chi2_sf


def _exponential_sum_sf(x: float, lam: np.ndarray) -> float:
    """Pr(sum_j lam_j chi2_2 > x) for distinct lam_j: sum_j prod_{i != j} lam_j / (lam_j -
    lam_i) exp(-x / (2 lam_j)) (hypoexponential distribution)."""
    return float(sum(np.prod([lj / (lj - li) for i, li in enumerate(lam) if i != j])
                     * np.exp(-x / (2 * lj)) for j, lj in enumerate(lam)))


def _ruben_sf(x: float, lam: np.ndarray, terms: int = 2000) -> float:
    """Ruben (1962): Pr(Q <= x) = sum_k c_k Pr(chi2_{n+2k} <= x / b) with b = min lam, c_0 =
    prod sqrt(b / lam_j), c_k = (1/k) sum_{r<k} g_{k-r} c_r, g_m = 1/2 sum_j (1 - b/lam_j)^m;
    all c_k >= 0 and sum to 1, so 1 - sum c_k bounds the truncation error."""
    b, n = float(lam.min()), lam.size
    ratio = 1 - b / lam
    g = 0.5 * np.array([np.sum(ratio ** m) for m in range(terms)])
    c = np.zeros(terms)
    c[0] = np.prod(np.sqrt(b / lam))
    for k in range(1, terms):
        c[k] = np.dot(g[k:0:-1], c[:k]) / k
    assert 1 - c.sum() < 1e-13
    cdf = special.gammainc((n + 2 * np.arange(terms)) / 2, x / (2 * b))
    return float(1 - np.dot(c, cdf))


@pytest.mark.parametrize("df", [1, 2, 5, 30])
@pytest.mark.parametrize("scale", [1e-6, 1.0, 250.0])
def test_equal_weights_give_the_chi_squared_distribution(df: int, scale: float) -> None:
    for q in stats.chi2.ppf([1e-6, 0.025, 0.5, 0.975, 1 - 1e-9], df):
        assert weighted_chi2_sf(q * scale, [scale] * df) == pytest.approx(
            stats.chi2.sf(q, df), abs=1e-12)


@pytest.mark.parametrize("lam", [[1.0, 3.0], [0.5, 2.0, 9.0], [1.0, 40.0, 1000.0]])
def test_paired_weights_give_a_sum_of_exponentials(lam: list[float]) -> None:
    lam_arr = np.asarray(lam)
    for x in np.array([0.05, 0.5, 2.0, 8.0, 30.0]) * lam_arr.sum():
        assert weighted_chi2_sf(x, np.repeat(lam_arr, 2)) == pytest.approx(
            _exponential_sum_sf(x, lam_arr), abs=1e-11)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_odd_degrees_of_freedom_match_rubens_series(seed: int) -> None:
    lam = np.random.default_rng(seed).uniform(0.2, 2.0, size=2 * seed + 1)
    for x in np.array([0.1, 0.7, 1.5, 4.0]) * lam.sum():
        assert weighted_chi2_sf(x, lam) == pytest.approx(_ruben_sf(x, lam), abs=1e-11)


def test_bad_input() -> None:
    with pytest.raises(mv.InputError, match="weights"):
        weighted_chi2_sf(1.0, [1.0, -1.0])
    with pytest.raises(mv.InputError, match="weights"):
        weighted_chi2_sf(1.0, [])
    with pytest.raises(mv.InputError, match="'x'"):
        weighted_chi2_sf(float("nan"), [1.0])
    assert weighted_chi2_sf(0.0, [1.0]) == 1.0


YI = np.array([0.12, 0.53, -0.21, 0.88, 0.35, 0.61, -0.05])


def test_equal_variances_genqm_is_median_unbiased_paule_mandel() -> None:
    # with v_i = v all eigenvalues are (v + tau2) / v: Q / ((v + tau2)/v) = median of chi2_{k-1}
    vi = np.full(YI.size, 0.04)
    genqm = mv.meta_analysis(YI, vi, method="GENQM", weights=1 / vi)
    pmm = mv.meta_analysis(YI, vi, method="PMM")
    assert genqm.tau2 == pytest.approx(pmm.tau2, rel=1e-9)
    assert genqm.tau2 > 0
    ours = mv.meta_analysis(YI, vi, method="GENQ").heterogeneity_ci().tau2
    qp = pmm.heterogeneity_ci().tau2
    assert (ours.ci_lower, ours.ci_upper) == pytest.approx((qp.ci_lower, qp.ci_upper), rel=1e-9)


def test_genqm_is_zero_below_the_median() -> None:
    vi = np.full(YI.size, 10.0)      # Q far below the median of chi2_6 at tau2 = 0
    res = mv.meta_analysis(YI, vi, method="GENQM", weights=1 / vi)
    assert res.tau2 == 0
    ci = res.heterogeneity_ci()
    assert ci.tau2.ci_lower == 0 and ci.tau2.ci_upper >= 0
