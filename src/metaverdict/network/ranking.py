"""P-scores: the frequentist analogue of SUCRA (Rücker & Schwarzer 2015; netmeta's
``netrank``).

For treatments ``i`` and ``j`` with network estimate ``TE_ij`` (i versus j) and standard error
``SE_ij``, the probability that ``i`` is better than ``j`` is
:math:`P_{ij} = \\Phi(-TE_{ij} / SE_{ij})` when small effects are good, and
:math:`\\Phi(TE_{ij} / SE_{ij})` when they are bad; the P-score of ``i`` is the mean of
:math:`P_{ij}` over the other treatments, between 0 (certainly worst) and 1 (certainly best).

References
----------
Rücker, G., & Schwarzer, G. (2015). Ranking treatments in frequentist network meta-analysis
works without resampling methods. BMC Medical Research Methodology, 15, 58.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from metaverdict._results import ResultMixin, fmt, format_table, read_only
from metaverdict.errors import InputError

if TYPE_CHECKING:
    from metaverdict.network.results import NetworkMetaAnalysisResult

FloatArray = npt.NDArray[np.float64]
_SMALL = {"good": "desirable", "desirable": "desirable", "bad": "undesirable",
          "undesirable": "undesirable"}


def small_values_code(value: str) -> str:
    """``"desirable"`` (small effects are good) or ``"undesirable"``; accepts netmeta's
    ``"good"`` / ``"bad"`` too."""
    code = _SMALL.get(str(value).lower()) if isinstance(value, str) else None
    if code is None:
        raise InputError(f"field 'small_values': unknown {value!r}; choose 'good' (or "
                         "'desirable': small effects are beneficial) or 'bad' (or "
                         "'undesirable')")
    return code


def pscore_matrix(te: FloatArray, se: FloatArray, small_values: str) -> FloatArray:
    """``P[i, j]``: probability that treatment ``i`` is better than ``j`` (NaN diagonal)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        z = te / se
    p = norm.cdf(-z) if small_values == "desirable" else norm.cdf(z)
    p = np.asarray(p, dtype=float)
    np.fill_diagonal(p, np.nan)
    return p


@dataclass(frozen=True, eq=False, repr=False)
class PScores(ResultMixin):
    """P-scores of the common and random effects models (``treatments`` order) and the
    matrices of pairwise probabilities ``P[i, j] = P(i better than j)``."""

    small_values: str
    treatments: tuple[str, ...]
    common: FloatArray
    random: FloatArray
    matrix_common: FloatArray
    matrix_random: FloatArray

    _repr_fields = ("small_values",)

    def table(self) -> pd.DataFrame:
        """P-scores by treatment, best first (random-effects order)."""
        frame = pd.DataFrame({"common": np.array(self.common), "random": np.array(self.random)},
                             index=pd.Index(list(self.treatments), name="treatment"))
        return frame.sort_values("random", ascending=False, kind="stable")

    def summary(self) -> str:
        """Treatments ranked by their random-effects P-score."""
        better = "small" if self.small_values == "desirable" else "large"
        rows = [[str(t), fmt(r["common"]), fmt(r["random"])] for t, r in self.table().iterrows()]
        return "\n".join([f"P-scores ({better} effects are better)", "",
                          format_table(["treatment", "common", "random"], rows)])


def p_scores(net: NetworkMetaAnalysisResult, small_values: str) -> PScores:
    """P-scores of a fitted network (see the module docstring)."""
    code = small_values_code(small_values)
    mc = pscore_matrix(net.common.estimate, net.common.se, code)
    mr = pscore_matrix(net.random.estimate, net.random.se, code)
    return PScores(small_values=code, treatments=net.treatments,
                   common=read_only(np.nanmean(mc, axis=1)),
                   random=read_only(np.nanmean(mr, axis=1)), matrix_common=read_only(mc),
                   matrix_random=read_only(mr))
