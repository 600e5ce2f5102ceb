"""League table (netmeta's ``netleague``): network estimates below the diagonal, direct
estimates above it.

In ``seq`` order, cell (i, j) with ``i > j`` (lower triangle) is the network estimate of the
**column** treatment ``seq[j]`` versus the **row** treatment ``seq[i]``; cell ``i < j`` (upper
triangle) is the direct estimate of the **row** treatment versus the **column** treatment
(empty without direct evidence). This is netmeta's convention: reading across a row of the
lower triangle compares every earlier treatment with the row's treatment.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from metaverdict._results import ResultMixin, read_only
from metaverdict.errors import InputError
from metaverdict.network.pairwise import RATIO_MEASURES

if TYPE_CHECKING:
    from metaverdict.network.results import NetworkMetaAnalysisResult

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False, repr=False)
class LeagueTable(ResultMixin):
    """A league table in ``seq`` order (see the module docstring): ``estimate``,
    ``ci_lower``, ``ci_upper`` (analysis scale, NaN on the diagonal and where there is no
    direct estimate)."""

    model: str
    sm: str | None
    level: float
    seq: tuple[str, ...]
    estimate: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray

    _repr_fields = ("model", "seq")

    def frame(self, field: str = "estimate") -> pd.DataFrame:
        """``estimate``, ``ci_lower`` or ``ci_upper`` as a DataFrame (rows and columns in
        ``seq`` order)."""
        if field not in ("estimate", "ci_lower", "ci_upper"):
            raise InputError(f"field 'field': unknown {field!r}; choose estimate, ci_lower or "
                             "ci_upper")
        return pd.DataFrame(np.array(getattr(self, field), copy=True), index=list(self.seq),
                            columns=list(self.seq))

    def text(self, digits: int = 2, backtransform: bool | None = None,
             missing: str = ".") -> pd.DataFrame:
        """Cells as ``"est [lower; upper]"`` text, treatment names on the diagonal, ``missing``
        where there is no estimate (no direct evidence); ratio measures back-transformed
        (``exp``) unless ``backtransform=False``."""
        back = self.sm in RATIO_MEASURES if backtransform is None else backtransform
        n = len(self.seq)
        cells = [[missing for _ in range(n)] for _ in range(n)]
        for i in range(n):
            for j in range(n):
                if i == j:
                    cells[i][j] = self.seq[i]
                    continue
                est = self.estimate[i, j]
                if not math.isfinite(est):
                    continue
                lo, hi = self.ci_lower[i, j], self.ci_upper[i, j]
                if back:
                    est, lo, hi = math.exp(est), math.exp(lo), math.exp(hi)
                cells[i][j] = f"{est:.{digits}f} [{lo:.{digits}f}; {hi:.{digits}f}]"
        return pd.DataFrame(cells, index=list(self.seq), columns=list(self.seq))

    def summary(self) -> str:
        """The league table as text (2 decimals)."""
        table = self.text()
        width = max(len(c) for row in table.to_numpy() for c in row)
        lines = [f"League table ({self.model} effects; lower triangle: column vs row, network; "
                 "upper triangle: row vs column, direct)"]
        for row in table.to_numpy():
            lines.append("  ".join(c.ljust(width) for c in row).rstrip())
        return "\n".join(lines)


def league_table(net: NetworkMetaAnalysisResult, model: str, seq: Any = None) -> LeagueTable:
    """Build the league table of ``net`` (see the module docstring)."""
    order = net.seq if seq is None else tuple(str(s) for s in seq)
    if sorted(order) != sorted(net.treatments):
        raise InputError(f"field 'seq': must list every treatment once "
                         f"({', '.join(net.treatments)})")
    index = [net.treatments.index(t) for t in order]
    nw = net.network(model)
    dr = net.direct(model)
    n = len(order)
    est, lo, hi = (np.full((n, n), np.nan) for _ in range(3))
    for a, i in enumerate(index):
        for b, j in enumerate(index):
            if a > b:       # network: column versus row
                est[a, b], lo[a, b], hi[a, b] = nw.estimate[j, i], nw.ci_lower[j, i], \
                    nw.ci_upper[j, i]
            elif a < b:     # direct: row versus column
                est[a, b], lo[a, b], hi[a, b] = dr.estimate[i, j], dr.ci_lower[i, j], \
                    dr.ci_upper[i, j]
    return LeagueTable(model=model, sm=net.sm, level=net.level_ma, seq=order,
                       estimate=read_only(est), ci_lower=read_only(lo), ci_upper=read_only(hi))
