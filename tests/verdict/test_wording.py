"""GRADE informative statements: the modal verb agrees with the subject at every level, and
the verb follows the outcome domain, not the direction of its instrument's scale."""
from __future__ import annotations

import pytest

from metaverdict.grade import Body, MCIDTable, rate_certainty
from metaverdict.verdict import headline, verdict_for

T = MCIDTable.bundled()


#: With this statement metaverdict's own checks find nothing to downgrade for the bodies
#: below (risk of bias not serious; I² not stored: not assessed; no indirectness; the SMD CIs
#: exclude 0 and do not cross the 0.5 MCID; no N: optimal information size not assessed;
#: publication bias not assessed), so its level is high and the review's rating, the lower
#: of the two, sets the level.
LOW_RISK = ("risk of bias generally low",)


def review(outcome: str, est: float, lo: float, hi: float, rating: str, *,
           lower_is_better: bool, comparator: str = "sham", risk_of_bias=LOW_RISK) -> Body:
    """A review's pooled SMD (treatment minus comparator) with its own GRADE rating."""
    return Body("dry needling", comparator, "neck pain", outcome, "short",
                "review pooled result", measure="SMD", lower_is_better=lower_is_better,
                estimate=est, ci_lower=lo, ci_upper=hi, review_certainty=rating,
                risk_of_bias=risk_of_bias)


def sentence(b: Body) -> str:
    m = T.lookup(b.outcome, b.measure, scale=b.outcome_scale)
    return verdict_for(b, m, rate_certainty(b, m)).statement


@pytest.mark.parametrize("rating, words", [
    ("GRADE high", "High-certainty evidence shows that dry needling reduces pain"),
    ("GRADE moderate", "Moderate-certainty evidence shows that dry needling probably reduces pain"),
    ("GRADE low", "Low-certainty evidence suggests that dry needling may reduce pain"),
    ("GRADE very low", "suggests dry needling reduces pain"),
])
def test_modal_verb_agrees(rating: str, words: str) -> None:
    assert words in sentence(review("pain", -1.0, -1.4, -0.6, rating, lower_is_better=True))


@pytest.mark.parametrize("lower_is_better, est", [(True, -1.0), (False, 1.0)])
def test_function_improves_whichever_way_its_scale_runs(lower_is_better: bool, est: float) -> None:
    # a disability score that falls and a function score that rises are both better function
    text = sentence(review("function", est, est - 0.4, est + 0.4, "GRADE moderate",
                           lower_is_better=lower_is_better))
    assert "probably improves function" in text and "reduce" not in text


def test_unjudged_domains_do_not_lower_a_review_rating() -> None:
    # nothing stored on risk of bias: not assessed here, so it is left to the review's rating;
    # the CI (benefit 0.6 to 1.4) clears the 0.5 MCID, so nothing judged lowers "GRADE high"
    text = sentence(review("pain", -1.0, -1.4, -0.6, "GRADE high", lower_is_better=True,
                           risk_of_bias=()))
    assert text.startswith("High-certainty evidence shows that dry needling reduces pain")


@pytest.mark.parametrize("comparator", ["active", "technique", "mixed", "usual-care"])
def test_harm_against_an_active_comparator_is_less_effective(comparator: str) -> None:
    # pain SMD +1.0 (0.6 to 1.4): more pain with dry needling, CI beyond the 0.5 MCID ->
    # important harm; against an active comparator that reads as "less effective"
    text = sentence(review("pain", 1.0, 0.6, 1.4, "GRADE moderate", lower_is_better=True,
                           comparator=comparator))
    assert "dry needling is probably less effective for pain than the comparator" in text
    assert "increases pain" not in text


def test_harm_against_sham_is_a_harm() -> None:
    text = sentence(review("pain", 1.0, 0.6, 1.4, "GRADE moderate", lower_is_better=True))
    assert "dry needling probably increases pain" in text


@pytest.mark.parametrize("outcome, category, level, comparator, want", [
    # modal by level (high "", moderate "probably ", low "may "), verb by domain and category
    ("pain", "important benefit", "high", "sham", "reduces pain"),
    ("pain", "important benefit", "moderate", "sham", "probably reduces pain"),
    ("function", "benefit below the MCID", "low", "sham", "may improve function slightly"),
    ("pain", "benefit, size uncertain", "low", "sham", "may reduce pain (size uncertain)"),
    ("pain", "important harm", "moderate", "active",
     "is probably less effective for pain than the comparator"),
    ("pain", "important harm", "moderate", "sham", "probably increases pain"),
    ("pain", "no important difference", "low", "sham",
     "may result in little to no difference in pain"),
    ("pain", "no significant difference", "high", "sham",
     "results in little to no difference in pain (important effect not excluded)"),
    ("pain", "inconclusive", "low", "sham", "no estimate or significance reported"),
    ("pain", "important benefit", "very low", "sham", "the evidence is very uncertain"),
    ("pain", "no trial evidence (opinion only)", None, "any",
     "no trial evidence (expert opinion only)"),
])
def test_headline(outcome: str, category: str, level: str | None, comparator: str,
                  want: str) -> None:
    assert headline("dry needling", outcome, category, level, comparator) == want
