"""Conversions: hand-derived values, published constants (Wan et al. 2014, Tables 1-2) and bad
input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from metaverdict.effects import (
    MeanSD,
    mean_sd_from_median,
    pooled_sd,
    sd_from_se,
    se_from_ci,
    se_from_pvalue,
    variance_from_ci,
)
from metaverdict.effects.conversions import _eta, _xi
from metaverdict.errors import InputError

Z975 = 1.959963984540054


def test_se_from_ci_hand() -> None:
    assert se_from_ci(1.0, 3.0) == pytest.approx(2 / (2 * Z975), rel=1e-12)
    assert variance_from_ci(1.0, 3.0) == pytest.approx((1 / Z975) ** 2, rel=1e-12)
    assert se_from_ci(1.0, 3.0, level=0.90) == pytest.approx(1 / 1.6448536269514722, rel=1e-12)
    # odds ratio 1.0 (95% CI 0.5 to 2.0): SE of the log OR = ln(4) / (2 * 1.96)
    assert se_from_ci(0.5, 2.0, log_scale=True) == pytest.approx(math.log(4) / (2 * Z975),
                                                                 rel=1e-12)
    out = se_from_ci([1.0, 0.0], [3.0, 1.0])
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    assert out[1] == pytest.approx(1 / (2 * Z975))


def test_se_from_pvalue_hand() -> None:
    p = 2 * norm.sf(1.96)  # z = 1.96 exactly
    assert se_from_pvalue(0.98, p) == pytest.approx(0.5, rel=1e-10)
    assert se_from_pvalue(-0.98, p / 2, two_sided=False) == pytest.approx(0.5, rel=1e-10)
    # round trip: CI of an estimate 0.4 with SE 0.2 gives back SE 0.2
    assert se_from_ci(0.4 - Z975 * 0.2, 0.4 + Z975 * 0.2) == pytest.approx(0.2, rel=1e-12)


def test_sd_from_se_and_pooled_sd_hand() -> None:
    assert sd_from_se(2.0, 25) == pytest.approx(10.0)
    assert np.allclose(sd_from_se([1.0, 2.0], 16), [4.0, 8.0])
    assert pooled_sd(3.0, 10, 3.0, 30) == pytest.approx(3.0)
    assert pooled_sd(1.0, 11, 2.0, 21) == pytest.approx(math.sqrt((10 * 1 + 20 * 4) / 30))


def test_wan_constants_match_published_tables() -> None:
    # Wan et al. (2014), Table 1: xi(2) = 1.128, xi(10) = 3.078, xi(25) = 3.931, xi(50) = 4.498
    assert (np.round(_xi(np.array([2.0, 10.0, 25.0, 50.0])), 3).tolist()
            == [1.128, 3.078, 3.931, 4.498])
    # beyond n = 50 the closed form 2 Phi^-1((n - 0.375)/(n + 0.25))
    assert _xi(np.array([51.0]))[0] == pytest.approx(2 * norm.ppf(50.625 / 51.25))
    # Table 2 / expected normal order statistics of n = 5 (Q = 1): 2 * 0.4950 = 0.990
    assert round(float(_eta(np.array([5.0]))[0]), 3) == 0.990
    assert _eta(np.array([1000.0]))[0] == pytest.approx(2 * norm.ppf(749.875 / 1000.25))
    assert _eta(np.array([1e6]))[0] == pytest.approx(2 * norm.ppf(0.75), rel=1e-5)  # IQR/1.349


@pytest.mark.parametrize("method", ["luo", "wan", "shi"])
def test_symmetric_summary_mean_is_median(method: str) -> None:
    for kw in (dict(minimum=0.0, maximum=10.0), dict(q1=3.0, q3=7.0),
               dict(minimum=0.0, q1=3.0, q3=7.0, maximum=10.0)):
        res = mean_sd_from_median(5.0, n=40, method=method, **kw)
        assert isinstance(res, MeanSD)
        assert res.mean == pytest.approx(5.0, rel=1e-12)
        assert res.sd > 0


def test_scenarios_by_hand() -> None:
    s1 = mean_sd_from_median(4.0, minimum=1.0, maximum=13.0, n=10, method="wan")
    assert s1.scenario == "S1" and s1.mean == pytest.approx((1 + 8 + 13) / 4)
    assert s1.sd == pytest.approx(12 / 3.0775, rel=1e-4)
    s1l = mean_sd_from_median(4.0, minimum=1.0, maximum=13.0, n=16)
    w = 4 / (4 + 16**0.75)  # 4 / 12 = 1/3
    assert s1l.mean == pytest.approx(w * 7 + (1 - w) * 4) and s1l.mean == pytest.approx(5.0)
    s2 = mean_sd_from_median(4.0, q1=2.0, q3=10.0, n=100)
    assert s2.mean == pytest.approx((0.7 + 0.0039) * 6 + (0.3 - 0.0039) * 4)
    assert (mean_sd_from_median(4.0, q1=2.0, q3=10.0, n=100, method="wan").mean
            == pytest.approx(16 / 3))
    s3 = mean_sd_from_median(4.0, 2.0, 10.0, 0.0, 20.0, n=300, method="shi")
    phi1, phi2 = norm.ppf(299.625 / 300.25), norm.ppf(224.875 / 300.25)
    sd = 20 / ((2 + 0.14 * 300**0.6) * phi1) + 8 / ((2 + 2 / (0.07 * 300**0.6)) * phi2)
    assert s3.scenario == "S3" and s3.sd == pytest.approx(sd, rel=1e-12)
    assert "Shi et al. (2020)" in s3.method and "Luo et al. (2018)" in s3.method
    w1, w2 = 2.2 / (2.2 + 300**0.75), 0.7 - 0.72 / 300**0.55
    assert s3.mean == pytest.approx(w1 * 10 + w2 * 6 + (1 - w1 - w2) * 4)
    s3w = mean_sd_from_median(4.0, 2.0, 10.0, 0.0, 20.0, n=300, method="wan")
    assert s3w.mean == pytest.approx((0 + 4 + 8 + 20 + 20) / 8)
    assert s3w.sd == pytest.approx(0.5 * (20 / (2 * phi1) + 8 / (2 * phi2)), rel=1e-12)


def test_vectorised_median_conversion() -> None:
    res = mean_sd_from_median([5.0, 6.0], q1=[3.0, 4.0], q3=[7.0, 9.0], n=[20, 300])
    assert isinstance(res.mean, np.ndarray) and res.mean.shape == (2,)
    single = mean_sd_from_median(6.0, q1=4.0, q3=9.0, n=300)
    assert res.sd[1] == pytest.approx(single.sd) and res.mean[1] == pytest.approx(single.mean)


@pytest.mark.parametrize("call, parts", [
    (lambda: se_from_ci(3.0, 1.0), ["row 1", "upper", "lower"]),
    (lambda: se_from_ci([1.0, -1.0], [2.0, 2.0], log_scale=True), ["row 2", "lower", "> 0"]),
    (lambda: se_from_ci(1.0, 2.0, level=95), ["level"]),
    (lambda: se_from_ci(np.nan, 2.0), ["row 1", "lower", "finite"]),
    (lambda: se_from_pvalue(0.5, 0.0), ["row 1", "'p'"]),
    (lambda: se_from_pvalue(0.5, 0.7, two_sided=False), ["row 1", "'p'"]),
    (lambda: se_from_pvalue(0.0, 0.05), ["row 1", "estimate"]),
    (lambda: sd_from_se(-1.0, 10), ["row 1", "'se'"]),
    (lambda: sd_from_se([1.0, 1.0, 1.0], [10, 10]), ["mismatched lengths"]),
    (lambda: pooled_sd(1.0, 1, 1.0, 1), ["n1 + n2"]),
    (lambda: pooled_sd(0.0, 10, 1.0, 10), ["row 1", "'sd1'"]),
    (lambda: mean_sd_from_median(5.0, q1=6.0, q3=8.0, n=20), ["row 1", "median", "q1"]),
    (lambda: mean_sd_from_median(5.0, minimum=5.0, maximum=5.0, n=20), ["row 1", "maximum"]),
    (lambda: mean_sd_from_median(5.0, q1=4.0, n=20), ["'q1'", "'q3'"]),
    (lambda: mean_sd_from_median(5.0, n=20), ["quartiles"]),
    (lambda: mean_sd_from_median(5.0, q1=4.0, q3=6.0, n=1), ["row 1", "'n'"]),
    (lambda: mean_sd_from_median(5.0, q1=4.0, q3=6.0, n=10.5), ["row 1", "'n'", "whole"]),
    (lambda: mean_sd_from_median(5.0, q1=4.0, q3=6.0, n=10, method="hozo"), ["method", "'hozo'"]),
])
def test_conversion_bad_input(call, parts: list[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        call()
    for part in parts:
        assert part in str(info.value), (part, str(info.value))


def test_smd_bound_from_p_by_hand() -> None:
    from metaverdict.effects import smd_bound_from_p
    # P = 0.003, 28 vs 34: z_(1 - 0.0015) = 2.967738 (normal table),
    # sqrt(1/28 + 1/34) = sqrt(0.0651261) = 0.255198
    assert smd_bound_from_p(0.003, 28, 34) == pytest.approx(2.967738 * 0.255198, abs=1e-5)
    with pytest.raises(InputError, match="'p'"):
        smd_bound_from_p(0.0, 28, 34)
    with pytest.raises(InputError, match="arm sizes"):
        smd_bound_from_p(0.05, 0, 34)
