"""The states passed around as words are StrEnums: each member is its own text (JSON, f-strings
and comparisons with the plain strings are unchanged), and a misspelt one is an error."""
from __future__ import annotations

import json

import pytest

from metaverdict.errors import InputError
from metaverdict.grade import LEVELS, Basis, Body, Level
from metaverdict.synthesis.claim_check import ClaimDirection, StatedClaim
from metaverdict.verdict import CATEGORIES, CATEGORY_DEFINITIONS, Category, Direction


def test_members_read_as_their_text():
    assert json.dumps([Level.VERY_LOW, Category.INCONCLUSIVE, Direction.NONE]) == \
        '["very low", "inconclusive", "none"]'
    assert f"{Basis.REVIEW}" == "review pooled result" and Level.LOW == "low"
    assert {"low": 1}[Level.LOW] == 1                    # dict keys: same hash as the text


def test_levels_order():
    assert LEVELS == ("high", "moderate", "low", "very low")
    assert [lv.rank for lv in LEVELS] == [0, 1, 2, 3]
    assert Level.MODERATE.lowered(1) is Level.LOW and Level.LOW.lowered(5) is Level.VERY_LOW
    assert Level.lower_of("high", "low") is Level.LOW


@pytest.mark.parametrize("category, direction", [
    ("important benefit", "benefit"), ("benefit below the MCID", "benefit"),
    ("benefit, size uncertain", "benefit"), ("no important difference", "none"),
    ("no significant difference", "none"), ("harm, size uncertain", "harm"),
    ("harm below the MCID", "harm"), ("important harm", "harm"), ("inconclusive", "unknown"),
    ("no trial evidence (opinion only)", "unknown")])
def test_category_direction(category, direction):
    assert Category(category).direction is Direction(direction)


def test_categories_by_direction_and_size():
    for d in (Direction.BENEFIT, Direction.HARM):
        assert Category.important(d) == f"important {d}"
        assert Category.below_mcid(d) == f"{d} below the MCID"
        assert Category.below_mcid(d).is_below_mcid
        assert Category.size_uncertain(d) == f"{d}, size uncertain"
        assert Category.size_uncertain(d).is_size_uncertain
    assert len(CATEGORIES) == 10 and set(CATEGORY_DEFINITIONS) == set(CATEGORIES)


def test_misspelt_states_are_errors():
    with pytest.raises(InputError, match="field 'basis'"):
        Body("t", "sham", "c", "pain", "short", "single trials")
    with pytest.raises(InputError, match="claim 'x', field 'direction': must be one of"):
        StatedClaim("x", "dry needling", "benefits")
    c = StatedClaim("x", "dry needling", "no difference", certainty="low")
    assert c.direction is ClaimDirection.NO_DIFFERENCE and c.certainty is Level.LOW
    assert StatedClaim("y", "dry needling", "harm", certainty="").certainty is None
