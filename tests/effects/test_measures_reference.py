"""Every escalc measure and vtype against R: metafor 3.8-1's escalc on small data sets
(tests/data/escalc/escalc_reference.json, written by escalc_reference.R beside it), and, for
the measures and vtypes metafor 3.8-1 lacks or whose formula changed in metafor 5, independent
hand computations from the defining formula (paper and equation named in each test)."""
from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from metaverdict.effects import MEASURES, effect_sizes
from metaverdict.errors import InputError

from conftest import assert_close

REFERENCE = Path(__file__).parents[1] / "data" / "escalc" / "escalc_reference.json"
#: Measures whose metafor 5.0-1 formula differs from 3.8-1's (see effect_sizes' ``metafor``).
CHANGED_IN_5 = {"ROM", "ZPCOR", "PCOR", "SMDH", "SMD1H", "SMCRH"}
#: metafor finds RTET by numerical optimisation (optimize, then Nelder-Mead, numerical
#: Hessian); our root of the likelihood equation and analytic information agree to ~3e-5.
RTET_TOL = 1e-4


@cache
def reference() -> dict[str, Any]:
    ref: dict[str, Any] = json.loads(REFERENCE.read_text())
    return ref


def _nan(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _case_id(case: dict[str, Any]) -> str:
    opts = "-".join(f"{k}={v}" for k, v in (case["options"] or {}).items())
    vtype = case["vtype"] if isinstance(case["vtype"], str) else "per-study"
    return "-".join(filter(None, [case["measure"], vtype, case["data"], opts]))


CASES = reference()["cases"]


def _run(case: dict[str, Any], rows: np.ndarray | None = None, **kw: Any) -> Any:
    data = pd.DataFrame({k: _nan(v) for k, v in reference()["data"][case["data"]].items()})
    vtype = case["vtype"]
    if rows is not None:
        data = data.iloc[rows]
        if not isinstance(vtype, str):           # one vtype per study
            assert len(rows) == len(vtype), "per-study vtype cases keep every study"
    return effect_sizes(case["measure"], data=data, vtype=vtype, **case["args"],
                        **(case["options"] or {}), **kw)


def test_reference_versions() -> None:
    versions = reference()["versions"]
    assert versions["metafor"] == "3.8.1" and versions["R"].startswith("R version 4.2")
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_escalc_reference(case: dict[str, Any]) -> None:
    """metafor="3.8" reproduces 3.8-1; the default (5.0) too where the formula is unchanged."""
    yi, vi = _nan(case["yi"]), _nan(case["vi"])
    keep = ~(np.isnan(yi) | np.isnan(vi))
    if not keep.all():          # metafor's NA: we raise, naming the first such study (its label)
        with pytest.raises(InputError, match=rf"study {np.flatnonzero(~keep)[0]}\b"):
            _run(case, metafor="3.8")
    rows = np.flatnonzero(keep)
    tol = dict(rtol=RTET_TOL, atol=RTET_TOL) if case["measure"] == "RTET" else {}
    versions = ["3.8"] if case["measure"] in CHANGED_IN_5 else ["3.8", "5.0"]
    for version in versions:
        es = _run(case, rows, metafor=version)
        assert_close(es.yi, yi[keep], f"{_case_id(case)} {version} yi", **tol)
        assert_close(es.vi, vi[keep], f"{_case_id(case)} {version} vi", **tol)


def test_every_measure_and_vtype_is_checked() -> None:
    """Each (measure, vtype) has an R reference case or a hand computation below."""
    in_r = {(c["measure"], c["vtype"]) for c in CASES if isinstance(c["vtype"], str)}
    by_hand = {(z, v) for z in ("ZPHI", "ZPB") for v in ("LS", "ST", "CS")} | {
        ("ZTET", "LS"), ("ZBIS", "LS"), ("ZSPCOR", "LS"), ("ZSPCOR", "AV"), ("PRZ", "LS"),
        ("OR", "AV"), ("RR", "AV"), ("SMDH", "LS3"), ("SMCRH", "LS2"), ("SMCRP", "LS"),
        ("SMCRPH", "LS"), ("SMCRPH", "LS2"), ("SMCC", "UB"), ("SMCR", "UB"), ("MN", "HO"),
        ("R2", "LS"), ("R2", "LS2"), ("R2", "AV"), ("ZR2", "LS")}
    every = {(code, v) for code, m in MEASURES.items() for v in m.vtypes}
    assert every - in_r - by_hand == set()


def test_per_study_vtypes_are_checked() -> None:
    """Cases with one vtype per study, mixing every vtype of their measure."""
    mixed = {c["measure"]: set(c["vtype"]) for c in CASES if not isinstance(c["vtype"], str)}
    assert set(mixed) == {"RD", "SMD", "MD", "ROM", "COR", "PR"}
    for code, kinds in mixed.items():
        assert kinds == set(MEASURES[code].vtypes), code


# --- transformations of R's values: Fisher's z by the delta method --------------------------------
def _r_case(measure: str, vtype: str = "LS", data: str = "bcg") -> dict[str, Any]:
    return next(c for c in CASES if (c["measure"], c["vtype"], c["data"]) == (measure, vtype, data)
                and not c["options"])


@pytest.mark.parametrize(("z", "r", "vtype", "data"), [
    ("ZPHI", "PHI", "LS", "bcg"), ("ZPHI", "PHI", "ST", "bcg"), ("ZPHI", "PHI", "CS", "bcg"),
    ("ZTET", "RTET", "LS", "bcg"), ("ZPB", "RPB", "LS", "normand1999"),
    ("ZPB", "RPB", "ST", "normand1999"), ("ZPB", "RPB", "CS", "normand1999"),
    ("ZBIS", "RBIS", "LS", "normand1999"), ("ZSPCOR", "SPCOR", "LS", "aloe2013"),
    ("ZSPCOR", "SPCOR", "AV", "aloe2013")])
def test_z_transforms_of_r_values(z: str, r: str, vtype: str, data: str) -> None:
    """metafor >= 4: atanh(r) and var(r)/(1 - r^2)^2, applied to metafor 3.8-1's r and var(r)."""
    case = _r_case(r, vtype, data)
    ry, rv = _nan(case["yi"]), _nan(case["vi"])
    es = _run({**case, "measure": z})
    tol = dict(rtol=RTET_TOL, atol=RTET_TOL) if r == "RTET" else {}
    assert_close(es.yi, np.arctanh(ry), f"{z} yi", **tol)
    assert_close(es.vi, rv / (1 - np.minimum(ry**2, 1)) ** 2, f"{z} vi", **tol)


def test_probit_proportion_from_r_values() -> None:
    """PRZ (metafor >= 4): Phi^-1(p), var = var(p)/phi(z)^2 (the delta method on PR's LS)."""
    case = _r_case("PR", "LS", "props")
    p, v = _nan(case["yi"]), _nan(case["vi"])
    inner = (p > 0) & (p < 1)
    xi = np.array(reference()["data"]["props"]["xi"], float)[inner]
    ni = np.array(reference()["data"]["props"]["ni"], float)[inner]
    es = effect_sizes("PRZ", xi=xi, ni=ni)
    z = norm.ppf(p[inner])
    assert_close(es.yi, z, "PRZ yi")
    assert_close(es.vi, v[inner] / norm.pdf(z) ** 2, "PRZ vi")


# --- hand computations from the defining formulas -------------------------------------------------
def _c(m: float) -> float:
    """Hedges' c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))."""
    return math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2)) / math.sqrt(m / 2)


