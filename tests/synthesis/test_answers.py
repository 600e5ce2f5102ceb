"""The bottom line's logic on small hand-made evidence sets.

Every expected value below is derived by hand in the comment beside it (GRADE steps, CCA,
absolute effects), from the rules in the module docstrings of ``metaverdict.grade.certainty``,
``metaverdict.verdict.rules``, ``metaverdict.synthesis.answers``, ``.overlap`` and ``.absolute``,
never read off the code's output.
"""
from __future__ import annotations

import json
import math
from typing import Any

import pytest
from typer.testing import CliRunner

from metaverdict.cli import app
from metaverdict.errors import InputError
from metaverdict.evidence import open_store
from metaverdict.evidence.bundled import add_included_trials
from metaverdict.evidence.io import import_rows
from metaverdict.synthesis import (
    Question,
    corrected_covered_area,
    overlap,
    read_evidence,
    synthesize,
)
from metaverdict.synthesis.answers import relation

DN = "dry needling"
BASE = {"citation": "", "doi": "", "design": "meta-analysis", "treatment": DN,
        "comparator": "sham", "condition": "neck pain", "outcome": "pain",
        "timepoint": "short term",
        "effect_measure": "SMD", "url_or_location": "https://example.org/hand-made",
        "verbatim_quote": "hand-made test row"}


def row(source: str, year: int, **kw: Any) -> dict[str, Any]:
    out = dict(BASE, source_id=source, citation=f"Author {source}. Hand-made test {year}.")
    out.update({k: str(v) for k, v in kw.items()})
    return out


ROWS = [
    # review A (2019): SMD -0.8 (-1.2 to -0.4) vs sham, "GRADE low"
    row("reviewA", 2019, estimate=-0.8, ci_lower=-1.2, ci_upper=-0.4, certainty="GRADE low"),
    # review B (2021): SMD -0.3 (-0.6 to 0.0) vs sham, "GRADE moderate"
    row("reviewB", 2021, estimate=-0.3, ci_lower=-0.6, ci_upper=0.0,
        certainty="GRADE moderate"),
    # a mixed control group (sham or no treatment): another question, downgraded
    row("reviewC", 2020, estimate=-0.9, ci_lower=-1.3, ci_upper=-0.5,
        comparator_name="sham or no treatment"),
    # DN + other vs DN alone: evidence about the other treatment, never about DN
    row("reviewA", 2019, estimate=0.8, ci_lower=0.5, ci_upper=1.1, comparator="other",
        comparator_name="dry needling alone", comparator_class="add-on",
        evidence_about="other treatments added to dry needling"),
    # a null stated in words (long term)
    row("reviewB", 2021, timepoint="long term", effect_measure="direction-only",
        direction_reported="no-significant-difference"),
    # adverse events: 30% vs 5% of patients, 50 per arm, more with dry needling
    row("trialH", 2018, design="rct", outcome="adverse events", timepoint="6 weeks",
        effect_measure="proportion", mean_treatment="30%", mean_control="5%", n_treatment=50,
        n_control=50, direction_reported="favours-comparator", certainty="PEDro 8/10"),
    # a post-race trial: P <= 0.003 with 28 vs 34 runners on day 1, P <= 0.041 on day 2
    row("trialM", 2021, design="rct", condition="post-marathon muscle soreness",
        outcome="pain (soleus)", timepoint="day 1", effect_measure="p-value only",
        p_value="<=0.003", n_treatment=28, n_control=34, direction_reported="favours-comparator",
        certainty="PEDro 5/10"),
    row("trialM", 2021, design="rct", condition="post-marathon muscle soreness",
        outcome="pain (soleus)", timepoint="day 2", effect_measure="p-value only",
        p_value="<=0.041", n_treatment=28, n_control=34, direction_reported="favours-comparator",
        certainty="PEDro 5/10"),
    # two primary trials with control-arm SDs of 20 and 30 mm on a 0-100 pain scale (typical
    # SD = median(2.0, 3.0) = 2.5 points on 0-10)
    row("trialS1", 2015, design="rct", treatment="acupuncture",
        outcome="pain (0-100, lower better)", effect_measure="MD", estimate=-5, ci_lower=-15,
        ci_upper=5, n_treatment=30, n_control=30, sd_control=20, timepoint="12 weeks"),
    row("trialS2", 2016, design="rct", treatment="acupuncture",
        outcome="pain (0-100, lower better)", effect_measure="MD", estimate=-6, ci_lower=-16,
        ci_upper=4, n_treatment=30, n_control=30, sd_control=30, timepoint="12 weeks"),
    # another treatment with no adverse-event result
    row("reviewP", 2020, treatment="PRP injection", condition="lateral epicondylitis",
        estimate=-0.2, ci_lower=-0.5, ci_upper=0.1),
]
INCLUDED = [{"review_source_id": r, "trial": t, "trial_year": "2010", "complete": "true",
             "location": "hand-made list", "quote": "", "note": ""}
            for r, trials in (("reviewA", ("T1", "T2", "T3")), ("reviewB", ("T2", "T3", "T4")))
            for t in trials]


