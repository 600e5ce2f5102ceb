"""GRADE informative statements: the modal verb agrees with the subject at every level, and
the verb follows the outcome domain, not the direction of its instrument's scale."""
from __future__ import annotations

import pytest

from metaverdict.grade import Body, MCIDTable, rate_certainty
from metaverdict.verdict import verdict_for

T = MCIDTable.bundled()


def review(outcome: str, est: float, lo: float, hi: float, rating: str, *,
           lower_is_better: bool) -> Body:
    """A review's pooled SMD (treatment minus comparator) with its own GRADE rating."""
    return Body("dry needling", "sham", "neck pain", outcome, "short", "review pooled result",
                measure="SMD", lower_is_better=lower_is_better, estimate=est, ci_lower=lo,
                ci_upper=hi, review_certainty=rating)


def sentence(b: Body) -> str:
    m = T.lookup(b.outcome, b.measure, scale=b.outcome_scale)
    return verdict_for(b, m, rate_certainty(b, m)).statement


@pytest.mark.parametrize("rating, words", [
    ("GRADE high", "shows that dry needling reduces pain"),
    ("GRADE moderate", "shows that dry needling probably reduces pain"),
    ("GRADE low", "suggests that dry needling may reduce pain"),
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
