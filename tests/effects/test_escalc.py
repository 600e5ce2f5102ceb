"""effect_sizes: parity with metafor's escalc on every fixture case (3.8-1 with
``metafor="3.8"``, 5.0-1 by default), hand-derived checks, one test per kind of bad input
(InputError naming the study and the field), and the missing-input contract."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from metaverdict.effects import MEASURES, EffectSizes, effect_sizes, hedges_correction
from metaverdict.errors import InputError

from conftest import (
    assert_close,
    case_data,
    case_ids,
    case_yi_vi,
    load_case,
    versioned_case_ids,
)

ESCALC_CASES = [c for c in case_ids() if load_case(c)["escalc"]["measure"] != "GEN"]
VERSIONED_CASES = [(v, c) for v, c in versioned_case_ids()
                   if load_case(c, v)["escalc"]["measure"] != "GEN"]
MH_CASES = [c for c in ESCALC_CASES if "rma.mh" in load_case(c)]
PETO_CASES = [c for c in ESCALC_CASES if "rma.peto" in load_case(c)]


# --- parity with metafor ------------------------------------------------------------------------
def test_every_fixture_measure_is_supported() -> None:
    measures = {load_case(c)["escalc"]["measure"] for c in ESCALC_CASES}
    assert measures <= set(MEASURES), measures - set(MEASURES)
    assert len(ESCALC_CASES) >= 30


@pytest.mark.parametrize(("version", "case_id"), VERSIONED_CASES)
def test_escalc_parity(version: str, case_id: str) -> None:
    """3.8-1 fixtures with metafor="3.8"; 5.0-1 fixtures with the defaults (ROM's bias
    correction, ZPCOR's 1/(n - m - 2))."""
    case = load_case(case_id, version)
    spec = case["escalc"]
    defaults = {"add": 0.5, "to": "only0", "drop00": False, "vtype": "LS"}
    assert spec["defaults"] == (defaults if version == "3.8" else {**defaults, "correct": True})
    kw = {"metafor": "3.8"} if version == "3.8" else {}
    es = effect_sizes(spec["measure"], data=case_data(case), **spec["args"], **kw)
    yi, vi = case_yi_vi(case)
    assert_close(es.yi, yi, f"{version} {case_id} yi")
    assert_close(es.vi, vi, f"{version} {case_id} vi")


def test_metafor5_changes_only_rom_yi_and_zpcor_vi() -> None:
    """The two escalc changes from 3.8-1 to 5.0-1 that the fixtures carry, and the documented
    ways back: correct=False (metafor 5's own option) for ROM, metafor="3.8" for both."""
    rom = load_case("dat.normand1999__ROM")
    args = rom["escalc"]["args"]
    new = effect_sizes("ROM", data=case_data(rom), **args)
    yi38, vi38 = case_yi_vi(rom)
    assert not np.allclose(new.yi, yi38) and np.allclose(new.vi, vi38, rtol=1e-12)
    assert_close(effect_sizes("ROM", data=case_data(rom), **args, correct=False).yi, yi38,
                 "ROM correct=False")
    pc = load_case("dat.aloe2013__ZPCOR")
    new = effect_sizes("ZPCOR", data=case_data(pc), **pc["escalc"]["args"])
    yi38, vi38 = case_yi_vi(pc)
    assert np.allclose(new.yi, yi38, rtol=1e-12) and not np.allclose(new.vi, vi38)


@pytest.mark.parametrize("case_id", MH_CASES)
def test_drop00_parity_with_rma_mh(case_id: str) -> None:
    """rma.mh stores the study outcomes computed with drop00=TRUE (double-zero studies: NA)."""
    case = load_case(case_id)
    mh = case["rma.mh"]
    assert mh["add"][0] == 0.5 and mh["to"][0] == "only0" and mh["drop00"][0] is True
    es = effect_sizes(mh["measure"], data=case_data(case), **case["escalc"]["args"], drop00=True)
    kept = ~np.isnan(es.yi)
    assert np.array_equal(kept, ~np.isnan(es.vi))
    assert kept.sum() == mh["k.yi"]
    assert_close(es.yi[kept], mh["yi"], f"{case_id} yi")
    assert_close(es.vi[kept], mh["vi"], f"{case_id} vi")


@pytest.mark.parametrize("case_id", PETO_CASES)
def test_peto_parity_with_rma_peto(case_id: str) -> None:
    case = load_case(case_id)
    peto = case["rma.peto"]
    es = effect_sizes("PETO", data=case_data(case), **case["escalc"]["args"], drop00=True)
    kept = ~np.isnan(es.yi)
    assert kept.sum() == peto["k.yi"]
    assert_close(es.yi[kept], peto["yi"], f"{case_id} yi")
    assert_close(es.vi[kept], peto["vi"], f"{case_id} vi")


# --- hand-derived values -------------------------------------------------------------------------
def test_bcg_first_trial_by_hand() -> None:
    # Aronson 1948: 4/123 vaccinated and 11/139 control patients with TB
    es = effect_sizes("OR", ai=[4], bi=[119], ci=[11], di=[128])
    assert es.yi[0] == pytest.approx(math.log(4 * 128 / (119 * 11)), rel=1e-12)
    assert es.vi[0] == pytest.approx(1 / 4 + 1 / 119 + 1 / 11 + 1 / 128, rel=1e-12)
    rr = effect_sizes("RR", ai=4, n1i=123, ci=11, n2i=139)
    assert rr.yi[0] == pytest.approx(math.log((4 / 123) / (11 / 139)), rel=1e-12)
    rd = effect_sizes("RD", ai=4, n1i=123, ci=11, n2i=139)
    p1, p2 = 4 / 123, 11 / 139
    assert rd.vi[0] == pytest.approx(p1 * (1 - p1) / 123 + p2 * (1 - p2) / 139, rel=1e-12)


def test_smd_hedges_g_by_hand() -> None:
    es = effect_sizes("SMD", m1i=[10.0], sd1i=[2.0], n1i=[20], m2i=[9.0], sd2i=[2.0], n2i=[20])
    d = 0.5
    m = 38
    assert hedges_correction(np.array(m)) == pytest.approx(1 - 3 / (4 * m - 1), rel=1e-4)
    g = float(hedges_correction(np.array(m))) * d
    assert es.yi[0] == pytest.approx(g, rel=1e-12)
    assert es.vi[0] == pytest.approx(1 / 20 + 1 / 20 + g**2 / 80, rel=1e-12)


def test_hedges_correction_exact_small_m() -> None:
    # c(2) = Gamma(1) / (sqrt(1) Gamma(1/2)) = 1/sqrt(pi)
    assert hedges_correction(np.array(2.0)) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-14)


