"""The verdict rules: an effect on the benefit scale against the MCID.

Notation: ``b`` is the effect expressed as benefit (positive = better for the treated; see
:meth:`metaverdict.grade.Body.benefit`), ``[lo, hi]`` its 95% CI on the same scale, ``M > 0``
the MCID (``ln`` of the ratio MCID for RR/OR/HR). "Significant" means the CI excludes 0
strictly (a CI that touches 0 is not significant).

With an estimate and a CI (a CI-based classification; certainty is rated separately, so a CI
that crosses the MCID lowers certainty through imprecision instead of changing category):

=============================  ============================================================
category                       rule
=============================  ============================================================
important benefit              lo > 0 and b >= M
benefit below the MCID         lo > 0 and b < M
benefit, size uncertain        lo > 0 and no MCID applies (a surrogate outcome, a scale
                               without an MCID)
important harm                 hi < 0 and b <= -M
harm below the MCID            hi < 0 and b > -M
harm, size uncertain           hi < 0 and no MCID applies
no important difference        lo <= 0 <= hi and -M < lo and hi < M (CI excludes both
                               important benefit and important harm)
no significant difference      lo <= 0 <= hi and the CI reaches -M or +M (or no MCID): an
                               important difference is not excluded
=============================  ============================================================

With an estimate but no CI, the reported P-value decides significance (``P = p``: p < 0.05;
``P < p``, ``P <= p``: p <= 0.05; ``P > p``: not significant) and the point estimate decides
importance as above; a non-significant result without a CI is *no significant difference*
(an important difference cannot be excluded).

With only a bound on |SMD| from a P-value bound (``|d| >= B`` when P <= p <= 0.05): the
direction comes from the source's statement, and the approximate 95% CI at the bound is
``B ± h`` with ``h = 1.959964 sqrt(1/n1 + 1/n2)``. Only when that CI lies beyond the MCID
(``B - h >= M``) is the harm or benefit *important*; otherwise the category is *harm (or
benefit), size uncertain*: a bound on the point estimate is not a bound on the effect. With
``|d| < B`` (P > 0.05): the CI reaches at most ``B + h`` and at least ``h`` from 0:
``B + h < M`` -> no important difference; otherwise no significant difference.

With only a stated direction and significance: *benefit/harm, size uncertain*; a stated
null: *no significant difference*; neither significance nor a P-value: *inconclusive* (the
size and the significance are unknown).

Categories and directions are :class:`enum.StrEnum` members (:class:`Category`,
:class:`Direction`): each is its own text, so JSON, reports and comparisons with the plain
strings read as before.

>>> Category.size_uncertain(Direction.HARM)
<Category.HARM_SIZE_UNCERTAIN: 'harm, size uncertain'>
>>> Category("benefit below the MCID").direction
<Direction.BENEFIT: 'benefit'>
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from metaverdict.effects.conversions import Z_975


class Direction(StrEnum):
    """Which way a result goes: ``benefit``, ``harm``, ``none`` (no significant difference)
    or ``unknown``."""

    BENEFIT = "benefit"
    HARM = "harm"
    NONE = "none"
    UNKNOWN = "unknown"


class Category(StrEnum):
    """A verdict category (rules in the module docstring)."""

    IMPORTANT_BENEFIT = "important benefit"
    BENEFIT_BELOW_MCID = "benefit below the MCID"
    BENEFIT_SIZE_UNCERTAIN = "benefit, size uncertain"
    NO_IMPORTANT_DIFFERENCE = "no important difference"
    NO_SIGNIFICANT_DIFFERENCE = "no significant difference"
    HARM_SIZE_UNCERTAIN = "harm, size uncertain"
    HARM_BELOW_MCID = "harm below the MCID"
    IMPORTANT_HARM = "important harm"
    INCONCLUSIVE = "inconclusive"
    OPINION_ONLY = "no trial evidence (opinion only)"

    @classmethod
    def important(cls, direction: Direction) -> Category:
        """``important benefit`` or ``important harm``."""
        return _SIGNIFICANT[Direction(direction)][0]

    @classmethod
    def below_mcid(cls, direction: Direction) -> Category:
        """``benefit below the MCID`` or ``harm below the MCID``."""
        return _SIGNIFICANT[Direction(direction)][1]

    @classmethod
    def size_uncertain(cls, direction: Direction) -> Category:
        """``benefit, size uncertain`` or ``harm, size uncertain``."""
        return _SIGNIFICANT[Direction(direction)][2]

    @property
    def direction(self) -> Direction:
        """The direction the category states (``unknown`` for inconclusive and opinion)."""
        return next((d for d, cats in _SIGNIFICANT.items() if self in cats),
                    Direction.NONE if self.no_difference else Direction.UNKNOWN)

    @property
    def no_difference(self) -> bool:
        """True for no important and no significant difference."""
        return self in (Category.NO_IMPORTANT_DIFFERENCE, Category.NO_SIGNIFICANT_DIFFERENCE)

    @property
    def is_below_mcid(self) -> bool:
        """True for a significant effect smaller than the MCID."""
        return self in (Category.BENEFIT_BELOW_MCID, Category.HARM_BELOW_MCID)

    @property
    def is_size_uncertain(self) -> bool:
        """True for a significant effect whose size cannot be set against an MCID."""
        return self in (Category.BENEFIT_SIZE_UNCERTAIN, Category.HARM_SIZE_UNCERTAIN)


#: The significant categories per direction: (important, below the MCID, size uncertain).
_SIGNIFICANT: dict[Direction, tuple[Category, Category, Category]] = {
    Direction.BENEFIT: (Category.IMPORTANT_BENEFIT, Category.BENEFIT_BELOW_MCID,
                        Category.BENEFIT_SIZE_UNCERTAIN),
    Direction.HARM: (Category.IMPORTANT_HARM, Category.HARM_BELOW_MCID,
                     Category.HARM_SIZE_UNCERTAIN),
}

CATEGORIES: tuple[Category, ...] = tuple(Category)
#: What each category means, for legends (every category is defined).
CATEGORY_DEFINITIONS: dict[Category, str] = {
    Category.IMPORTANT_BENEFIT:
        "the 95% CI excludes no effect and the estimate reaches the MCID",
    Category.BENEFIT_BELOW_MCID: "a statistically significant benefit smaller than the MCID",
    Category.BENEFIT_SIZE_UNCERTAIN:
        "a statistically significant benefit whose size cannot be set against an MCID (no CI, "
        "a bound only, or no patient-important threshold for the outcome)",
    Category.NO_IMPORTANT_DIFFERENCE:
        "the 95% CI includes no effect and excludes the MCID both ways",
    Category.NO_SIGNIFICANT_DIFFERENCE:
        "not statistically significant, but an important difference is not excluded (a wide "
        "CI or no numbers)",
    Category.HARM_SIZE_UNCERTAIN:
        "a statistically significant harm (or the comparator did better) whose size cannot be "
        "set against an MCID",
    Category.HARM_BELOW_MCID:
        "a statistically significant harm (or the comparator did better), smaller than the MCID",
    Category.IMPORTANT_HARM:
        "a statistically significant harm (or the comparator did better) that reaches the MCID",
    Category.INCONCLUSIVE: "the source reports neither an effect size nor its significance",
    Category.OPINION_ONLY: "only an expert's opinion is stored; no trial result",
}


@dataclass(frozen=True)
class Judgement:
    """A category with the facts behind it.

    ``direction``: ``benefit``, ``harm``, ``none`` (no significant difference) or
    ``unknown``; ``significant`` and ``important``: True, False or None (unknown).
    """

    category: Category
    direction: Direction
    significant: bool | None
    important: bool | None
    rule: str


def _sig_dir(b: float) -> Direction:
    return Direction.BENEFIT if b > 0 else Direction.HARM if b < 0 else Direction.NONE


def _by_size(d: Direction, important: bool) -> Category:
    return Category.important(d) if important else Category.below_mcid(d)


def classify_interval(b: float, lo: float, hi: float, m: float | None) -> Judgement:
    """Category for an estimate ``b`` with CI ``[lo, hi]`` on the benefit scale."""
    if lo > 0 or hi < 0:
        d = Direction.BENEFIT if lo > 0 else Direction.HARM
        if m is None:
            return Judgement(Category.size_uncertain(d), d, True, None,
                             f"CI excludes 0 ({d}); no MCID for this outcome, importance "
                             "not judged")
        if d is Direction.BENEFIT:
            imp = b >= m
            rule = f"CI lower limit > 0 and benefit {b:.3g} {'>=' if imp else '<'} MCID {m:.3g}"
        else:
            imp = b <= -m
            rule = f"CI upper limit < 0 and harm {-b:.3g} {'>=' if imp else '<'} MCID {m:.3g}"
        return Judgement(_by_size(d, imp), d, True, imp, rule)
    if m is None:
        return Judgement(Category.NO_SIGNIFICANT_DIFFERENCE, Direction.NONE, False, None,
                         "CI includes 0; no MCID for this outcome")
    if -m < lo and hi < m:
        return Judgement(Category.NO_IMPORTANT_DIFFERENCE, Direction.NONE, False, False,
                         f"CI [{lo:.3g}, {hi:.3g}] includes 0 and lies within ±MCID {m:.3g}")
    return Judgement(Category.NO_SIGNIFICANT_DIFFERENCE, Direction.NONE, False, None,
                     f"CI [{lo:.3g}, {hi:.3g}] includes 0 and reaches ±MCID {m:.3g}")


def classify_point(b: float, significant: bool | None, m: float | None) -> Judgement:
    """Category for an estimate without a CI, significance from the P-value."""
    if significant is None:
        return Judgement(Category.INCONCLUSIVE, Direction.UNKNOWN, None, None,
                         "no CI and no usable P-value: significance unknown")
    if not significant:
        return Judgement(Category.NO_SIGNIFICANT_DIFFERENCE, Direction.NONE, False, None,
                         "not significant and no CI: an important difference is not excluded")
    d = _sig_dir(b)
    if d is Direction.NONE:
        return Judgement(Category.INCONCLUSIVE, d, True, None,
                         "significant, but the estimate is 0")
    if m is None:
        return Judgement(Category.size_uncertain(d), d, True, None,
                         "significant; no MCID for this outcome, importance not judged")
    imp = abs(b) >= m
    return Judgement(_by_size(d, imp), d, True, imp,
                     f"P-value significant and |estimate| {abs(b):.3g} "
                     f"{'>=' if imp else '<'} MCID {m:.3g} (no CI)")


def classify_smd_bound(relation: str, bound: float, direction: Direction | None,
                       m: float | None, n1: int | None, n2: int | None) -> Judgement:
    """Category for a bound on |SMD| derived from a P-value bound (see module docstring)."""
    h = Z_975 * math.sqrt(1 / n1 + 1 / n2) if n1 and n2 else None
    if relation == ">=":
        d = Direction(direction) if direction else Direction.UNKNOWN
        if d not in (Direction.BENEFIT, Direction.HARM):
            return Judgement(Category.INCONCLUSIVE, d, True, None, f"|SMD| >= {bound:.3g}; "
                             "direction unknown")
        if m is not None and h is not None and bound - h >= m:
            return Judgement(Category.important(d), d, True, True,
                             f"|SMD| >= {bound:.3g} (bound from the P-value) and its "
                             f"approximate 95% CI ({bound - h:.2f} to {bound + h:.2f}) lies "
                             f"beyond the MCID {m:.3g}")
        if m is None or h is None:
            why = "no MCID for this outcome" if m is None else "group sizes unknown"
            return Judgement(Category.size_uncertain(d), d, True, None,
                             f"|SMD| >= {bound:.3g} (a bound from the P-value); {why}")
        return Judgement(Category.size_uncertain(d), d, True, None,
                         f"|SMD| >= {bound:.3g} is a bound on the point estimate; at the bound "
                         f"the approximate 95% CI is {bound - h:.2f} to {bound + h:.2f}, which "
                         f"crosses the MCID {m:.3g}: the size is uncertain")
    if m is None or h is None:
        return Judgement(Category.NO_SIGNIFICANT_DIFFERENCE, Direction.NONE, False, None,
                         f"|SMD| < {bound:.3g}; MCID or group sizes unknown")
    if bound + h < m:
        return Judgement(Category.NO_IMPORTANT_DIFFERENCE, Direction.NONE, False, False,
                         f"|SMD| < {bound:.3g} and CI half-width {h:.3g}: the CI lies within "
                         f"±{bound + h:.3g} < MCID {m:.3g}")
    return Judgement(Category.NO_SIGNIFICANT_DIFFERENCE, Direction.NONE, False, None,
                     f"|SMD| < {bound:.3g} (not significant), but the CI (half-width about "
                     f"{h:.3g} from the group sizes) reaches at least {h:.3g} from 0, "
                     f"{'at or beyond' if h >= m else 'possibly beyond'} the MCID {m:.3g}")
