"""Network meta-analysis: bad input is refused with the row, study and field named; the fit is
invariant to how the contrasts are written; orientations of every table are as documented."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import metaverdict as mv
from metaverdict.errors import InputError
from metaverdict.network import network_connectivity, network_meta_analysis, pairwise


def triangle() -> pd.DataFrame:
    """Two-arm studies on A, B, C and one three-arm study (s4)."""
    return pd.DataFrame({
        "studlab": ["s1", "s2", "s3", "s4", "s4", "s4", "s5"],
        "treat1": ["A", "A", "B", "A", "A", "B", "A"],
        "treat2": ["B", "C", "C", "B", "C", "C", "B"],
        "TE": [-0.5, -0.9, -0.3, -0.4, -0.8, -0.4, -0.1],
        "seTE": [0.2, 0.25, 0.3, 0.3, 0.3, 0.35, 0.4]})


# --- bad input ----------------------------------------------------------------------------------
def test_disconnected_network_names_its_components() -> None:
    df = triangle()
    extra = pd.DataFrame({"studlab": ["s9"], "treat1": ["D"], "treat2": ["E"], "TE": [0.1],
                          "seTE": [0.2]})
    with pytest.raises(InputError) as err:
        network_meta_analysis(pd.concat([df, extra]), method_tau="DL")
    msg = str(err.value)
    assert "disconnected: 2 sub-networks" in msg
    assert "1: A, B, C" in msg and "2: D, E" in msg
    con = network_connectivity(pd.concat([df, extra]))
    assert con.subnetworks() == [["A", "B", "C"], ["D", "E"]]
    assert math.isinf(con.distance.loc["A", "E"]) and con.distance.loc["A", "C"] == 1
    assert "2 sub-networks" in con.summary()


@pytest.mark.parametrize("se", [0.0, -0.2, np.inf])
def test_non_positive_se_names_row_and_field(se: float) -> None:
    df = triangle()
    df.loc[2, "seTE"] = se
    with pytest.raises(InputError, match=r"row 3 \(study 's3'\), field 'seTE'"):
        network_meta_analysis(df)


def test_missing_te_is_left_out_with_a_warning() -> None:
    df = triangle()
    df.loc[6, "TE"] = np.nan
    net = network_meta_analysis(df, method_tau="DL")
    assert net.m == 6 and net.contrasts.dropped == (6,)
    assert any("row 7 (study 's5')" in w for w in net.warnings)


def test_repeated_treatment_in_a_study() -> None:
    df = triangle()
    df.loc[6, "studlab"] = "s1"          # s1 now compares A with B twice
    with pytest.raises(InputError, match=r"study 's1': rows 1 and 7 both compare 'A' with 'B'"):
        network_meta_analysis(df)


def test_treatment_compared_with_itself() -> None:
    df = triangle()
    df.loc[0, "treat2"] = "A"
    with pytest.raises(InputError, match=r"row 1 \(study 's1'\).*'A' twice"):
        network_meta_analysis(df)


def test_incomplete_multiarm_study() -> None:
    df = triangle().drop(index=5)
    with pytest.raises(InputError, match=r"study 's4': 2 contrast\(s\) between 3 treatments.*"
                                         r"missing: B vs C"):
        network_meta_analysis(df)


def test_inconsistent_multiarm_study() -> None:
    df = triangle()
    df.loc[5, "TE"] = 0.5                 # B vs C should be -0.4 = -0.8 - (-0.4)
    with pytest.raises(InputError, match=r"study 's4'.*inconsistent"):
        network_meta_analysis(df)


def test_unknown_column_reference_and_options() -> None:
    with pytest.raises(InputError, match=r"field 'te': no column 'effect'"):
        network_meta_analysis(triangle(), te="effect")
    with pytest.raises(InputError, match=r"field 'reference': 'Z' is not a treatment"):
        network_meta_analysis(triangle(), reference="Z")
    with pytest.raises(InputError, match=r"method_tau"):
        network_meta_analysis(triangle(), method_tau="PM")
    with pytest.raises(InputError, match=r"small_values"):
        network_meta_analysis(triangle(), method_tau="DL").p_scores()
    with pytest.raises(InputError, match=r"small_values"):
        network_meta_analysis(triangle(), method_tau="DL").p_scores("lower")


def test_non_numeric_te_names_row() -> None:
    df = triangle().astype({"TE": object})
    df.loc[1, "TE"] = "n/a"
    with pytest.raises(InputError, match=r"row 2 \(study 's2'\), field 'TE': not a number"):
        network_meta_analysis(df)


def test_pairwise_errors_name_study_and_field() -> None:
    arms = pd.DataFrame({"study": ["a", "a", "b", "b"], "trt": ["X", "X", "X", "Y"],
                         "e": [1, 2, 3, 4], "n": [10, 10, 10, 10]})
    with pytest.raises(InputError, match=r"study 'a': treatment 'X' appears in arms 1 and 2"):
        pairwise(arms, treat="trt", event="e", n="n", studlab="study", sm="OR")
    arms.loc[1, "trt"] = "Y"
    arms.loc[3, "e"] = 12
    with pytest.raises(InputError, match=r"study 'b', arm 2 \('Y'\), field 'e': events \(12\)"):
        pairwise(arms, treat="trt", event="e", n="n", studlab="study", sm="OR")
    with pytest.raises(InputError, match=r"needs the arm-level field 'n'"):
        pairwise(arms, treat="trt", event="e", studlab="study", sm="OR")
    with pytest.raises(InputError, match=r"unknown summary measure"):
        pairwise(arms, treat="trt", event="e", n="n", studlab="study", sm="HR")


# --- invariances ----------------------------------------------------------------------------------
def test_fit_does_not_depend_on_row_order_or_orientation() -> None:
    df = triangle()
    base = network_meta_analysis(df, reference="A", method_tau="REML")
    flipped = df.copy()
    flipped.loc[[0, 4], ["treat1", "treat2"]] = flipped.loc[[0, 4], ["treat2", "treat1"]].values
    flipped.loc[[0, 4], "TE"] *= -1
    shuffled = flipped.sample(frac=1.0, random_state=3)
    other = network_meta_analysis(shuffled, reference="A", method_tau="REML")
    np.testing.assert_allclose(other.random.estimate, base.random.estimate, atol=1e-12)
    np.testing.assert_allclose(other.random.se, base.random.se, atol=1e-12)
    assert other.q == pytest.approx(base.q, abs=1e-12)
    assert other.tau2 == pytest.approx(base.tau2, abs=1e-10)


def test_two_arm_network_equals_pairwise_meta_analysis() -> None:
    df = pd.DataFrame({"studlab": ["a", "b", "c", "d"], "treat1": ["A"] * 4,
                       "treat2": ["B"] * 4, "TE": [0.1, 0.5, -0.2, 0.3],
                       "seTE": [0.2, 0.3, 0.25, 0.15]})
    for method in ("DL", "REML"):
        net = network_meta_analysis(df, method_tau=method)
        pw = mv.meta_analysis(df["TE"], df["seTE"] ** 2, method=method)
        assert net.random.estimate[0, 1] == pytest.approx(pw.estimate, rel=1e-8)
        assert net.random.se[0, 1] == pytest.approx(pw.se, rel=1e-8)
        assert net.tau2 == pytest.approx(pw.tau2, rel=1e-7, abs=1e-12)
        assert net.q == pytest.approx(pw.q, rel=1e-10)


def test_multiarm_reduced_weights_reproduce_the_covariance() -> None:
    # a network of one three-arm study fits its own contrasts exactly
    df = triangle()[triangle()["studlab"] == "s4"]
    net = network_meta_analysis(df, method_tau="DL")
    assert net.q == pytest.approx(0.0, abs=1e-20) and net.q_df == 0
    assert math.isnan(net.tau2)
    np.testing.assert_allclose(net.common.estimate[0, 1:], [-0.4, -0.8], atol=1e-12)


# --- orientations ---------------------------------------------------------------------------------
def test_estimates_are_column_versus_row_and_league_follows_netmeta() -> None:
    net = network_meta_analysis(triangle(), reference="A", method_tau="DL")
    est = net.estimates(model="common")
    raw = net.estimates(model="common", orientation="row_vs_column")
    assert est.loc["A", "B"] == pytest.approx(net.common.pair("B", "A")["estimate"])
    assert raw.loc["A", "B"] == pytest.approx(net.common.pair("A", "B")["estimate"])
    assert est.loc["A", "B"] == pytest.approx(-raw.loc["A", "B"])
    lt = net.league("common").frame()
    # lower triangle: column versus row (network); upper: row versus column (direct)
    assert lt.loc["B", "A"] == pytest.approx(net.common.pair("A", "B")["estimate"])
    assert lt.loc["A", "B"] == pytest.approx(net.direct_common.pair("A", "B")["estimate"])
    long = net.comparisons_table("common")
    assert list(long.columns[:3]) == ["treat1", "treat2", "estimate"]
    assert long.loc[0, "estimate"] == pytest.approx(raw.loc["A", "B"])


def test_p_scores_direction_is_explicit() -> None:
    net = network_meta_analysis(triangle(), reference="A", method_tau="DL")
    good = net.p_scores(small_values="good")
    bad = net.p_scores(small_values="bad")
    # TE(A vs others) < 0: A has the smallest effects, best when small values are good
    assert good.table().index[0] == "A" and bad.table().index[0] == "C"
    np.testing.assert_allclose(good.random + bad.random[::1], 1.0)
    assert good.small_values == "desirable" and bad.small_values == "undesirable"
    assert "small effects are better" in good.summary()


def test_netsplit_back_calculation_identities() -> None:
    net = network_meta_analysis(triangle(), reference="A", method_tau="DL")
    ns = net.netsplit()
    assert ns.comparisons == ("B:A", "C:A", "B:C")          # reference second
    t = ns.table("common")
    p = t["proportion"]
    # the network estimate is the weighted mean of direct and indirect evidence
    np.testing.assert_allclose(t["nma"], p * t["direct"] + (1 - p) * t["indirect"], atol=1e-12)
    np.testing.assert_allclose(t["difference"], t["direct"] - t["indirect"], atol=1e-12)
    sidde = net.netsplit("SIDDE")
    assert sidde.method == "SIDDE" and np.isfinite(sidde.part("indirect", "common")).all().all()


def test_contributions_rows_sum_to_one() -> None:
    net = network_meta_analysis(triangle(), reference="A", method_tau="DL")
    for method in ("shortestpath", "pseudoinverse"):
        cm = net.contributions(method)
        np.testing.assert_allclose(cm.weights.sum(axis=1), 1.0, atol=1e-12)
        assert (cm.weights >= -1e-12).all()


def test_results_are_frozen_and_serialise() -> None:
    net = network_meta_analysis(triangle(), method_tau="DL")
    with pytest.raises(Exception):
        net.q = 1.0   # type: ignore[misc]
    with pytest.raises(ValueError):
        net.common.estimate[0, 1] = 1.0
    d = net.to_dict()
    json.dumps(d)
    assert d["q"] == pytest.approx(net.q) and d["treatments"] == ["A", "B", "C"]
    assert "design_decomposition" in d and "contrast_table" in d
    text = net.summary()
    assert "Random effects model, versus A" in text and "between designs" in text
    for part in (net.league(), net.p_scores("good"), net.netsplit(), net.decomposition(),
                 net.measures(), net.contributions()):
        assert part.summary()
        json.dumps(part.to_dict())


def test_single_design_has_no_decomposition() -> None:
    df = pd.DataFrame({"studlab": ["a", "b"], "treat1": ["A", "A"], "treat2": ["B", "B"],
                       "TE": [0.1, 0.3], "seTE": [0.2, 0.2]})
    net = network_meta_analysis(df, method_tau="DL")
    assert net.design_decomposition is None and math.isnan(net.q_within)
    with pytest.raises(InputError, match="single design"):
        net.decomposition()


def test_pairwise_feeds_arm_level_data_to_reml() -> None:
    arms = pd.DataFrame({"study": ["a", "a", "a", "b", "b", "c", "c", "d", "d"],
                         "trt": ["P", "X", "Y", "P", "X", "P", "Y", "X", "Y"],
                         "e": [10, 6, 8, 12, 7, 9, 4, 5, 6], "n": [40] * 9})
    pw = pairwise(arms, treat="trt", event="e", n="n", studlab="study", sm="OR")
    assert pw.k == 4 and pw.m == 6
    net = mv.network.network_meta_analysis(pw, reference="P")
    assert net.sm == "OR" and net.method_tau == "REML" and net.tau2 >= 0
    assert "OR, back-transformed" in net.summary()


def test_ml_and_preset_tau() -> None:
    df = pd.DataFrame({"studlab": ["a", "b", "c", "d"], "treat1": ["A"] * 4,
                       "treat2": ["B"] * 4, "TE": [0.1, 0.5, -0.2, 0.3],
                       "seTE": [0.2, 0.3, 0.25, 0.15]})
    ml = network_meta_analysis(df, method_tau="ML")
    ref = mv.meta_analysis(df["TE"], df["seTE"] ** 2, method="ML")
    assert ml.tau2 == pytest.approx(ref.tau2, rel=1e-7)
    preset = network_meta_analysis(triangle(), tau_preset=0.2)
    assert preset.method_tau == "preset" and preset.tau == 0.2
    np.testing.assert_allclose(preset.fit_random.se_adj[0], math.sqrt(0.2**2 + 0.04))
    with pytest.raises(InputError, match="tau_preset"):
        network_meta_analysis(triangle(), tau_preset=-1)


def test_prediction_needs_two_degrees_of_freedom() -> None:
    df = triangle().iloc[:3]                      # a triangle of three studies: df = 1
    net = network_meta_analysis(df, method_tau="DL")
    assert net.q_df == 1 and np.isnan(net.prediction.ci_lower).all()
    net = network_meta_analysis(triangle(), method_tau="DL")
    assert net.q_df == 4 and np.isfinite(net.prediction.ci_lower).all()


def test_continuity_correction_is_per_study() -> None:
    # meta adds incr to every contrast of a study with a zero arm, so that the contrasts of a
    # multi-arm study stay consistent (netmeta's multi-arm check then passes)
    arms = pd.DataFrame({"study": ["a", "a", "a", "b", "b"], "trt": ["P", "X", "Y", "P", "X"],
                         "e": [0, 5, 3, 4, 6], "n": [20, 20, 20, 30, 30]})
    pw = pairwise(arms, treat="trt", event="e", n="n", studlab="study", sm="OR")
    c = pw.contrasts
    assert c.loc[c["studlab"] == "a", "incr1"].tolist() == [0.5, 0.5, 0.5]
    assert c.loc[c["studlab"] == "b", "incr1"].tolist() == [0.0]
    xy = c[(c["treat1"] == "X") & (c["treat2"] == "Y")].iloc[0]
    assert xy["TE"] == pytest.approx(np.log(5.5 / 15.5) - np.log(3.5 / 17.5))
    a = c[c["studlab"] == "a"].set_index(["treat1", "treat2"])["TE"]
    assert a[("P", "Y")] == pytest.approx(a[("P", "X")] + a[("X", "Y")])
    net = network_meta_analysis(pw, method_tau="DL")
    assert net.m == 4