TWO = dict(m1i=[10.0], sd1i=[2.0], n1i=[20], m2i=[8.0], sd2i=[3.0], n2i=[25])
PRE_POST = dict(m1i=[26.0], m2i=[22.0], sd1i=[math.sqrt(30)], sd2i=[math.sqrt(20)], ni=[60],
                ri=[0.7])


def test_smdh_bonett_2008_eq8() -> None:
    """SMDH, Bonett (2008, eq. 8): s^2 = (sd1^2 + sd2^2)/2, var = d^2 (sd1^4/(n1-1) +
    sd2^4/(n2-1))/(8 s^4) + (sd1^2/(n1-1) + sd2^2/(n2-1))/s^2 (metafor 5: with the corrected d,
    not multiplied by c(m)^2 as in 3.8-1); LS3 replaces the n-1 of the second part by n."""
    s2 = (4 + 9) / 2
    g = _c(43) * 2 / math.sqrt(s2)
    spread = g**2 * (16 / 19 + 81 / 24) / (8 * s2**2)
    es = effect_sizes("SMDH", **TWO)
    assert es.yi[0] == pytest.approx(g, rel=1e-12)
    assert es.vi[0] == pytest.approx(spread + (4 / 19 + 9 / 24) / s2, rel=1e-12)
    legacy = effect_sizes("SMDH", **TWO, metafor="3.8")
    assert legacy.vi[0] == pytest.approx(_c(43) ** 2 * es.vi[0], rel=1e-12)
    ls3 = effect_sizes("SMDH", **TWO, vtype="LS3")
    assert ls3.vi[0] == pytest.approx(spread + (4 / 20 + 9 / 25) / s2, rel=1e-12)
    ls2 = effect_sizes("SMDH", **TWO, vtype="LS2")
    assert ls2.vi[0] == pytest.approx(g**2 * (16 / 20 + 81 / 25) / (8 * s2**2)
                                      + (4 / 20 + 9 / 25) / s2, rel=1e-12)


