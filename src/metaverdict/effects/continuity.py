"""Continuity corrections for zero counts, as metafor's ``escalc(add=, to=)`` applies them.

A study with a zero cell has an undefined log odds ratio (or log risk ratio, log rate ratio,
logit proportion). metafor's default adds ``add = 1/2`` to *every* cell of such a study
(``to="only0"``); ``to="all"`` adds it to every study, ``to="if0all"`` to every study as soon as
one study has a zero cell, and ``to="none"`` never adds it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from metaverdict._validation import choice

FloatArray = npt.NDArray[np.float64]

TO_OPTIONS = ("only0", "all", "if0all", "none")


def corrected_rows(cells: Sequence[FloatArray], to: str,
                   exclude: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.bool_]:
    """Which studies receive the continuity correction.

    Parameters
    ----------
    cells : sequence of arrays
        The counts of each study (e.g. ``ai, bi, ci, di``), all of the same shape.
    to : {"only0", "all", "if0all", "none"}
        metafor's ``to`` argument.
    exclude : bool array, optional
        Studies left out of the analysis (``drop00``); they neither receive the correction nor
        trigger it for the other studies under ``to="if0all"``.
    """
    to = choice(to, TO_OPTIONS, "to")
    shape = np.shape(cells[0])
    keep = np.ones(shape, bool) if exclude is None else ~exclude
    has_zero: npt.NDArray[np.bool_] = np.any([np.asarray(c) == 0 for c in cells], axis=0) & keep
    if to == "all":
        return keep
    if to == "only0":
        return has_zero
    if to == "if0all":
        return keep & bool(has_zero.any())
    return np.zeros(shape, bool)


def add_to_cells(cells: Sequence[FloatArray], add: float, to: str,
                 exclude: npt.NDArray[np.bool_] | None = None) -> list[FloatArray]:
    """Return ``cells`` with ``add`` added to every cell of the studies chosen by ``to``.

    See :func:`corrected_rows`; e.g. ``add_to_cells([a, b, c, d], 0.5, "only0")`` adds 1/2 to
    all four cells of each 2x2 table that has at least one zero cell (metafor's default).
    """
    rows = corrected_rows(cells, to, exclude)
    return [np.asarray(c, dtype=np.float64) + add * rows for c in cells]
