"""Subgroup analysis: per-level fits, the test for subgroup differences with separate tau²,
the mixed-effects (common tau²) test, and the documented edge cases."""
from __future__ import annotations

import numpy as np
import pytest

from metaverdict.errors import InputError
from metaverdict.models import meta_analysis
from metaverdict.models.subgroups import subgroup_analysis

from conftest import assert_close, case_data, load_case


def _bcg():
    return case_data(load_case("dat.bcg__RR"))


@pytest.mark.parametrize("method,test", [("REML", "z"), ("DL", "knha"), ("EE", "z")])
def test_each_subgroup_is_its_own_fit(method: str, test: str) -> None:
    df = _bcg()
    res = subgroup_analysis("yi", "vi", groups="alloc", data=df, method=method, test=test)
    assert list(res.fits) == ["alternate", "random", "systematic"]
    for lev, f in res.fits.items():
        sub = df[df["alloc"] == lev]
        ref = meta_analysis(sub["yi"].to_numpy(), sub["vi"].to_numpy(), method=method, test=test)
        assert f.estimate == pytest.approx(ref.estimate, rel=1e-12)
        assert res.table.loc[lev, "k"] == len(sub)
        assert res.table.loc[lev, "tau2"] == pytest.approx(ref.tau2, abs=1e-14)


def test_q_between_from_subgroup_estimates() -> None:
    df = _bcg()
    res = subgroup_analysis("yi", "vi", groups="alloc", data=df, method="REML")
    mu, se = res.table["estimate"].to_numpy(), res.table["se"].to_numpy()
    w = 1 / se ** 2
    q = np.sum(w * (mu - np.average(mu, weights=w)) ** 2)
    assert res.q_between == pytest.approx(q, rel=1e-12)
    assert res.q_between_df == 2


def test_fixed_effect_q_between_is_the_partition_of_q() -> None:
    df = _bcg()
    res = subgroup_analysis("yi", "vi", groups="alloc", data=df, method="EE")
    q_total = meta_analysis(df["yi"], df["vi"], method="EE").q
    q_within = sum(f.q for f in res.fits.values())
    assert res.q_between == pytest.approx(q_total - q_within, rel=1e-10)
    # and equals the moderator test of the common-effect meta-regression
    assert res.qm == pytest.approx(res.q_between, rel=1e-10)


def test_mixed_effects_test_matches_metafor_factor_alloc() -> None:
    """rma(yi, vi, mods = ~ factor(alloc), method = "REML") on dat.bcg (fixture)."""
    df = _bcg()
    ref = load_case("dat.bcg__RR")["meta_regression"][2]
    for entry, method, test in (("REML", "REML", "z"), ("REML_knha", "REML", "knha"),
                                ("DL", "DL", "z")):
        res = subgroup_analysis("yi", "vi", groups="alloc", data=df, method=method, test=test)
        assert_close(res.qm, ref[entry]["QM"], "QM")
        assert_close(res.qm_pvalue, ref[entry]["QMp"], "QMp")
        assert_close(res.moderator_fit.tau2, ref[entry]["tau2"], "tau2")
        assert list(res.moderator_fit.coefficients.index) == ["intrcpt", "allocrandom",
                                                             "allocsystematic"]


def test_summary_prints_both_tests() -> None:
    text = subgroup_analysis("yi", "vi", groups="alloc", data=_bcg()).summary()
    assert "Test for subgroup differences" in text and "Mixed-effects meta-regression" in text
    assert "systematic" in text


def test_groups_as_values() -> None:
    df = _bcg()
    a = subgroup_analysis(df["yi"], df["vi"], groups=df["alloc"].to_numpy())
    b = subgroup_analysis("yi", "vi", groups="alloc", data=df)
    assert a.q_between == pytest.approx(b.q_between, rel=1e-12)


def test_single_study_subgroup_is_fitted_with_zero_tau2_and_warned() -> None:
    df = _bcg().set_index("author")
    df.loc[df.index[0], "alloc"] = "other"
    with pytest.warns(UserWarning, match="'other'.*single study.*Aronson"):
        res = subgroup_analysis("yi", "vi", groups="alloc", data=df)
    one = res.fits["other"]
    assert one.k == 1 and one.tau2 == 0
    assert one.estimate == pytest.approx(df["yi"].iloc[0])
    assert one.se == pytest.approx(np.sqrt(df["vi"].iloc[0]))


def test_bad_groups() -> None:
    df = _bcg().set_index("author")
    with pytest.raises(InputError, match="no column 'design'"):
        subgroup_analysis("yi", "vi", groups="design", data=df)
    bad = df.copy()
    bad["alloc"] = bad["alloc"].astype(object)
    bad.loc[bad.index[4], "alloc"] = None
    with pytest.raises(InputError, match=f"study '{bad.index[4]}', field 'alloc'"):
        subgroup_analysis("yi", "vi", groups="alloc", data=bad)
    with pytest.raises(InputError, match="at least two subgroups"):
        subgroup_analysis("yi", "vi", groups="alloc", data=df.assign(alloc="random"))
    with pytest.raises(InputError, match="group values"):
        subgroup_analysis(df["yi"], df["vi"], groups=["a", "b"])
