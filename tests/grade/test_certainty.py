"""GRADE certainty: each downgrade with its reason, a review's rating combined with
metaverdict's checks (the lower wins), "not assessed" domains, thresholds."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

import metaverdict as mv
from metaverdict.grade import Body, MCIDTable, rate_certainty, review_level

SMD = MCIDTable.bundled().lookup("pain", "SMD")          # MCID 0.5 (Norman 2003)


def body(**kw) -> Body:
    base = dict(treatment="t", comparator="sham", condition="c", outcome="pain",
                window="short", basis="review pooled result", measure="SMD",
                lower_is_better=True, estimate=-0.9, ci_lower=-1.0, ci_upper=-0.8,
                n_treatment=300, n_control=300, i2=10.0, k=5,
                risk_of_bias=("risk of bias generally low",))
    base.update(kw)
    return Body(**base)


def domains(c):
    return {d.domain: d for d in c.downgrades}


def test_clean_body_is_high():
    c = rate_certainty(body(), SMD)
    assert c.level == "high" and c.downgrades == ()
    assert {d.domain for d in c.judgements} == {"risk of bias", "inconsistency", "indirectness",
                                                "imprecision", "publication bias"}


def test_pedro_below_6_is_serious_and_6_is_not():
    c5 = rate_certainty(body(risk_of_bias=("PEDro 5/10",)), SMD)
    assert domains(c5)["risk of bias"].steps == 1 and "5/10" in domains(c5)["risk of bias"].reason
    c6 = rate_certainty(body(risk_of_bias=("PEDro 6/10",)), SMD)
    assert "risk of bias" not in domains(c6)


def test_unknown_risk_of_bias_is_a_stated_assumption():
    c = rate_certainty(body(risk_of_bias=()), SMD)
    assert domains(c)["risk of bias"].steps == 1 and c.assumptions
    c2 = rate_certainty(body(risk_of_bias=()), SMD, unknown_risk_of_bias="not serious")
    assert "risk of bias" not in domains(c2) and "not serious" in c2.assumptions[0]


def test_inconsistency_i2_threshold():
    assert "inconsistency" not in domains(rate_certainty(body(i2=50.0), SMD))
    d = domains(rate_certainty(body(i2=50.1), SMD))["inconsistency"]
    assert d.steps == 1 and "50%" in d.reason


def test_inconsistency_prediction_interval():
    c = rate_certainty(body(i2=40.0, pi_lower=-2.0, pi_upper=0.2), SMD)
    assert "prediction interval" in domains(c)["inconsistency"].reason


def test_indirectness_declared():
    c = rate_certainty(body(indirectness=("comparator pools sham and no treatment",)), SMD)
    assert domains(c)["indirectness"].reason == "comparator pools sham and no treatment"
    # a verification flag (numbers read from a secondary summary) is not a GRADE domain
    c = rate_certainty(body(verification=("numbers read from a secondary summary",)), SMD)
    assert c.level == "high" and "indirectness" not in domains(c)


def test_imprecision_ci_crosses_null_mcid_and_ois():
    assert "imprecision" not in domains(rate_certainty(body(), SMD))
    # CI crosses the MCID (0.5) but not the null
    d = domains(rate_certainty(body(estimate=-0.6, ci_lower=-0.9, ci_upper=-0.3), SMD))
    assert d["imprecision"].steps == 1 and "MCID" in d["imprecision"].reason
    # CI crosses the null
    d = domains(rate_certainty(body(estimate=-0.1, ci_lower=-0.3, ci_upper=0.1), SMD))
    assert "no effect" in d["imprecision"].reason
    # CI includes important benefit and important harm: very serious
    d = domains(rate_certainty(body(estimate=0.0, ci_lower=-0.6, ci_upper=0.6), SMD))
    assert d["imprecision"].steps == 2
    # optimal information size: N = 399 < 400
    d = domains(rate_certainty(body(n_treatment=200, n_control=199), SMD))
    assert "399 < 400" in d["imprecision"].reason
    assert "imprecision" not in domains(rate_certainty(body(n_treatment=200, n_control=200), SMD))


def test_no_ci_small_trial_is_very_serious():
    b = body(basis="single trial", estimate=None, ci_lower=None, ci_upper=None,
             smd_bound=0.76, smd_bound_relation=">=", p_number=0.003, p_relation="<=",
             n_treatment=28, n_control=34, risk_of_bias=("PEDro 5/10",), i2=None, k=1)
    c = rate_certainty(b, SMD)
    assert domains(c)["imprecision"].steps == 2 and "62 < 400" in domains(c)["imprecision"].reason
    assert c.level == "very low"
    assert "single trial" in next(d.reason for d in c.judgements if d.domain == "inconsistency")


def test_publication_bias_not_assessed_below_10_and_egger_at_10():
    c = rate_certainty(body(), SMD)
    pb = next(d for d in c.judgements if d.domain == "publication bias")
    assert pb.steps == 0 and "not assessed" in pb.reason
    rng = np.random.default_rng(1)
    vi = rng.uniform(0.01, 0.2, 12)
    yi = -0.8 - 3 * np.sqrt(vi)                         # strong small-study effect
    res = mv.meta_analysis(yi, vi, method="REML")
    b = body(basis="pooled primary trials", meta=res, k=12, estimate=res.estimate,
             ci_lower=res.ci_lower, ci_upper=res.ci_upper, i2=res.i2)
    pb = next(d for d in rate_certainty(b, SMD).judgements if d.domain == "publication bias")
    assert "Egger" in pb.reason and pb.steps == 1
    # the 3PSM-adjusted estimate is shown beside the test (selmodel parity:
    # tests/models/test_selection.py), or why it is not estimable
    adj = mv.selection_adjusted(res)
    assert ("selection-model (3PSM) adjusted estimate "
            f"{adj.estimate:.2f}" if adj.estimable else "not estimable") in pb.reason


LOWER = "lower of the review's rating and metaverdict's checks"


def test_review_rating_lower_than_own_checks_wins():
    # body() passes every check (tool level high); the review says low -> low
    c = rate_certainty(body(review_certainty="GRADE low"), SMD)
    assert (c.level, c.review_level, c.tool_level, c.basis) == ("low", "low", "high", LOWER)
    assert c.downgrades == ()                    # the review's rating is not a domain downgrade
    assert "review's own rating: low" in c.reasons[0]
    # "GRADE low" stored as a quality text is not a risk-of-bias statement: nothing decides
    # risk of bias, so it is not assessed; the stated assumption (serious, -1) would apply to a
    # body without a rating, but against a review's rating only judged domains count, so
    # metaverdict's checks stay high and the review's low is used
    c = rate_certainty(body(review_certainty="GRADE low", risk_of_bias=("GRADE low",)), SMD)
    assert (c.level, c.review_level, c.tool_level, c.basis) == ("low", "low", "high", LOWER)
    assert list(domains(c)) == ["risk of bias"] and c.assumptions
    assert any("left to the review's rating" in r for r in c.reasons)
    c = rate_certainty(body(review_certainty="low to moderate (GRADE, per authors)"), SMD)
    assert c.level == "low" and c.review_level == "low" and "range" in c.notes[0]


def test_review_rating_does_not_short_circuit_the_checks():
    # the review says high, but the CI (-0.9 to -0.3; benefit 0.3 to 0.9) crosses the MCID 0.5:
    # imprecision -1 -> metaverdict moderate, the lower of high and moderate
    c = rate_certainty(body(review_certainty="GRADE high", estimate=-0.6, ci_lower=-0.9,
                            ci_upper=-0.3), SMD)
    assert (c.level, c.review_level, c.tool_level, c.basis) == ("moderate", "high", "moderate",
                                                                LOWER)
    assert domains(c)["imprecision"].steps == 1
    # review moderate, declared indirectness (-1) and CI crossing the MCID (-1): high - 2 = low
    c = rate_certainty(body(review_certainty="GRADE moderate", estimate=-0.6, ci_lower=-0.9,
                            ci_upper=-0.3, indirectness=("comparator pools sham and no "
                                                         "treatment",)), SMD)
    assert (c.level, c.review_level, c.tool_level) == ("low", "moderate", "low")


def test_metaverdict_rating_without_a_review_rating():
    # PEDro is not GRADE: rated by metaverdict alone
    c = rate_certainty(body(basis="single trial", review_certainty=None,
                            risk_of_bias=("PEDro 8/10",)), SMD)
    assert c.basis == "metaverdict rating" and c.review_level is None
    assert c.tool_level == c.level == "high"
    # a GRADE text on something other than a review's pooled result is not used as a rating
    c = rate_certainty(body(basis="single trial", review_certainty="GRADE low"), SMD)
    assert c.basis == "metaverdict rating" and c.review_level is None and c.level == "high"


def test_not_assessed_domains():
    # I² not stored, a review's pooled result (no study data), nothing stored on risk of bias
    c = rate_certainty(body(i2=None, risk_of_bias=()), SMD)
    j = {d.domain: d for d in c.judgements}
    assert not j["inconsistency"].assessed and j["inconsistency"].steps == 0
    assert "not assessed" in j["inconsistency"].reason
    assert not j["publication bias"].assessed and j["publication bias"].steps == 0
    # risk of bias not assessed, but the stated assumption still downgrades
    assert not j["risk of bias"].assessed and j["risk of bias"].steps == 1
    assert "assumed serious" in j["risk of bias"].reason
    assert j["indirectness"].assessed and j["imprecision"].assessed
    assert c.not_assessed == ("risk of bias", "inconsistency", "publication bias")
    # a clean body: only publication bias is not assessed (k = 5 pooled by the review)
    assert rate_certainty(body(), SMD).not_assessed == ("publication bias",)


def test_review_level_parsing():
    assert review_level("GRADE very low") == ("very low", None)
    assert review_level("PEDro 5/10")[0] is None
    assert review_level("risk of bias high or unclear for most domains")[0] is None
    authors = "authors: moderate evidence (pain, postintervention)"
    assert review_level(authors, "pain")[0] == "moderate"
    assert review_level(authors, "function")[0] is None


def test_level_floor_is_very_low():
    b = body(risk_of_bias=("PEDro 3/10",), i2=90.0, indirectness=("x",), estimate=0.0,
             ci_lower=-0.6, ci_upper=0.6)
    assert rate_certainty(b, SMD).level == "very low"
    assert replace(b, risk_of_bias=("PEDro 9/10",)).risk_of_bias == ("PEDro 9/10",)
