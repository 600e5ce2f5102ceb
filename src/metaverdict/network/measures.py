"""Network measures of König, Krahn & Binder (2013) (netmeta's ``netmeasures``), common-effects
model.

From the design-level hat matrix ``H`` (rows: comparisons, columns: designs' basic contrasts),
``H~[c, d] = (|sum_r H[c, r]| + sum_r |H[c, r]|) / 2`` over the columns ``r`` of design
``d``:

* ``proportion``: direct evidence proportion ``Var(network) / Var(direct)`` (0 without direct
  evidence);
* ``mean_path``: the mean path length ``sum_d H~[c, d]`` (1 for purely direct evidence);
* ``minimal_parallelism``: ``1 / max_d H~[c, d]``, and per study with the study-level hat
  matrix (``minimal_parallelism_study``).

References
----------
König, J., Krahn, U., & Binder, H. (2013). Visualizing the flow of evidence in network
meta-analysis and characterizing mixed treatment comparisons. Statistics in Medicine, 32(30),
5414-5429.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from metaverdict._results import ResultMixin, fmt, format_table, read_only
from metaverdict.errors import InputError
from metaverdict.network.krahn import design_model, measures

if TYPE_CHECKING:
    from metaverdict.network.results import NetworkMetaAnalysisResult

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False, repr=False)
class NetworkMeasures(ResultMixin):
    """Per comparison (``"A:B"``, all pairs in treatment order): see the module docstring."""

    comparisons: tuple[str, ...]
    proportion: FloatArray
    mean_path: FloatArray
    minimal_parallelism: FloatArray
    minimal_parallelism_study: FloatArray

    _repr_fields = ("comparisons",)

    def table(self) -> pd.DataFrame:
        """All four measures by comparison."""
        return pd.DataFrame({"proportion": np.array(self.proportion),
                             "mean_path": np.array(self.mean_path),
                             "minimal_parallelism": np.array(self.minimal_parallelism),
                             "minimal_parallelism_study":
                                 np.array(self.minimal_parallelism_study)},
                            index=pd.Index(list(self.comparisons), name="comparison"))

    def summary(self) -> str:
        """The measures as a table."""
        rows = [[str(c), fmt(r["proportion"]), fmt(r["mean_path"]), fmt(r["minimal_parallelism"]),
                 fmt(r["minimal_parallelism_study"])] for c, r in self.table().iterrows()]
        return format_table(["comparison", "proportion", "mean path", "min. par.",
                             "min. par. (study)"], rows)


def network_measures(net: NetworkMetaAnalysisResult) -> NetworkMeasures:
    """Measures of the common-effects model of ``net`` (see the module docstring)."""
    model = design_model(net.contrasts, "", 0.0)
    if model is None:
        raise InputError("network measures need at least two designs; this network has one")
    m = measures(model)
    return NetworkMeasures(comparisons=m.comparisons, proportion=read_only(m.proportion),
                           mean_path=read_only(m.mean_path),
                           minimal_parallelism=read_only(m.minimal_parallelism),
                           minimal_parallelism_study=read_only(m.minimal_parallelism_study))
