"""The bundled evidence's bottom line, checked against the sources' own words.

Each expectation cites the stored quote (or the extraction README) it was adjudicated from;
none is read off the code's output.
"""
from __future__ import annotations

from typing import Any

import pytest

from metaverdict.evidence import open_store
from metaverdict.synthesis import article_claims, check_claims, read_evidence, synthesize

MARATHON = "post-marathon muscle soreness"


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = "sqlite:///" + str(tmp_path_factory.mktemp("answers") / "e.sqlite")
    with open_store(url) as store:
        return read_evidence(store)


@pytest.fixture(scope="module")
def dn(evidence: Any) -> Any:
    return synthesize(evidence, "dry needling")


def _one(synth: Any, **q: Any) -> Any:
    found = [a for a in synth.answers if all(getattr(a.question, k) == v for k, v in q.items())]
    assert len(found) == 1, [a.question.describe() for a in found]
    return found[0]


def test_heel_pain_vs_sham_is_below_the_mid(dn: Any) -> None:
    # cotchett2014: "VAS first-step pain=−14.4 mm, 95% CI −23.5 to −5.2" and "the between-group
    # difference was lower than the minimal important difference"; heel-pain first-step VAS
    # MID 19 mm (Landorf 2010): 14.4 < 19 -> benefit below the MCID, not "important benefit"
    a = _one(dn, condition="plantar heel pain", outcome="pain", comparator_class="sham")
    assert a.source_id == "cotchett2014" and a.verdict == "benefit below the MCID"
    assert a.chosen.mcid.value == 19


def test_marathon_days_are_harm_of_uncertain_size(dn: Any) -> None:
    # "increase in pain of the soleus muscles at days 1 and 2 (P ≤ 0.003 and P ≤ 0.041)";
    # 28 vs 34 runners: a bound on the point estimate, its CI crosses the 0.5 SD MCID
    for day in ("day 1", "day 2"):
        a = _one(dn, condition=MARATHON, outcome="pain", term=day)
        assert (a.direction, a.verdict) == ("harm", "harm, size uncertain")
    # "soreness on days 1, 2, 3, and 7" were measured; days 3 and 7 are not reported
    for day in ("day 3", "day 7"):
        a = _one(dn, condition=MARATHON, outcome="pain", term=day)
        assert a.verdict == "inconclusive" and a.chosen.effect == "measured, result not reported"


def test_one_judgement_for_table_and_claim_check(evidence: Any, dn: Any) -> None:
    checks = check_claims([c for c in article_claims() if c.id == "c"], evidence,
                          assessments={dn.treatment: dn.assessment})
    used = checks[0].verdicts
    assert used and all(any(v is w for w in dn.assessment.verdicts) for v in used)
    day1 = _one(dn, condition=MARATHON, outcome="pain", term="day 1").chosen
    assert any(v is day1 for v in used)


def test_dn_plus_other_vs_dn_alone_is_not_about_dn(dn: Any) -> None:
    # liu2018lbp: "dry needling plus other treatments ... superior to dry needling alone"
    assert all("liu2018lbp" not in (a.source_id or "") or a.question.comparator_class != "add-on"
               for a in dn.answers)
    assert [r.source_id for r in dn.related] == ["liu2018lbp"]


def test_stated_nulls_are_answers(dn: Any) -> None:
    # fernandezdelaspenas2021neck: pain reduced "but not immediately after or at long-term"
    for term in ("immediate", "long"):
        a = _one(dn, condition="neck pain", outcome="pain", comparator_class="add-on", term=term)
        assert a.direction == "none" and a.verdict == "no significant difference"


def test_known_data_problems_stay_out_of_verdicts(evidence: Any, dn: Any) -> None:
    # shared/evidence/README.md, "Known issues": rodriguezmansilla2016 OCR values
    assert not [a for a in dn.answers if "rodriguezmansilla2016" in (a.source_id or "")]
    assert {r.source_id for r in dn.flagged} == {"rodriguezmansilla2016"}
    prp = synthesize(evidence, "PRP")
    # franchini2018's heel row repeats the elbow numbers: kept out
    assert not [a for a in prp.answers if a.question.condition == "plantar fasciitis"
                and a.source_id == "franchini2018"]


def test_prp_has_the_cochrane_review_and_csi_the_head_to_head(evidence: Any) -> None:
    prp = synthesize(evidence, "PRP")
    # karjalainen2021cochrane: "0.16 points better ... a non-significant improvement"
    a = _one(prp, condition="lateral epicondylitis", outcome="pain", comparator_class="sham")
    assert a.source_id == "karjalainen2021cochrane" and a.direction == "none"
    csi = synthesize(evidence, "CSI")
    head = [x for x in csi.answers if x.source_id == "peerbooms_thesis_ch6"]
    assert head and all(x.question.comparator == "platelet-rich plasma injection" for x in head)
    # coombes2013: "greater recurrence (54% vs. 12%; P<0.001)": 42 more per 100
    rec = _one(csi, outcome="recurrence")
    assert rec.direction == "harm" and rec.absolute_effect.estimate == pytest.approx(42.0)


def test_every_treatment_has_an_adverse_events_answer(evidence: Any) -> None:
    for t in ("dry needling", "PRP", "CSI"):
        ae = [a for a in synthesize(evidence, t).answers if a.question.outcome == "adverse-events"]
        assert ae
    # no adverse-event result is stored for PRP
    prp = [a for a in synthesize(evidence, "PRP").answers
           if a.question.outcome == "adverse-events"]
    assert [a.verdict for a in prp] == ["no result stored"]


def test_no_very_low_result_reads_as_a_benefit_claim(evidence: Any) -> None:
    for t in ("dry needling", "PRP", "CSI"):
        for a in synthesize(evidence, t).answers:
            if a.certainty == "very low":
                assert a.headline == "the evidence is very uncertain"
