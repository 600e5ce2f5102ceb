"""The result of :func:`~metaverdict.effects.effect_sizes`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from metaverdict._results import ResultMixin, fmt, format_table


@dataclass(frozen=True, eq=False, repr=False)
class EffectSizes(ResultMixin):
    """Per-study effect sizes ``yi`` and sampling variances ``vi`` (metafor's ``escalc`` output).

    Attributes
    ----------
    measure : str
        metafor's measure code, e.g. ``"SMD"`` or ``"OR"``.
    yi, vi : numpy.ndarray
        Effect sizes and sampling variances, one per study in input order. Entries are NaN only
        for studies dropped by ``drop00=True`` (no events, or only events, in both groups).
    labels : list or None
        Study labels (the data's index by default).
    """

    measure: str
    yi: npt.NDArray[np.float64]
    vi: npt.NDArray[np.float64]
    labels: list[Any] | None = None

    _repr_fields = ("measure", "k")

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.yi)

    def __len__(self) -> int:
        return len(self.yi)

    @property
    def sei(self) -> npt.NDArray[np.float64]:
        """Standard errors ``sqrt(vi)``."""
        return np.sqrt(self.vi)

    def _index(self) -> pd.Index:
        return pd.Index(self.labels, name="study") if self.labels is not None else pd.RangeIndex(
            1, self.k + 1, name="row")

    def to_frame(self) -> pd.DataFrame:
        """``yi`` and ``vi`` as a DataFrame indexed by study label (row number without labels)."""
        return pd.DataFrame({"yi": self.yi, "vi": self.vi}, index=self._index())

    def summary(self, level: float = 0.95) -> str:
        """A table of ``yi``, ``vi``, standard error and Wald confidence interval per study."""
        z = float(norm.ppf(0.5 + level / 2))
        se = self.sei
        pct = f"{100 * level:g}%"
        rows = [[str(lab), fmt(y), fmt(v), fmt(s), fmt(y - z * s), fmt(y + z * s)]
                for lab, y, v, s in zip(self._index(), self.yi, self.vi, se)]
        header = ["study", "yi", "vi", "se", f"{pct} CI lower", f"{pct} CI upper"]
        return f"Effect sizes: {self.measure} (k = {self.k})\n" + format_table(header, rows)
