"""Treatment-by-treatment matrices of estimates: one frozen container for the network, direct,
indirect and predicted comparisons."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table, read_only
from metaverdict.errors import InputError
from metaverdict.network.graph import wald

FloatArray = npt.NDArray[np.float64]
Orientation = Literal["column_vs_row", "row_vs_column"]
FIELDS = ("estimate", "se", "ci_lower", "ci_upper", "statistic", "pvalue")


@dataclass(frozen=True, eq=False, repr=False)
class EstimateMatrices(ResultMixin):
    """Estimates of every pair of treatments with SE, CI, z and p (read-only ``n x n`` arrays).

    Entry ``[i, j]`` of each array is the comparison of ``treatments[i]`` versus
    ``treatments[j]`` (netmeta's orientation); :meth:`frame` also gives the transposed
    "column versus row" layout. Estimates are on the analysis scale (log for ratio measures).
    NaN marks a comparison without an estimate (e.g. no direct evidence).
    """

    kind: str
    model: str
    level: float
    treatments: tuple[str, ...]
    estimate: FloatArray
    se: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    statistic: FloatArray
    pvalue: FloatArray

    _repr_fields = ("kind", "model", "level")

    @classmethod
    def from_estimates(cls, kind: str, model: str, level: float, treatments: tuple[str, ...],
                       te: FloatArray, se: FloatArray) -> EstimateMatrices:
        """Wald intervals and tests for ``te`` / ``se`` (diagonal: 0 with NaN z and p)."""
        lower, upper, stat, p = wald(te, se, level)
        return cls(kind=kind, model=model, level=level, treatments=treatments,
                   estimate=read_only(te), se=read_only(se), ci_lower=read_only(lower),
                   ci_upper=read_only(upper), statistic=read_only(stat), pvalue=read_only(p))

    def frame(self, field: str = "estimate",
              orientation: Orientation = "row_vs_column") -> pd.DataFrame:
        """One field as a DataFrame indexed by treatment.

        ``orientation="row_vs_column"``: cell (r, c) is treatment r versus c;
        ``"column_vs_row"``: cell (r, c) is treatment c versus r (netmeta's league-table
        lower triangle). Bounds swap accordingly (the lower bound of c versus r is minus the
        upper bound of r versus c).
        """
        if field not in FIELDS:
            raise InputError(f"field 'field': unknown {field!r}; choose one of "
                             f"{', '.join(FIELDS)}")
        if orientation not in ("column_vs_row", "row_vs_column"):
            raise InputError(f"field 'orientation': unknown {orientation!r}; choose "
                             "'column_vs_row' or 'row_vs_column'")
        values = np.array(getattr(self, field), copy=True)
        if orientation == "column_vs_row":
            values = values.T
        labels = list(self.treatments)
        return pd.DataFrame(values, index=pd.Index(labels, name="row"),
                            columns=pd.Index(labels, name="column"))

    def pair(self, first: str, second: str) -> dict[str, float]:
        """All fields for ``first`` versus ``second``."""
        index = {t: i for i, t in enumerate(self.treatments)}
        for t in (first, second):
            if t not in index:
                raise InputError(f"unknown treatment {t!r}; treatments: "
                                 f"{', '.join(self.treatments)}")
        i, j = index[first], index[second]
        return {f: float(getattr(self, f)[i, j]) for f in FIELDS}

    def long(self) -> pd.DataFrame:
        """One row per pair ``treat1`` versus ``treat2`` (``treat1`` before ``treat2`` in
        treatment order), with every field."""
        rows = []
        n = len(self.treatments)
        for i in range(n - 1):
            for j in range(i + 1, n):
                rows.append({"treat1": self.treatments[i], "treat2": self.treatments[j],
                             **{f: float(getattr(self, f)[i, j]) for f in FIELDS}})
        return pd.DataFrame(rows, columns=["treat1", "treat2", *FIELDS])

    def summary(self) -> str:
        """Every pair with its estimate, CI and p (analysis scale)."""
        pct = f"{100 * self.level:g}%"
        n = len(self.treatments)
        rows = [[f"{self.treatments[i]} vs {self.treatments[j]}",
                 fmt(float(self.estimate[i, j])), fmt(float(self.se[i, j])),
                 f"[{fmt(float(self.ci_lower[i, j]))}; {fmt(float(self.ci_upper[i, j]))}]",
                 fmt_p(float(self.pvalue[i, j]))]
                for i in range(n - 1) for j in range(i + 1, n)
                if np.isfinite(self.estimate[i, j])]
        return "\n".join([f"{self.kind.capitalize()} estimates ({self.model} effects)", "",
                          format_table(["comparison", "estimate", "se", f"{pct} CI", "p"],
                                       rows)])
