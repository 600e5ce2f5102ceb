"""Univariate extras against R metafor 3.8-1 (tests/data/metafor_extras/make_extras.R, tight
convergence control): fixed tau², the DLIT / SJIT estimators, profile-likelihood CIs for tau²,
test="adhoc", and permutation tests with stat="coef" and permutation-based CIs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.errors import ConvergenceError, InputError
from metaverdict.models.confint import profile_likelihood
from metaverdict.models.permutation import permutation_test

from conftest import assert_close

EXTRAS = json.loads((Path(__file__).parents[1] / "data" / "metafor_extras" / "extras.json")
                    .read_text())
DATA = EXTRAS["data"]


def _data(name: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    d = DATA[name]
    y, v = np.array(d["yi"], dtype=float), np.array(d["vi"], dtype=float)
    mods = np.array(d["ablat"], dtype=float)[:, None] if "ablat" in d else None
    if n is not None:
        y, v, mods = y[:n], v[:n], None if mods is None else mods[:n]
    return y, v, mods


def _check_fit(res: mv.MetaAnalysisResult, want: dict[str, Any], what: str) -> None:
    pred = mv.predict(res)
    got = {"b": res.beta, "se": res.coefficient("se"), "zval": res.coefficient("statistic"),
           "pval": res.coefficient("pvalue"), "ci.lb": res.coefficient("ci_lower"),
           "ci.ub": res.coefficient("ci_upper"), "tau2": res.tau2, "se.tau2": res.tau2_se,
           "I2": res.i2, "H2": res.h2, "QE": res.q, "s2w": res.s2w,
           "ll.ML": res.fit_statistics.ll_ml, "ll.REML": res.fit_statistics.ll_reml}
    if res.p == 1:
        got |= {"pi.lb": pred["pi_lower"][0], "pi.ub": pred["pi_upper"][0]}
    else:
        got |= {"QM": res.qm, "QMp": res.qm_pvalue}
    for key, value in got.items():
        assert_close(value, want[key], f"{what} {key}")


def _fit(name: str, key: str, **kw: Any) -> mv.MetaAnalysisResult:
    y, v, mods = _data(name)
    return mv.meta_analysis(y, v, mods=mods if key.endswith("ablat") else None, **kw)


@pytest.mark.parametrize("key", sorted(EXTRAS["fixed_tau2"]))
def test_fixed_tau2(key: str) -> None:
    method, test, kind = key.split("_")
    res = _fit("bcg", kind, method=method, test=test, tau2=0.1 if kind == "intercept" else 0.05)
    _check_fit(res, EXTRAS["fixed_tau2"][key], f"fixed_tau2 {key}")
    with pytest.raises(InputError, match="fixed"):
        res.tau2_ci()


def test_fixed_tau2_is_kept_by_refits() -> None:
    y, v, _ = _data("bcg")
    res = mv.meta_analysis(y, v, tau2=0.1)
    assert np.all(mv.leave_one_out(res)["tau2"] == 0.1)
    perm = permutation_test(res, iterations=50, seed=1)
    refit = mv.meta_analysis(-y, v, tau2=0.1)
    assert refit.tau2 == 0.1 and np.isfinite(perm.pvalue).all()


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_fixed_tau2_must_be_a_nonnegative_number(bad: float) -> None:
    y, v, _ = _data("bcg")
    with pytest.raises(InputError, match="tau2"):
        mv.meta_analysis(y, v, tau2=bad)


@pytest.mark.parametrize("key", sorted(k for k, v in EXTRAS["iterative"].items()
                                       if "error" not in v))
def test_iterated_estimators(key: str) -> None:
    method, name = key.split("_")[:2]
    res = _fit(name, key, method=method)
    assert res.converged
    _check_fit(res, EXTRAS["iterative"][key], f"iterative {key}")


def test_dlit_that_does_not_settle_raises_as_metafor() -> None:
    assert "did not converge" in EXTRAS["iterative"]["DLIT_hackshaw"]["error"]
    y, v, _ = _data("hackshaw")
    with pytest.raises(ConvergenceError, match="DLIT"):
        mv.meta_analysis(y, v, method="DLIT")


def test_sjit_converges_to_paule_mandel() -> None:
    y, v, _ = _data("bcg")
    pm = mv.meta_analysis(y, v, method="PM")
    assert mv.meta_analysis(y, v, method="SJIT").tau2 == pytest.approx(pm.tau2, rel=1e-10)


@pytest.mark.parametrize("key", sorted(EXTRAS["profile_ci"]))
def test_profile_likelihood_ci(key: str) -> None:
    method, name = key.split("_")[:2]
    level = 0.90 if key.endswith("_90") else 0.95
    res = _fit(name, key, method=method, level=level)
    ci = profile_likelihood(res, level)
    want = EXTRAS["profile_ci"][key]
    for field in ("tau2", "tau", "I2", "H2"):
        iv = getattr(ci, field.lower())
        assert_close([iv.estimate, iv.ci_lower, iv.ci_upper], want[field],
                     f"profile_ci {key} {field}")


def test_profile_likelihood_ci_needs_ml_or_reml() -> None:
    y, v, _ = _data("bcg")
    with pytest.raises(InputError, match="ML or REML"):
        profile_likelihood(mv.meta_analysis(y, v, method="DL"), 0.95)


def test_profile_likelihood_lower_bound_zero_for_homogeneous_data() -> None:
    y = np.array([0.10, 0.12, 0.11, 0.09])
    res = mv.meta_analysis(y, np.full(4, 0.01), method="REML")
    assert res.tau2 == 0 and profile_likelihood(res, 0.95).tau2.ci_lower == 0


@pytest.mark.parametrize("key", sorted(EXTRAS["adhoc"]))
def test_adhoc(key: str) -> None:
    method, name = key.split("_")[:2]
    test = "knha" if key.endswith("_knha") else "adhoc"
    res = _fit(name, key, method=method, test=test)
    _check_fit(res, EXTRAS["adhoc"][key], f"adhoc {key}")
    assert res.df == res.k - res.p


def test_adhoc_truncates_the_knha_factor_at_one() -> None:
    for key in ("DL_hackshaw", "REML_hackshaw"):
        knha, adhoc = EXTRAS["adhoc"][key + "_knha"], EXTRAS["adhoc"][key]
        assert knha["s2w"] < 1 and adhoc["s2w"] == 1     # the case the correction is for


@pytest.mark.parametrize("key", sorted(EXTRAS["permutation"]))
def test_exact_permutation_test_and_ci(key: str) -> None:
    method, stat, kind = key.split("_")[:3]
    y, v, mods = _data("bcg", 6)
    res = mv.meta_analysis(y, v, method=method, test="knha" if key.endswith("knha") else "z",
                           mods=mods if kind == "ablat" else None)
    perm = permutation_test(res, exact=True, stat=stat, permci=True)
    want = EXTRAS["permutation"][key]
    coef = perm.coefficients
    assert perm.exact and perm.permci and perm.stat == stat
    assert_close(coef["permutation_pvalue"], want["pval"], f"permutation {key} pval")
    assert_close(perm.qm_permutation_pvalue, want["QMp"], f"permutation {key} QMp")
    assert_close(coef["ci_lower"], want["ci.lb"], f"permutation {key} ci.lb")
    assert_close(coef["ci_upper"], want["ci.ub"], f"permutation {key} ci.ub")


def test_permutation_ci_needs_enough_permutations() -> None:
    y, v, _ = _data("bcg", 5)                       # 32 sign vectors: 1/32 > 0.025
    res = mv.meta_analysis(y, v, method="DL")
    with pytest.warns(UserWarning, match="too few"):
        perm = permutation_test(res, permci=True)
    assert not perm.permci
    np.testing.assert_array_equal(perm.coefficients["ci_lower"], res.coefficient("ci_lower"))


def test_permutation_bad_stat() -> None:
    y, v, _ = _data("bcg")
    with pytest.raises(InputError, match="stat"):
        permutation_test(mv.meta_analysis(y, v), stat="beta")


@pytest.mark.parametrize("key", sorted(EXTRAS.get("refits", {})))
def test_refits_keep_fixed_tau2_and_iterated_estimators(key: str) -> None:
    y, v, _ = _data("bcg")
    kind, what = key.split("_")
    res = (mv.meta_analysis(y, v, tau2=0.1) if kind == "fixed"
           else mv.meta_analysis(y, v, method=kind))
    got = (mv.leave_one_out(res) if what == "leave1out"
           else mv.cumulative(res, order=DATA["bcg"]["year"]))
    want = EXTRAS["refits"][key]
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("statistic", "zval"),
                         ("pvalue", "pval"), ("ci_lower", "ci.lb"), ("ci_upper", "ci.ub"),
                         ("q", "Q"), ("q_pvalue", "Qp"), ("tau2", "tau2"), ("i2", "I2"),
                         ("h2", "H2")):
        assert_close(got[ours].to_numpy(), want[theirs], f"refits {key} {ours}")