def test_smd1h_bonett_2008_eq12() -> None:
    """SMD1H, Bonett (2008, eq. 12): var = (sd1^2/sd2^2)/(n1-1) + 1/(n2-1) + d^2/(2(n2-1))."""
    g = _c(24) * 2 / 3
    es = effect_sizes("SMD1H", **TWO)
    assert es.yi[0] == pytest.approx(g, rel=1e-12)
    assert es.vi[0] == pytest.approx((4 / 9) / 19 + 1 / 24 + g**2 / 48, rel=1e-12)


def test_smcrh_bonett_2008_eq13() -> None:
    """SMCRH, Bonett (2008, eq. 13): var = sd_diff^2/(sd1^2 (n-1)) + d^2/(2(n-1)), sd_diff^2 =
    sd1^2 + sd2^2 - 2 r sd1 sd2; LS2 with n. metafor 3.8-1 multiplied by c(n-1)^2 (its value,
    0.0129 for these data, is in metafor's own escalc tests)."""
    g = _c(59) * 4 / math.sqrt(30)
    diff = 30 + 20 - 2 * 0.7 * math.sqrt(600)
    es = effect_sizes("SMCRH", **PRE_POST)
    assert es.yi[0] == pytest.approx(g, rel=1e-12)
    assert es.vi[0] == pytest.approx(diff / (30 * 59) + g**2 / 118, rel=1e-12)
    assert effect_sizes("SMCRH", **PRE_POST, vtype="LS2").vi[0] == pytest.approx(
        diff / (30 * 60) + g**2 / 120, rel=1e-12)
    legacy = effect_sizes("SMCRH", **PRE_POST, metafor="3.8")
    assert legacy.vi[0] == pytest.approx(_c(59) ** 2 * es.vi[0], rel=1e-12)
    assert round(float(legacy.yi[0]), 4) == 0.7210 and round(float(legacy.vi[0]), 4) == 0.0129


def test_smcrp_cousineau_2020() -> None:
    """SMCRP: d_p = (m1 - m2)/sqrt((sd1^2 + sd2^2)/2) corrected with c(2(n-1)/(1+r^2));
    var = 2(1-r)/n + d^2 (1 + r^2)/(4n) (Cousineau 2020, eq. 2)."""
    g = _c(2 * 59 / 1.49) * 4 / math.sqrt(25)
    es = effect_sizes("SMCRP", **PRE_POST)
    assert es.yi[0] == pytest.approx(g, rel=1e-12)
    assert es.vi[0] == pytest.approx(2 * 0.3 / 60 + g**2 * 1.49 / 240, rel=1e-12)
    uncorrected = effect_sizes("SMCRP", **PRE_POST, correct=False)
    assert uncorrected.yi[0] == pytest.approx(4 / 5, rel=1e-12)


