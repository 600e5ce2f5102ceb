"""Overlap between reviews: the citation matrix and the corrected covered area.

Pieper D, Antoine SL, Mathes T, Neugebauer EAM, Eikermann M. Systematic review finds
overlapping reviews were not mentioned in every other overview. J Clin Epidemiol
2014;67(4):368-375. With ``c`` reviews (columns of the citation matrix), ``r`` distinct primary
trials (rows) and ``N`` inclusions counted with repetition (the number of ticks)::

    CCA = (N - r) / (r * c - r)

0 when no trial is shared, 1 when every review includes every trial; Pieper et al. read
0-5% as slight, 6-10% moderate, 11-15% high and above 15% very high overlap.

A CCA needs every review's complete list. When a review's list is unknown or only partly
recorded, :func:`overlap` says "overlap unknown" and lists the trials known to be shared.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from metaverdict._results import ResultMixin
from metaverdict.errors import InputError
from metaverdict.evidence.queries import IncludedTrialRow

#: Pieper et al.'s bands (upper bound of each, as a fraction).
CCA_BANDS: tuple[tuple[float, str], ...] = ((0.05, "slight"), (0.10, "moderate"),
                                            (0.15, "high"), (1.0, "very high"))


def corrected_covered_area(matrix: Sequence[Sequence[bool | int]]) -> float:
    """CCA of a citation matrix (rows: distinct primary trials, columns: reviews).

    Raises
    ------
    InputError
        For fewer than two reviews, no trial, a row with no inclusion or ragged rows.
    """
    rows = [list(r) for r in matrix]
    if not rows:
        raise InputError("citation matrix: needs at least one primary trial (row)")
    c = len(rows[0])
    if c < 2:
        raise InputError("citation matrix: needs at least two reviews (columns)")
    for i, row in enumerate(rows, start=1):
        if len(row) != c:
            raise InputError(f"citation matrix, row {i}: has {len(row)} columns, expected {c}")
        if not any(row):
            raise InputError(f"citation matrix, row {i}: a trial no review includes")
    r = len(rows)
    n = sum(bool(x) for row in rows for x in row)
    return (n - r) / (r * c - r)


def cca_band(cca: float) -> str:
    """Pieper et al.'s reading of a CCA (slight, moderate, high, very high)."""
    return next(band for limit, band in CCA_BANDS if cca <= limit + 1e-12)


@dataclass(frozen=True, repr=False)
class Overlap(ResultMixin):
    """Overlap of the reviews behind one answer (or a whole treatment).

    Attributes
    ----------
    reviews : tuple of str
        Source keys of the reviews considered.
    cca : float or None
        Corrected covered area (0-1); None when any list is missing or partial.
    status : str
        A sentence: the CCA and its band, or why it is unknown.
    trials : tuple of str
        The citation matrix's rows (distinct trials), where known.
    matrix : tuple of tuple of bool
        Trials × reviews, ``True`` where the review includes the trial.
    shared : tuple of str
        Trials known to be in more than one of the reviews.
    unknown : tuple of str
        Reviews whose included-trial list is not recorded (or only partly).
    """

    reviews: tuple[str, ...]
    cca: float | None
    status: str
    trials: tuple[str, ...] = ()
    matrix: tuple[tuple[bool, ...], ...] = ()
    shared: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    _repr_fields = ("reviews", "cca")

    def summary(self) -> str:
        """The status, then the citation matrix (``x`` = included)."""
        lines = [self.status]
        if self.trials:
            width = max(len(t) for t in self.trials)
            lines.append(" " * width + "  " + "  ".join(self.reviews))
            for t, row in zip(self.trials, self.matrix):
                lines.append(t.ljust(width) + "  " + "  ".join(
                    ("x" if x else ".").center(len(rv)) for x, rv in zip(row, self.reviews)))
        return "\n".join(lines)


def overlap(reviews: Iterable[str], included: Iterable[IncludedTrialRow]) -> Overlap:
    """The overlap of ``reviews`` (source keys) from the recorded included trials."""
    keys = tuple(dict.fromkeys(reviews))
    lists: dict[str, list[IncludedTrialRow]] = {k: [] for k in keys}
    for t in included:
        if t.review in lists:
            lists[t.review].append(t)
    trials = tuple(sorted({t.trial for ts in lists.values() for t in ts}))
    matrix = tuple(tuple(any(t.trial == trial for t in lists[k]) for k in keys)
                   for trial in trials)
    shared = tuple(t for t, row in zip(trials, matrix) if sum(row) > 1)
    unknown = tuple(k for k in keys if not lists[k] or not all(t.complete for t in lists[k]))
    if len(keys) < 2:
        return Overlap(keys, None, "one review: no overlap to assess", trials, matrix)
    if unknown:
        known = f"; trials known to be shared: {', '.join(shared)}" if shared else ""
        return Overlap(keys, None, "overlap unknown: the included trials of "
                       f"{', '.join(unknown)} are not recorded in full{known}",
                       trials, matrix, shared, unknown)
    cca = corrected_covered_area(matrix)
    return Overlap(keys, cca, f"CCA {100 * cca:.1f}% ({cca_band(cca)} overlap; Pieper et al. "
                   f"2014) across {len(keys)} reviews and {len(trials)} distinct trials",
                   trials, matrix, shared)
