"""Trial analyses checked against independent computations: statsmodels OLS (ANCOVA), the
published Newcombe (1998) interval, metafor's escalc (lnVR), a GLS written out here (pooling with
the between-visit covariance), and a planted moderator effect; plus the SIMULATED demo data's
published P-value pattern and the validation of participant data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import metaverdict as mv
from metaverdict.errors import InputError
from metaverdict.trials import analyze_outcome, analyze_trial, load_marathon_trial, trial_data
from metaverdict.trials.analysis import ancova_at_visit, newcombe_interval, nnt_label
from metaverdict.trials.simulate import bundled_path, simulate_marathon_trial


@pytest.fixture(scope="module")
def marathon():
    return analyze_trial(load_marathon_trial(), mcid=1.0, moderator="belief")


def test_ancova_matches_statsmodels_ols() -> None:
    sm = pytest.importorskip("statsmodels.api", reason="statsmodels is in the dev extra")
    rng = np.random.default_rng(7)
    base = rng.normal(4, 2, 40)
    arm = np.repeat([0.0, 1.0], 20)
    y = 1 + 0.6 * base + 0.8 * arm + rng.normal(0, 1.5, 40)
    ours = ancova_at_visit(y, base, arm)
    ols = sm.OLS(y, sm.add_constant(np.column_stack([base, arm]))).fit()
    lo, hi = ols.conf_int()[2]
    np.testing.assert_allclose([ours["estimate"], ours["se"], ours["pvalue"], ours["ci_lower"],
                                ours["ci_upper"], ours["df"]],
                               [ols.params[2], ols.bse[2], ols.pvalues[2], lo, hi, ols.df_resid],
                               rtol=1e-10)


def test_newcombe_interval_published_example() -> None:
    # Newcombe (1998) Stat Med 17:873-890, Table II, example (a): 56/70 vs 48/80, method 10
    # (hybrid score, no continuity correction): 0.0524 to 0.3339 (also reproduced with R's
    # prop.test Wilson limits, 2026-12-02: 0.052431, 0.333873).
    rd, lo, hi = newcombe_interval(56, 70, 48, 80)
    assert rd == pytest.approx(0.2)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)


def test_nnt_label_follows_altman() -> None:
    assert nnt_label(0.2, 0.05, 0.35).startswith("NNTB 5.0 (2.9 to 20.0)")
    assert nnt_label(-0.25, -0.4, -0.1).startswith("NNTH 4.0 (2.5 to 10.0)")
    # an interval through 0: "NNTB 10 (NNTH 10 to infinity to NNTB 3.3)" (Altman 1998)
    assert nnt_label(0.1, -0.1, 0.3) == "NNTB 10.0 (NNTH 10.0 to inf to NNTB 3.3)"


def test_lnvr_equals_metafor_escalc_vr() -> None:
    # metafor 3.8-1: escalc("VR", sd1i=c(1.2,2.5,0.8), n1i=c(27,26,9), sd2i=c(1.9,2.0,0.8),
    # n2i=c(34,33,12), m1i=0, m2i=0), run 2026-12-02
    es = mv.effect_sizes("VR", sd1i=[1.2, 2.5, 0.8], n1i=[27, 26, 9], sd2i=[1.9, 2.0, 0.8],
                         n2i=[34, 33, 12], m1i=[0, 0, 0], m2i=[0, 0, 0])
    np.testing.assert_allclose(es.yi, [-0.455453075299, 0.227518551314, 0.017045454545],
                               rtol=1e-10)
    np.testing.assert_allclose(es.vi, [0.034382284382, 0.035625000000, 0.107954545455],
                               rtol=1e-10)


def test_marathon_lnvr_from_change_scores(marathon) -> None:
    o = marathon["soleus soreness"]
    f = load_marathon_trial().outcome_frame("soleus soreness").dropna(subset=["value"])
    at = f[f["visit"] == 1]
    ch = at["value"] - at["baseline"]
    t, c = ch[at["arm"] == "dry needling"], ch[at["arm"] == "sham"]
    want = (np.log(t.std() / c.std()) + 1 / (2 * (len(t) - 1)) - 1 / (2 * (len(c) - 1)))
    assert o.lnvr["lnvr"].iloc[0] == pytest.approx(want, rel=1e-12)


def test_simulated_bundle_is_reproducible_and_labelled() -> None:
    on_disk = pd.read_csv(bundled_path())
    again = simulate_marathon_trial()
    pd.testing.assert_frame_equal(on_disk, again, check_dtype=False)
    assert "simulated" in bundled_path().name and on_disk["simulated"].all()
    meta = bundled_path().with_suffix(".json").read_text()
    assert '"simulated": true' in meta
    data = load_marathon_trial()
    assert data.simulated and "SIMULATED" in data.summary()


def test_simulated_data_reproduce_published_p_pattern(marathon) -> None:
    # cushman2021 (bundled evidence): soleus higher with needling on day 1 (P <= 0.003) and
    # day 2 (P <= 0.041); vastus medialis and cramping: no difference (P > 0.05)
    sol = marathon["soleus soreness"].visits.set_index("visit")
    assert sol.loc[1, "difference"] > 0 and sol.loc[1, "pvalue"] <= 0.003
    assert sol.loc[2, "difference"] > 0 and sol.loc[2, "pvalue"] <= 0.041
    assert (sol.loc[[3, 7], "pvalue"] > 0.05).all()
    assert (marathon["vastus medialis soreness"].visits["pvalue"] > 0.05).all()
    first = simulate_marathon_trial().drop_duplicates("participant")
    table = pd.crosstab(first["arm"], first["cramps"]).to_numpy()
    assert stats.fisher_exact(table)[1] > 0.05
    assert "SIMULATED" in marathon.summary()


def test_study_results_carry_the_between_visit_covariance(marathon) -> None:
    sr = marathon.to_study_results("cushman2021-simulated")
    f = sr.frame
    assert f["simulated"].all() and len(f) == 8
    np.testing.assert_allclose(np.diag(sr.V), f["vi"], rtol=1e-12)
    np.testing.assert_allclose(sr.V, sr.V.T)
    assert np.all(np.linalg.eigvalsh(sr.V) > 0)
    sol = (f["outcome"] == "soleus soreness").to_numpy()
    assert np.abs(sr.V[np.ix_(sol, ~sol)]).max() == 0.0          # separate fits
    assert np.abs(sr.V[np.ix_(sol, sol)] - np.diag(np.diag(sr.V[np.ix_(sol, sol)]))).max() > 0
    # GLS with V, written out: (1' V^-1 y) / (1' V^-1 1)
    y, v = f["yi"].to_numpy()[sol], sr.V[np.ix_(sol, sol)]
    vinv = np.linalg.inv(v)
    want = vinv.sum(axis=0) @ y / vinv.sum()
    got = sr.pooled("soleus soreness")
    assert got["estimate"] == pytest.approx(want, rel=1e-12)
    assert got["se"] == pytest.approx(vinv.sum() ** -0.5, rel=1e-12)
    independent = np.sum(y / np.diag(v)) / np.sum(1 / np.diag(v))
    assert abs(got["estimate"] - independent) > 1e-6            # the covariance matters
    # mv.multilevel consumes the rows with their covariance
    rows = f[sol].reset_index(drop=True)
    ml = mv.multilevel("yi", V=v, groups=["visit"], data=rows)
    ml_diag = mv.multilevel("yi", "vi", groups=["visit"], data=rows)
    assert np.isfinite(ml.estimate) and ml.estimate != pytest.approx(ml_diag.estimate)


def test_moderator_recovers_a_planted_interaction() -> None:
    rng = np.random.default_rng(11)
    n, days = 200, (1, 2, 7)
    rows = []
    for i in range(n):
        arm = "dn" if i % 2 else "sham"
        belief = int(rng.integers(0, 11))
        base = rng.normal(4, 1.5)
        shared = rng.normal(0, 1.0)
        for d in days:
            effect = (-0.3 * (belief - 5)) if arm == "dn" else 0.0      # -0.3 per point
            rows.append({"participant": i, "arm": arm, "visit": d, "outcome": "pain",
                         "value": 3 + 0.5 * base + effect + shared + rng.normal(0, 1.0),
                         "baseline": base, "belief": belief})
    data = trial_data(pd.DataFrame(rows), control="sham", covariates=["belief"])
    mod = analyze_outcome(data, "pain", moderator="belief").moderation
    assert mod.ci_lower < -0.3 < mod.ci_upper and mod.conclusion == "supported"


def _rows(**change: object) -> pd.DataFrame:
    d = pd.DataFrame({"participant": [1, 1, 2, 2], "arm": ["dn", "dn", "sham", "sham"],
                      "visit": [1, 2, 1, 2], "outcome": "pain", "value": [3.0, 2.0, 4.0, 3.0],
                      "baseline": [5.0, 5.0, 5.0, 5.0]}).astype(object)
    for key, value in change.items():
        col, row = key.rsplit("_", 1)
        d.loc[int(row), col] = value
    return d


@pytest.mark.parametrize(("change", "message"), [
    ({"value_1": "high"}, "row 2, column 'value': not a finite number"),
    ({"arm_1": "sham"}, "row 2, column 'arm': differs"),
    ({"baseline_1": 4.0}, "row 2, column 'baseline': differs"),
    ({"visit_1": 1}, "row 2: participant '1' has outcome 'pain' at visit 1 twice"),
    ({"participant_3": " "}, "row 4, column 'participant': empty"),
    ({"baseline_0": None}, "row 1, column 'baseline': empty"),
])
def test_trial_data_errors_name_row_and_column(change: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        trial_data(_rows(**change))


def test_trial_data_missing_column_and_arms() -> None:
    with pytest.raises(InputError, match="missing column.*'baseline'"):
        trial_data(_rows().drop(columns="baseline"))
    three = _rows()
    three.loc[3, "arm"] = "third"
    three.loc[2, "arm"] = "third"
    three.loc[0:1, "arm"] = "dn"
    three = pd.concat([three, _rows().iloc[2:].assign(participant=3)])
    with pytest.raises(InputError, match="exactly two arms"):
        trial_data(three)


def test_missing_visits_are_counted_per_arm_and_visit() -> None:
    d = trial_data(_rows(value_1=None))
    miss = d.missing_visits().set_index(["arm", "visit"])
    assert miss.loc[("dn", 2), "missing"] == 1 and miss["missing"].sum() == 1
    assert miss.loc[("dn", 2), "randomized"] == 1