def test_smcrph_bonett_2008_eq10() -> None:
    """SMCRPH, Bonett (2008, eq. 10): var = d^2 (sd1^4 + sd2^4 + 2 r^2 sd1^2 sd2^2)/(8 s^4 (n-1))
    + sd_diff^2/(s^2 (n-1)), s^2 = (sd1^2 + sd2^2)/2; LS2 with n."""
    g = _c(2 * 59 / 1.49) * 4 / 5
    diff = 50 - 2 * 0.7 * math.sqrt(600)
    part = g**2 * (900 + 400 + 2 * 0.49 * 600) / (8 * 625) + diff / 25
    es = effect_sizes("SMCRPH", **PRE_POST)
    assert es.yi[0] == pytest.approx(g, rel=1e-12)
    assert es.vi[0] == pytest.approx(part / 59, rel=1e-12)
    assert effect_sizes("SMCRPH", **PRE_POST, vtype="LS2").vi[0] == pytest.approx(part / 60)


def test_unbiased_change_variances_viechtbauer_2007() -> None:
    """vtype "UB" (metafor >= 4): SMCC 1/n + (1 - (m-2)/(m c^2)) g^2 and SMCR with 2(1 - r_u)/n,
    r_u Olkin-Pratt's unbiased r = r 2F1(1/2, 1/2; (n-2)/2; 1-r^2), m = n - 1."""
    c = _c(59)
    extra = 1 - 57 / (59 * c**2)
    diff = math.sqrt(50 - 2 * 0.7 * math.sqrt(600))
    smcc = effect_sizes("SMCC", **PRE_POST, vtype="UB")
    assert smcc.yi[0] == pytest.approx(c * 4 / diff, rel=1e-12)
    assert smcc.vi[0] == pytest.approx(1 / 60 + extra * smcc.yi[0] ** 2, rel=1e-12)
    # 2F1(1/2, 1/2; 29; 0.51) by its power series, summed here independently
    f, term = 1.0, 1.0
    for k in range(200):
        term *= (0.5 + k) ** 2 / ((29 + k) * (k + 1)) * 0.51
        f += term
    smcr = effect_sizes("SMCR", **PRE_POST, vtype="UB")
    assert smcr.vi[0] == pytest.approx(2 * (1 - 0.7 * f) / 60 + extra * smcr.yi[0] ** 2,
                                       rel=1e-12)


def test_pcor_metafor5_variance() -> None:
    """PCOR: r = t/sqrt(t^2 + n - m - 1), var = (1 - r^2)^2/(n - m) in metafor 5.0 (3.8-1:
    /(n - m - 1); its r = 0.3012 and var = 0.0039 for Aloe & Thompson's first study are in
    metafor's escalc tests)."""
    r = 4.61 / math.sqrt(4.61**2 + 213)
    es = effect_sizes("PCOR", ti=[4.61], ni=[218], mi=[4])
    assert es.yi[0] == pytest.approx(r, rel=1e-12)
    assert es.vi[0] == pytest.approx((1 - r**2) ** 2 / 214, rel=1e-12)
    legacy = effect_sizes("PCOR", ti=[4.61], ni=[218], mi=[4], metafor="3.8")
    assert legacy.vi[0] == pytest.approx((1 - r**2) ** 2 / 213, rel=1e-12)
    assert round(float(legacy.yi[0]), 4) == 0.3012 and round(float(legacy.vi[0]), 4) == 0.0039