@pytest.fixture(scope="module")
def evidence() -> Any:
    with open_store("sqlite://", seed=False) as store:
        import_rows(store, ROWS)
        with store.transaction() as s:
            add_included_trials(s, INCLUDED)
        return read_evidence(store)


@pytest.fixture(scope="module")
def dn(evidence: Any) -> Any:
    return synthesize(evidence, DN)


def _answer(synth: Any, **q: Any) -> Any:
    found = [a for a in synth.answers
             if all(getattr(a.question, k) == v for k, v in q.items())]
    assert len(found) == 1, [a.question for a in synth.answers]
    return found[0]


def test_one_answer_per_question_chosen_by_certainty(dn: Any) -> None:
    a = _answer(dn, outcome="pain", comparator_class="sham", term="short",
                condition="neck pain")
    # review B: its rating moderate; metaverdict's judged checks: the benefit-scale CI
    # [0.0, 0.6] includes 0 and crosses the 0.5 MCID -> imprecision -1 -> moderate; the
    # lower of moderate and moderate = moderate. Review A: rating low; CI [0.4, 1.2] crosses
    # 0.5 -> -1 -> moderate; lower of low and moderate = low. Moderate beats low.
    assert a.source_id == "reviewB" and a.certainty == "moderate"
    assert a.verdict == "no significant difference" and a.direction == "none"
    assert a.headline == ("probably results in little to no difference in pain (important "
                          "effect not excluded)")
    # A is listed, not counted again: benefit vs none -> conflicting
    assert [(o.id, o.relation, o.certainty) for o in a.other_sources] == [
        ("reviewA", "conflicting", "low")]
    assert a.to_dict()["other_sources"][0]["relation"] == "conflicting"


def test_overlap_cca_by_hand(dn: Any) -> None:
    a = _answer(dn, outcome="pain", comparator_class="sham", term="short",
                condition="neck pain")
    # trials T1..T4 (r = 4) in c = 2 reviews with N = 3 + 3 = 6 ticks:
    # CCA = (N - r) / (r c - r) = (6 - 4) / (8 - 4) = 0.5, above 15%: very high
    assert a.overlap.cca == pytest.approx(0.5)
    assert "very high" in a.overlap.status and a.overlap.shared == ("T2", "T3")
    assert a.to_dict()["overlap"] == pytest.approx(0.5)


def test_cca_function_and_bad_input() -> None:
    # 3 reviews, 3 trials: T1 in all, T2 in two, T3 in one -> N = 6, r = 3, c = 3:
    # (6 - 3) / (9 - 3) = 0.5
    assert corrected_covered_area([[1, 1, 1], [1, 1, 0], [0, 0, 1]]) == pytest.approx(0.5)
    assert corrected_covered_area([[1, 0], [0, 1]]) == 0.0       # nothing shared
    with pytest.raises(InputError, match="row 2: a trial no review includes"):
        corrected_covered_area([[1, 0], [0, 0]])
    with pytest.raises(InputError, match="at least two reviews"):
        corrected_covered_area([[1], [1]])


def test_overlap_unknown_without_lists() -> None:
    ov = overlap(["reviewA", "reviewX"], [])
    assert ov.cca is None and ov.status.startswith("overlap unknown")
    assert ov.unknown == ("reviewA", "reviewX")


def test_mixed_controls_are_a_separate_question_and_indirect(dn: Any) -> None:
    a = _answer(dn, comparator_class="sham-or-no-treatment", outcome="pain")
    # no rating stored: risk of bias not assessed, assumed serious (-1); indirectness (-1,
    # mixed controls); CI [0.5, 1.3] on the benefit scale touches but does not cross 0.5
    # (lo < 0.5 < hi is false) -> imprecision 0: high - 2 = low
    assert a.source_id == "reviewC" and a.certainty == "low"
    assert a.verdict == "important benefit"
    assert any(r.startswith("indirectness (-1): mixed controls") for r in
               a.chosen.certainty.reasons)


def test_dn_plus_other_vs_dn_alone_is_not_about_dn(dn: Any) -> None:
    assert not [a for a in dn.answers if a.question.comparator_class == "add-on"]
    assert [r.source_id for r in dn.related] == ["reviewA"]


