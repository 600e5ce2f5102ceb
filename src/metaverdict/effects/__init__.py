"""metaverdict.effects: effect sizes and sampling variances from reported statistics.

:func:`effect_sizes` reproduces metafor's ``escalc()`` (every measure, in :data:`MEASURES`;
metafor 5.0-1's formulas by default, 3.8-1's with ``metafor="3.8"``);
:mod:`~metaverdict.effects.conversions` turns CIs, p-values, SEs and medians with IQR/range
into the inputs it needs.
"""
from __future__ import annotations

from metaverdict.effects.continuity import add_to_cells
from metaverdict.effects.conversions import (
                                             Z_975,
                                             MeanSD,
                                             mean_sd_from_median,
                                             pooled_sd,
                                             sd_from_se,
                                             se_from_ci,
                                             se_from_pvalue,
                                             smd_bound_from_p,
                                             variance_from_ci,
)
from metaverdict.effects.escalc import effect_sizes
from metaverdict.effects.measures import MEASURES, Measure, hedges_correction
from metaverdict.effects.results import DroppedStudy, EffectSizes

__all__ = [
    "MEASURES", "Z_975", "DroppedStudy", "EffectSizes", "MeanSD", "Measure", "add_to_cells",
    "effect_sizes",
    "hedges_correction", "mean_sd_from_median", "pooled_sd", "sd_from_se", "se_from_ci",
    "se_from_pvalue", "smd_bound_from_p", "variance_from_ci",
]