def test_r_squared_kendall_stuart() -> None:
    """R2 (metafor >= 4): var = 4 R^2 (1 - R^2)^2/n ("LS"; Kendall & Stuart 1979, eq. 27.88),
    4 R^2 (1 - R^2)^2 (n - m - 1)^2/((n^2 - 1)(n + 3)) ("LS2", eq. 27.87), "AV" at the
    n-weighted mean R^2; ZR2 = atanh(R), var 1/n."""
    r2, m, n = np.array([0.3, 0.5]), np.array([3.0, 5.0]), np.array([100.0, 60.0])
    assert_close(effect_sizes("R2", r2i=r2, mi=m, ni=n).vi, 4 * r2 * (1 - r2) ** 2 / n, "LS")
    assert_close(effect_sizes("R2", r2i=r2, mi=m, ni=n, vtype="LS2").vi,
                 4 * r2 * (1 - r2) ** 2 * (n - m - 1) ** 2 / ((n**2 - 1) * (n + 3)), "LS2")
    bar = (r2 * n).sum() / n.sum()
    assert_close(effect_sizes("R2", r2i=r2, mi=m, ni=n, vtype="AV").vi,
                 4 * bar * (1 - bar) ** 2 / n, "AV")
    z = effect_sizes("ZR2", r2i=r2, mi=m, ni=n)
    assert_close(z.yi, np.arctanh(np.sqrt(r2)), "ZR2 yi")
    assert_close(z.vi, 1 / n, "ZR2 vi")


def test_average_risk_variances() -> None:
    """vtype "AV" for OR and RR (metafor >= 4): the variance at the sample-size weighted mean
    risks pbar1 = sum(a)/sum(n1), pbar2 = sum(c)/sum(n2)."""
    a, n1, c, n2 = np.array([4.0, 6]), np.array([123.0, 306]), np.array([11.0, 29]), np.array(
        [139.0, 303])
    p1, p2 = a.sum() / n1.sum(), c.sum() / n2.sum()
    args = dict(ai=a, n1i=n1, ci=c, n2i=n2, vtype="AV")
    assert_close(effect_sizes("OR", **args).vi,
                 1 / (p1 * (1 - p1) * n1) + 1 / (p2 * (1 - p2) * n2), "OR AV")
    assert_close(effect_sizes("RR", **args).vi, (1 - p1) / (p1 * n1) + (1 - p2) / (p2 * n2),
                 "RR AV")


def test_mean_homoscedastic_variance() -> None:
    """MN vtype "HO" (metafor >= 4): sd_pooled^2/n with sd_pooled^2 = sum((n-1) sd^2)/sum(n-1)."""
    sd, n = np.array([2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0])
    pooled = ((n - 1) * sd**2).sum() / (n - 1).sum()
    es = effect_sizes("MN", mi=[1.0, 2.0, 3.0], sdi=sd, ni=n, vtype="HO")
    assert_close(es.vi, pooled / n, "MN HO")


def test_correct_false_drops_the_bias_corrections() -> None:
    """metafor 5's correct=FALSE: c(m) = 1 and no 1/(2(n-1)) terms."""
    smd = effect_sizes("SMD", **TWO, correct=False)
    sp = math.sqrt((19 * 4 + 24 * 9) / 43)
    assert smd.yi[0] == pytest.approx(2 / sp, rel=1e-12)
    vr = effect_sizes("VR", **TWO, correct=False)
    assert vr.yi[0] == pytest.approx(math.log(2 / 3), rel=1e-12)
    cvr = effect_sizes("CVR", **TWO, correct=False)
    assert cvr.yi[0] == pytest.approx(math.log(0.2) - math.log(3 / 8), rel=1e-12)
    assert effect_sizes("SDLN", sdi=[2.0], ni=[20], correct=False).yi[0] == pytest.approx(
        math.log(2))
    assert effect_sizes("CVLN", mi=[10.0], sdi=[2.0], ni=[20], correct=False).yi[0] == (
        pytest.approx(math.log(0.2)))


# --- batch axis, options and errors ---------------------------------------------------------------
def test_kernels_take_a_leading_batch_axis() -> None:
    """A kernel on (batch, studies) arrays equals the kernel per batch row (AV averages over
    the studies of each row)."""
    spec = MEASURES["SMD"]
    from metaverdict.effects.measures import Options
    rng = np.random.default_rng(1)
    x = {"m1i": rng.normal(size=(3, 4)), "m2i": rng.normal(size=(3, 4)),
         "sd1i": rng.uniform(1, 2, (3, 4)), "sd2i": rng.uniform(1, 2, (3, 4)),
         "n1i": np.full((3, 4), 20.0), "n2i": np.full((3, 4), 25.0)}
    yi, vi = spec.kernel(x, Options(vtype="AV"))
    for b in range(3):
        row = effect_sizes("SMD", vtype="AV", **{k: v[b] for k, v in x.items()})
        assert_close(yi[b], row.yi, "batch yi")
        assert_close(vi[b], row.vi, "batch vi")