def test_stated_null_is_a_result(dn: Any) -> None:
    a = _answer(dn, outcome="pain", comparator_class="sham", term="long")
    assert a.direction == "none" and a.verdict == "no significant difference"
    assert a.chosen.effect == "no significant difference (stated; no numbers)"


def test_harm_with_absolute_effect(dn: Any) -> None:
    a = _answer(dn, outcome="adverse-events")
    assert a.direction == "harm" and a.verdict.startswith("harm")
    # 30% vs 5%: RD 25 per 100; SE = 100 sqrt(.3 .7 / 50 + .05 .95 / 50) = 7.1764;
    # 25 ± 1.959964 × 7.1764 = 10.93 to 39.07; NNH = 100 / 25 = 4
    ae = a.absolute_effect
    assert ae.estimate == pytest.approx(25.0)
    se = 100 * math.sqrt(.3 * .7 / 50 + .05 * .95 / 50)
    assert ae.ci_lower == pytest.approx(25 - 1.959964 * se, abs=1e-3)
    assert ae.ci_lower == pytest.approx(10.93, abs=0.01)
    assert ae.ci_upper == pytest.approx(39.07, abs=0.01)
    assert "30 vs 5 per 100 patients" in ae.text and "1 in 4.0" in ae.text


def test_adverse_events_always_answered(evidence: Any) -> None:
    prp = synthesize(evidence, "PRP injection")
    ae = [a for a in prp.answers if a.question.outcome == "adverse-events"]
    assert len(ae) == 1 and ae[0].verdict == "no result stored" and ae[0].chosen is None
    assert "not evidence that there are none" in ae[0].statement


def test_bound_from_a_p_value_is_harm_of_uncertain_size(dn: Any) -> None:
    a = _answer(dn, condition="post-marathon muscle soreness", term="day 1")
    # bound B = z(0.0015) sqrt(1/28 + 1/34) = 2.9677 × 0.25521 = 0.7574; the approximate CI at
    # the bound is B ± 1.959964 × 0.25521 = 0.257 to 1.258, which crosses the 0.5 MCID
    assert a.verdict == "harm, size uncertain" and a.direction == "harm"
    assert "0.26 to 1.26" in a.chosen.rule
    # the trial's own days are kept as its timepoints, in day order
    days = [x.question.term for x in dn.answers
            if x.question.condition == "post-marathon muscle soreness"]
    assert days == ["day 1", "day 2"]


def test_smd_re_expressed_with_the_typical_sd(dn: Any) -> None:
    a = _answer(dn, comparator_class="sham-or-no-treatment", outcome="pain")
    # typical SD = median(20, 30) / 10 = 2.5 points; SMD -0.9 (-1.3 to -0.5) x 2.5
    # = 2.25 (1.25 to 3.25) points less pain on 0-10
    assert dn.typical_sd.value == pytest.approx(2.5)
    ae = a.absolute_effect
    assert (ae.estimate, ae.ci_lower, ae.ci_upper) == pytest.approx((2.25, 1.25, 3.25))


def test_relation_rule() -> None:
    assert relation("benefit", "benefit") == "consistent"
    assert relation("benefit", "none") == "conflicting"
    assert relation("harm", "unknown") == "unclear"


def test_question_order_and_describe() -> None:
    q = Question(DN, None, "pain", "sham", "short")
    assert q.describe() == "dry needling vs sham, pain, short term (all conditions)"
    later = Question(DN, None, "pain", "sham", "long")
    fn = Question(DN, None, "function", "sham", "immediate")
    assert sorted([fn, later, q], key=lambda x: x.key) == [q, later, fn]


def test_answer_json_schema(dn: Any) -> None:
    keys = {"treatment", "condition", "outcome", "comparator_class", "term", "statement",
            "certainty", "verdict", "direction", "effect", "absolute_effect", "source_id",
            "other_sources", "overlap"}
    for a in dn.answers:
        d = a.to_dict()
        assert keys <= set(d)
        assert d["certainty"] in ("high", "moderate", "low", "very low", None)
        assert d["direction"] in ("benefit", "harm", "none", "unknown")
        if d["effect"] is not None:
            assert {"measure", "estimate", "ci_lower", "ci_upper"} <= set(d["effect"])


def test_cli_answer_json_matches_the_api(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'e.sqlite'}"
    with open_store(url, seed=False) as store:
        import_rows(store, ROWS)
        api = [a.to_dict() for a in synthesize(read_evidence(store), DN).answers]
    res = CliRunner().invoke(app, ["answer", DN, "--json", "--db", url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == json.loads(json.dumps(api))
    res = CliRunner().invoke(app, ["answer", "homeopathy", "--db", url])
    assert res.exit_code == 2 and "available:" in res.output and "Traceback" not in res.output