def test_zero_cell_gets_one_half_in_all_cells() -> None:
    es = effect_sizes("OR", ai=[0, 5], bi=[10, 5], ci=[3, 5], di=[7, 5])
    assert es.yi[0] == pytest.approx(math.log(0.5 * 7.5 / (10.5 * 3.5)), rel=1e-12)
    assert es.vi[0] == pytest.approx(1 / 0.5 + 1 / 10.5 + 1 / 3.5 + 1 / 7.5, rel=1e-12)
    assert es.yi[1] == pytest.approx(0.0, abs=1e-15)  # untouched study
    allc = effect_sizes("OR", ai=[0, 5], bi=[10, 5], ci=[3, 5], di=[7, 5], to="all")
    assert allc.vi[1] == pytest.approx(4 / 5.5, rel=1e-12)
    if0 = effect_sizes("OR", ai=[0, 5], bi=[10, 5], ci=[3, 5], di=[7, 5], to="if0all", add=1)
    assert if0.vi[1] == pytest.approx(4 / 6, rel=1e-12)
    none = effect_sizes("OR", ai=[1, 5], bi=[10, 5], ci=[3, 5], di=[7, 5], to="none")
    assert none.yi[0] == pytest.approx(math.log(7 / 30), rel=1e-12)


def test_drop00_gives_nan_only_for_double_zero_studies() -> None:
    es = effect_sizes("RR", ai=[0, 0, 2], n1i=[10, 10, 10], ci=[0, 1, 3], n2i=[12, 12, 12],
                      drop00=True)
    assert np.isnan(es.yi[0]) and np.isnan(es.vi[0])
    assert np.isfinite(es.yi[1:]).all() and np.isfinite(es.vi[1:]).all()
    kept = effect_sizes("RR", ai=[0], n1i=[10], ci=[0], n2i=[12])
    assert kept.yi[0] == pytest.approx(math.log((0.5 / 11) / (0.5 / 13)), rel=1e-12)
    irr = effect_sizes("IRR", x1i=[0, 2], t1i=[100, 100], x2i=[0, 4], t2i=[90, 90], drop00=True)
    assert np.isnan(irr.yi[0]) and irr.yi[1] == pytest.approx(math.log(0.02 / (4 / 90)))