def test_unknown_vtype_names_the_choices() -> None:
    with pytest.raises(InputError, match=r"'vtype'.*ROM takes vtype LS, HO, AV, AVHO"):
        effect_sizes("ROM", **TWO, vtype="UB")
    with pytest.raises(InputError, match="'metafor'"):
        effect_sizes("ROM", **TWO, metafor="4.0")


@pytest.mark.parametrize(("measure", "kw", "parts"), [
    ("SMCR", dict(m1i=[5.0], m2i=[4.0], sd1i=[0.0], ni=[20], ri=[0.5]), ["sd1i", "> 0"]),
    ("SMCR", dict(m1i=[5.0], m2i=[4.0], sd1i=[1.0], ni=[20], ri=[1.2]), ["ri", "<= 1"]),
    ("MC", dict(m1i=[5.0], m2i=[4.0], sd1i=[1.0], sd2i=[1.0], ni=[1], ri=[0.5]), ["ni", ">= 2"]),
    ("ARAW", dict(ai=[1.2], mi=[10], ni=[100]), ["ai", "< 1"]),
    ("ABT", dict(ai=[0.8], mi=[1], ni=[100]), ["mi", ">= 2"]),
    ("MN", dict(mi=[5.0], sdi=[-1.0], ni=[20]), ["sdi", "> 0"]),
    ("IR", dict(xi=[-1], ti=[10.0]), ["xi", ">= 0"]),
    ("IRLN", dict(xi=[3], ti=[0.0]), ["ti", "> 0"]),
    ("SPCOR", dict(ti=[2.0], ni=[50], mi=[3], r2i=[1.5]), ["r2i", "<= 1"]),
    ("UCOR", dict(ri=[1.0], ni=[50]), ["ri", "< 1"]),
])
def test_impossible_values_raise(measure: str, kw: dict[str, Any], parts: list[str]) -> None:
    with pytest.raises(InputError) as info:
        effect_sizes(measure, **kw)
    assert all(p in str(info.value) for p in ["row 1", *parts]), str(info.value)


def test_undefined_log_measures_raise() -> None:
    with pytest.raises(InputError, match="MNLN needs a positive mean"):
        effect_sizes("MNLN", mi=[-2.0], sdi=[1.0], ni=[10])
    with pytest.raises(InputError, match="ROMC needs two non-zero means"):
        effect_sizes("ROMC", **{**PRE_POST, "m2i": [-22.0]})


def test_missing_inputs_in_new_families() -> None:
    with pytest.warns(UserWarning, match=r"row 2 \(ri\)"):
        es = effect_sizes("SMCR", m1i=[5.0, 6.0], m2i=[4.0, 4.0], sd1i=[1.0, 1.0], ni=[20, 30],
                          ri=[0.5, None])
    assert np.isfinite(es.yi[0]) and np.isnan(es.yi[1]) and es.dropped[0].fields == ("ri",)
    with pytest.warns(UserWarning, match="row 1"):
        es = effect_sizes("PR", xi=[np.nan, 3], ni=[10, 10], vtype="AV")
    assert es.vi[1] == pytest.approx(0.3 * 0.7 / 10)     # the average ignores the dropped study


def test_smd_from_d_or_t_arguments() -> None:
    """di/ti stand in for the means only for SMD, need n1i and n2i, and a study with none of
    d, t or complete means is left out."""
    with pytest.raises(InputError, match="'n2i'"):
        effect_sizes("SMD", di=[0.5], n1i=[20])
    with pytest.raises(InputError, match="does not use argument"):
        effect_sizes("MD", di=[0.5], n1i=[20], n2i=[20])
    with pytest.warns(UserWarning, match=r"row 2 \(di, ti\)"):
        es = effect_sizes("SMD", di=[0.5, None], ti=[None, np.nan], n1i=[20, 30], n2i=[20, 30])
    assert es.yi[0] == pytest.approx(_c(38) * 0.5, rel=1e-12) and np.isnan(es.yi[1])
