"""The result of :func:`~metaverdict.effects.effect_sizes`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from metaverdict._results import ResultMixin, fmt, format_table


@dataclass(frozen=True)
class DroppedStudy:
    """A study left out of :func:`~metaverdict.effects.effect_sizes` (its ``yi``, ``vi`` are NaN).

    Attributes
    ----------
    row : int
        1-based position of the study in the input.
    label : object or None
        Its label (None without labels).
    fields : tuple of str
        The inputs that were missing (column names as given), empty for ``drop00``.
    reason : {"missing input", "drop00"}
        Why: a missing (NaN/None) required input, as metafor's NA; or no events (or only
        events) in both groups with ``drop00=True``.
    """

    row: int
    label: Any
    fields: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        where = f"study {self.label!r}" if self.label is not None else f"row {self.row}"
        return f"{where} ({', '.join(self.fields)})" if self.fields else where


@dataclass(frozen=True, eq=False, repr=False)
class EffectSizes(ResultMixin):
    """Per-study effect sizes ``yi`` and sampling variances ``vi`` (metafor's ``escalc`` output).

    Attributes
    ----------
    measure : str
        metafor's measure code, e.g. ``"SMD"`` or ``"OR"``.
    yi, vi : numpy.ndarray
        Effect sizes and sampling variances, one per study in input order (as metafor's
        ``escalc``). Entries are NaN only for the studies in ``dropped``;
        :func:`metaverdict.meta_analysis` given this result leaves them out with a warning
        (metafor's ``na.omit``), while NaN in plain arrays is an ``InputError``.
    labels : list or None
        Study labels (the data's index by default).
    dropped : tuple of DroppedStudy
        The studies with NaN ``yi``, ``vi``: a missing required input, or ``drop00``.
    """

    measure: str
    yi: npt.NDArray[np.float64]
    vi: npt.NDArray[np.float64]
    labels: list[Any] | None = None
    dropped: tuple[DroppedStudy, ...] = ()

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
        text = f"Effect sizes: {self.measure} (k = {self.k})\n" + format_table(header, rows)
        if self.dropped:
            text += "\nLeft out (yi = vi = NaN): " + "; ".join(
                f"{d} [{d.reason}]" for d in self.dropped)
        return text