def test_peto_by_hand() -> None:
    a, b, c, d = 4.0, 119.0, 11.0, 128.0
    n1, n2, n = a + b, c + d, a + b + c + d
    e = (a + c) * n1 / n
    v = (a + c) * (b + d) * n1 * n2 / (n**2 * (n - 1))
    es = effect_sizes("PETO", ai=a, bi=b, ci=c, di=d)
    assert es.yi[0] == pytest.approx((a - e) / v, rel=1e-12)
    assert es.vi[0] == pytest.approx(1 / v, rel=1e-12)


def test_proportions_by_hand() -> None:
    x, n = 3.0, 20.0
    pft = effect_sizes("PFT", xi=[x, 0], ni=[n, 10])
    assert pft.yi[0] == pytest.approx(0.5 * (math.asin(math.sqrt(x / 21))
                                             + math.asin(math.sqrt(4 / 21))))
    assert pft.vi[0] == pytest.approx(1 / 82)
    assert pft.vi[1] == pytest.approx(1 / 42)  # metafor: no correction for PFT unless add is set
    assert effect_sizes("PFT", xi=[0], ni=[10], add=0.5).vi[0] == pytest.approx(1 / 46)
    plo = effect_sizes("PLO", xi=[x], mi=[n - x])
    assert plo.yi[0] == pytest.approx(math.log(3 / 17))
    assert plo.vi[0] == pytest.approx(1 / 3 + 1 / 17)
    pr = effect_sizes("PR", xi=[0], ni=[10])
    assert pr.yi[0] == pytest.approx(0.5 / 11)
    assert pr.vi[0] == pytest.approx((0.5 / 11) * (10.5 / 11) / 11)


def test_correlations_by_hand() -> None:
    cor = effect_sizes("COR", ri=[0.3], ni=[50])
    assert cor.vi[0] == pytest.approx((1 - 0.09) ** 2 / 49)
    z = effect_sizes("ZCOR", ri=[0.3], ni=[50])
    assert z.yi[0] == pytest.approx(math.atanh(0.3)) and z.vi[0] == pytest.approx(1 / 47)
    zp = effect_sizes("ZPCOR", ti=[2.0], ni=[30], mi=[3])
    assert zp.yi[0] == pytest.approx(math.atanh(2 / math.sqrt(4 + 26)))
    assert zp.vi[0] == pytest.approx(1 / 25)        # metafor 5.0-1: 1/(n - m - 2)
    legacy = effect_sizes("ZPCOR", ti=[2.0], ni=[30], mi=[3], metafor="3.8")
    assert legacy.yi[0] == zp.yi[0] and legacy.vi[0] == pytest.approx(1 / 26)


def test_means_by_hand() -> None:
    md = effect_sizes("MD", m1i=5, sd1i=2, n1i=10, m2i=3, sd2i=1, n2i=20)
    assert md.yi[0] == 2 and md.vi[0] == pytest.approx(0.4 + 0.05)
    rom = effect_sizes("ROM", m1i=5, sd1i=2, n1i=10, m2i=4, sd2i=1, n2i=20)
    # Lajeunesse (2015, eq. 8): + (sd1^2/(n1 m1^2) - sd2^2/(n2 m2^2))/2
    assert rom.yi[0] == pytest.approx(math.log(1.25) + (4 / 250 - 1 / 320) / 2)
    assert rom.vi[0] == pytest.approx(4 / 250 + 1 / 320)
    for legacy in (dict(correct=False), dict(metafor="3.8")):
        old = effect_sizes("ROM", m1i=5, sd1i=2, n1i=10, m2i=4, sd2i=1, n2i=20, **legacy)
        assert old.yi[0] == pytest.approx(math.log(1.25)) and old.vi[0] == rom.vi[0]


def test_result_object() -> None:
    df = pd.DataFrame({"a": [4, 6], "b": [119, 300], "c": [11, 29], "d": [128, 274]},
                      index=["Aronson", "Ferguson"])
    es = effect_sizes("or", data=df, ai="a", bi="b", ci="c", di="d")
    assert isinstance(es, EffectSizes) and es.measure == "OR" and len(es) == 2
    assert es.labels == ["Aronson", "Ferguson"]
    frame = es.to_frame()
    assert list(frame.columns) == ["yi", "vi"] and list(frame.index) == ["Aronson", "Ferguson"]
    text = es.summary()
    assert "Aronson" in text and "95% CI lower" in text
    assert es.to_dict()["measure"] == "OR"
    assert "measure='OR'" in repr(es)
    with pytest.raises(AttributeError):
        es.measure = "RR"  # type: ignore[misc]
    mixed = effect_sizes("OR", data=df, ai="a", bi=[119, 300], ci="c", di="d", labels=["x", "y"])
    assert mixed.labels == ["x", "y"] and np.allclose(mixed.yi, es.yi)
    assert effect_sizes("OR", ai=4, bi=119, ci=11, di=128).labels is None


# --- bad input: one test per kind -----------------------------------------------------------------
@pytest.fixture
def means() -> pd.DataFrame:
    return pd.DataFrame({"m1": [10.0, 12.0], "sd1": [2.0, 3.0], "n1": [20, 25],
                         "m2": [9.0, 11.0], "sd2": [2.5, 3.0], "n2": [22, 24]},
                        index=["Smith 2001", "Jones 2005"])


def _smd(df: pd.DataFrame, **override: object) -> EffectSizes:
    args = dict(m1i="m1", sd1i="sd1", n1i="n1", m2i="m2", sd2i="sd2", n2i="n2")
    args.update(override)  # type: ignore[arg-type]
    return effect_sizes("SMD", data=df, **args)  # type: ignore[arg-type]


def _raises(match_all: list[str], fn, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    for part in match_all:
        assert part in msg, f"{part!r} not in {msg!r}"
    return msg


def test_sd_not_positive(means: pd.DataFrame) -> None:
    means.loc["Jones 2005", "sd2"] = 0.0
    _raises(["Jones 2005", "sd2", "> 0"], _smd, means)


def test_sample_size_below_two(means: pd.DataFrame) -> None:
    means.loc["Smith 2001", "n1"] = 1
    _raises(["Smith 2001", "n1", ">= 2"], _smd, means)


def test_missing_input_leaves_the_study_out(means: pd.DataFrame) -> None:
    """metafor drops a study with a missing input (NA) and reports it; so do we."""
    full = _smd(means)
    means.loc["Jones 2005", "m1"] = np.nan
    with pytest.warns(UserWarning, match=r"1 study with missing input.*Jones 2005.*m1"):
        es = _smd(means)
    assert np.isnan(es.yi[1]) and np.isnan(es.vi[1])
    assert es.yi[0] == full.yi[0] and es.vi[0] == full.vi[0]
    assert es.dropped[0].row == 2 and es.dropped[0].label == "Jones 2005"
    assert es.dropped[0].fields == ("m1",) and es.dropped[0].reason == "missing input"
    assert "Jones 2005" in es.summary() and es.to_dict()["dropped"][0]["fields"] == ["m1"]


def test_missing_input_completed_from_totals() -> None:
    """A missing non-event count is no loss when the group size gives it (metafor's replmiss)."""
    es = effect_sizes("OR", ai=[4, 6], bi=[np.nan, 300], n1i=[123, np.nan], ci=[11, 29],
                      di=[128, 274])
    assert es.dropped == () and es.yi[0] == pytest.approx(math.log(4 * 128 / (119 * 11)))
    with pytest.warns(UserWarning, match="row 2"):
        es = effect_sizes("OR", ai=[4, 6], bi=[119, None], ci=[11, 29], di=[128, 274])
    assert np.isnan(es.yi[1]) and es.dropped[0].fields == ("bi",)


def test_missing_input_of_unused_argument_is_harmless() -> None:
    es = effect_sizes("VR", m1i=[np.nan], sd1i=[2.0], n1i=[20], m2i=[1.0], sd2i=[2.5], n2i=[20])
    assert es.dropped == () and np.isfinite(es.yi).all()


def test_missing_input_with_impossible_value_still_raises(means: pd.DataFrame) -> None:
    means.loc["Jones 2005", "m1"] = np.nan
    means.loc["Smith 2001", "sd2"] = -1.0
    _raises(["Smith 2001", "sd2", "> 0"], _smd, means)


def test_infinite_input(means: pd.DataFrame) -> None:
    means.loc["Smith 2001", "sd1"] = np.inf
    _raises(["Smith 2001", "sd1", "finite"], _smd, means)


def test_non_numeric_input(means: pd.DataFrame) -> None:
    means["m2"] = means["m2"].astype(object)
    means.loc["Jones 2005", "m2"] = "n/a"
    _raises(["Jones 2005", "m2", "not a number"], _smd, means)


def test_events_exceed_group_size() -> None:
    df = pd.DataFrame({"e": [3, 12], "n": [10, 10], "ec": [2, 2], "nc": [10, 10]}, index=["A", "B"])
    _raises(["'B'", "'e'", "exceed", "'n'"], effect_sizes, "OR", data=df, ai="e", n1i="n",
            ci="ec", n2i="nc")
    _raises(["row 2", "xi", "exceed"], effect_sizes, "PLO", xi=[1, 5], ni=[4, 4])


def test_negative_count() -> None:
    _raises(["study 'B'", "'ci'", ">= 0"], effect_sizes, "RR", ai=[1, 1], bi=[5, 5], ci=[2, -1],
            di=[5, 5], labels=["A", "B"])
    _raises(["row 1", "x2i", ">= 0"], effect_sizes, "IRR", x1i=[1], t1i=[10], x2i=[-2], t2i=[10])


def test_person_time_not_positive() -> None:
    _raises(["row 1", "t1i", "> 0"], effect_sizes, "IRR", x1i=[1], t1i=[0], x2i=[2], t2i=[10])


def test_empty_group() -> None:
    _raises(["row 1", "n2i", "no participants"], effect_sizes, "RD", ai=[0], n1i=[5], ci=[0],
            n2i=[0])


def test_inconsistent_table() -> None:
    _raises(["row 1", "n1i", "must equal"], effect_sizes, "OR", ai=[2], bi=[5], n1i=[9], ci=[1],
            di=[4])


def test_correlation_out_of_range() -> None:
    _raises(["study 'S2'", "'r'", "1"], effect_sizes, "ZCOR", data={"r": [0.2, 1.2], "n": [30, 40]},
            ri="r", ni="n", labels=["S1", "S2"])
    _raises(["row 1", "ri"], effect_sizes, "COR", ri=[-1.0], ni=[30])


def test_correlation_sample_too_small() -> None:
    _raises(["row 1", "ni", ">= 5"], effect_sizes, "COR", ri=[0.2], ni=[4])


def test_partial_correlation_df() -> None:
    _raises(["row 1", "ni", "degrees of freedom"], effect_sizes, "ZPCOR", ti=[2.0], ni=[5], mi=[4])


def test_ratio_of_means_undefined(means: pd.DataFrame) -> None:
    means.loc["Jones 2005", "m2"] = -11.0
    msg = _raises(["Jones 2005", "m1", "m2", "ROM"], effect_sizes, "ROM", data=means, m1i="m1",
                  sd1i="sd1", n1i="n1", m2i="m2", sd2i="sd2", n2i="n2")
    assert "same sign" in msg


def test_zero_cell_without_correction() -> None:
    _raises(["row 1", "ai", "continuity correction"], effect_sizes, "OR", ai=[0], bi=[5], ci=[1],
            di=[5], to="none")


def test_mismatched_lengths() -> None:
    _raises(["mismatched lengths", "ai: 2", "bi: 3"], effect_sizes, "OR", ai=[1, 2], bi=[3, 4, 5],
            ci=[1, 2], di=[3, 4])


def test_labels_wrong_length() -> None:
    _raises(["labels", "expected 2"], effect_sizes, "OR", ai=[1, 2], bi=[3, 4], ci=[1, 2],
            di=[3, 4], labels=["only one"])


def test_unknown_measure() -> None:
    _raises(["measure", "'XYZ'", "SMD"], effect_sizes, "XYZ", ai=[1])


def test_unknown_option() -> None:
    _raises(["'to'", "'sometimes'"], effect_sizes, "OR", ai=[1], bi=[2], ci=[3], di=[4],
            to="sometimes")
    _raises(["'add'", ">= 0"], effect_sizes, "OR", ai=[1], bi=[2], ci=[3], di=[4], add=-1.0)


def test_missing_column(means: pd.DataFrame) -> None:
    _raises(["'sd2i'", "'sd_2'", "not found"], _smd, means, sd2i="sd_2")


def test_column_name_without_data() -> None:
    _raises(["'ri'", "no data="], effect_sizes, "ZCOR", ri="r", ni=[10])


def test_missing_required_argument() -> None:
    _raises(["'SMD'", "'sd2i'"], effect_sizes, "SMD", m1i=[1], sd1i=[1], n1i=[5], m2i=[1], n2i=[5])
    _raises(["'OR'", "'di' or 'n2i'"], effect_sizes, "OR", ai=[1], bi=[2], ci=[3])


def test_argument_not_used_by_measure() -> None:
    _raises(["'ZCOR'", "ai"], effect_sizes, "ZCOR", ri=[0.1], ni=[10], ai=[3])


def test_per_study_vtype_bad_input() -> None:
    """One vtype per study: the right number, each one the measure takes (the study named)."""
    tables = {"ai": [4, 6, 3], "bi": [119, 300, 50], "ci": [11, 29, 7], "di": [128, 274, 60]}
    with pytest.raises(InputError, match="2 values for 3 studies"):
        effect_sizes("RD", **tables, vtype=["LS", "UB"])
    with pytest.raises(InputError, match="study 2, field 'vtype': RD takes vtype"):
        effect_sizes("RD", **tables, vtype=["LS", "HO", "UB"])
    same = effect_sizes("RD", **tables, vtype=["UB"] * 3)
    np.testing.assert_array_equal(same.vi, effect_sizes("RD", **tables, vtype="UB").vi)


def test_mporm_needs_a_correlation_in_range() -> None:
    tables = {"ai": [10, 5], "bi": [20, 25], "ci": [15, 8], "di": [15, 22]}
    with pytest.raises(InputError, match="needs argument 'ri'"):
        effect_sizes("MPORM", **tables)
    with pytest.raises(InputError, match="ri"):
        effect_sizes("MPORM", **tables, ri=[0.3, 1.2])
    with pytest.raises(InputError, match="does not use argument"):
        effect_sizes("MPOR", **tables, ri=[0.3, 0.2])
    es = effect_sizes("MPORM", **tables, ri=[0.0, 0.0])     # r = 0: the independent-groups OR
    np.testing.assert_allclose(es.vi, effect_sizes("OR", **tables).vi, rtol=1e-15)


def test_smd_from_p_values_and_f_statistics() -> None:
    """metafor 5's pi/fi: a signed two-sided p-value of the two-sample t test, or a signed F
    (= t²), give the SMD of that t (t from SciPy's t distribution here)."""
    from scipy import stats

    t = np.array([2.0, -1.2, 0.3])
    n1, n2 = np.array([15, 20, 8]), np.array([15, 22, 9])
    p = np.sign(t) * 2 * stats.t.sf(np.abs(t), n1 + n2 - 2)
    want = effect_sizes("SMD", ti=t, n1i=n1, n2i=n2)
    for kw in ({"pi": p}, {"fi": np.sign(t) * t**2}):
        got = effect_sizes("SMD", n1i=n1, n2i=n2, **kw)
        np.testing.assert_allclose(got.yi, want.yi, rtol=1e-12)
        np.testing.assert_allclose(got.vi, want.vi, rtol=1e-12)
    mixed = effect_sizes("SMD", di=[np.nan, 0.4, np.nan], ti=[2.0, np.nan, np.nan],
                         pi=[np.nan, np.nan, p[2]], n1i=n1, n2i=n2)
    np.testing.assert_allclose(mixed.yi[[0, 2]], want.yi[[0, 2]], rtol=1e-12)
    # metafor's help page (escalc, measure "SMD"): pi = -0.018 with 20 + 20 gives -0.7664
    doc = effect_sizes("SMD", pi=[-0.018], n1i=[20], n2i=[20])
    assert round(float(doc.yi[0]), 4) == -0.7664
    with pytest.raises(InputError, match="p-value of 0"):
        effect_sizes("SMD", pi=[0.0], n1i=[10], n2i=[10])
    with pytest.raises(InputError, match="pi"):
        effect_sizes("SMD", pi=[1.5], n1i=[10], n2i=[10])
    with pytest.raises(InputError, match="does not use argument"):
        effect_sizes("MD", pi=[0.05], n1i=[10], n2i=[10], m1i=[1], m2i=[0], sd1i=[1], sd2i=[1])


def test_correlations_from_t_and_p() -> None:
    """metafor 5: COR/UCOR/ZCOR also from the t statistic of the test of rho = 0 or its
    signed two-sided p-value; r = t / sqrt(t² + n - 2) (t from SciPy here)."""
    from scipy import stats

    r, n = np.array([0.35, -0.2, 0.05]), np.array([30, 45, 12])
    t = r * np.sqrt(n - 2) / np.sqrt(1 - r**2)
    p = np.sign(t) * 2 * stats.t.sf(np.abs(t), n - 2)
    for code in ("COR", "UCOR", "ZCOR"):
        want = effect_sizes(code, ri=r, ni=n)
        for kw in ({"ti": t}, {"pi": p}):
            got = effect_sizes(code, ni=n, **kw)
            np.testing.assert_allclose(got.yi, want.yi, rtol=1e-12)
            np.testing.assert_allclose(got.vi, want.vi, rtol=1e-12)
    # metafor's help page (escalc, measure "COR"): pi = -0.07 with n = 30 gives -0.3354
    assert round(float(effect_sizes("COR", pi=[-0.07], ni=[30]).yi[0]), 4) == -0.3354
    with pytest.warns(UserWarning, match="missing input"):
        part = effect_sizes("COR", ri=[0.3, np.nan], ti=[np.nan, np.nan], ni=[30, 40])
    assert np.isnan(part.yi[1]) and part.yi[0] == pytest.approx(0.3)


def test_point_biserial_from_d() -> None:
    """metafor 5: RPB/RBIS (and their z) also from a d, t or p with the group sizes; the
    point-biserial r = d / sqrt(d² + (N² - 2N)/(n1 n2)) (e.g. Borenstein et al. 2009)."""
    d, n1, n2 = np.array([0.5, -0.8]), np.array([20, 35]), np.array([22, 30])
    big_n = n1 + n2
    rpb = effect_sizes("RPB", di=d, n1i=n1, n2i=n2)
    np.testing.assert_allclose(rpb.yi, d / np.sqrt(d**2 + (big_n**2 - 2 * big_n) / (n1 * n2)),
                               rtol=1e-12)
    t = d / np.sqrt(1 / n1 + 1 / n2)
    for code in ("RPB", "ZPB", "RBIS", "ZBIS"):
        np.testing.assert_allclose(effect_sizes(code, ti=t, n1i=n1, n2i=n2).yi,
                                   effect_sizes(code, di=d, n1i=n1, n2i=n2).yi, rtol=1e-12)


def test_small_p_values_keep_their_precision() -> None:
    """pi = 1e-15 and 1e-17 give the upper-tail t (SciPy's isf), not a cancelled or
    infinite one."""
    from scipy import stats

    for p in (1e-15, 1e-17):
        got = effect_sizes("SMD", pi=[p], n1i=[10], n2i=[10]).yi
        want = effect_sizes("SMD", ti=[stats.t.isf(p / 2, 18)], n1i=[10], n2i=[10]).yi
        np.testing.assert_allclose(got, want, rtol=1e-12)
