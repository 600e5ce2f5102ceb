"""metaverdict: from reported trial statistics to pooled effects, certainty and verdicts.

The public API is a set of plain functions returning frozen result objects::

    import metaverdict as mv
    es = mv.effect_sizes("SMD", data=df, m1i="m1", sd1i="sd1", n1i="n1",
                         m2i="m2", sd2i="sd2", n2i="n2")
    res = mv.meta_analysis(es, method="REML", test="knha")
    print(res.summary())
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from metaverdict.errors import ConvergenceError, InputError

__version__ = "0.1.0"
#: Subpackages reachable as ``mv.<name>`` (imported on first use).
SUBPACKAGES: tuple[str, ...] = ("batch", "diagnostics", "effects", "evidence", "grade", "models",
                                "network", "report", "synthesis", "trials", "verdict")
#: Public names and the subpackage that defines them; imported on first use, so that
#: ``import metaverdict`` costs nothing until a function is called.
_LAZY: dict[str, str] = {
    **dict.fromkeys(("baujat", "blup", "cumulative", "egger_test", "fail_safe_n", "gosh",
                     "henmi_copas", "influence", "leave_one_out", "likelihood_profile",
                     "pet_peese", "rank_test",
                     "ranef", "rstandard", "trim_and_fill"), "diagnostics"),
    **dict.fromkeys(("EffectSizes", "effect_sizes"), "effects"),
    **dict.fromkeys(("MetaAnalysisResult", "MultilevelResult", "PooledTablesResult",
                     "mantel_haenszel", "meta_analysis", "multilevel", "permutation_test",
                     "peto", "predict", "robust", "subgroup_analysis"), "models"),
    **dict.fromkeys(("BayesianMetaAnalysisResult", "bayesian_meta_analysis"), "models.bayes"),
    **dict.fromkeys(("SelectionAdjustedResult", "SelectionModelResult", "selection_adjusted",
                     "selection_model"), "models.selection"),
    **dict.fromkeys(("LocationScaleResult", "location_scale"), "models.location_scale"),
    **dict.fromkeys(("GLMMResult", "meta_analysis_glmm"), "models.glmm"),
    **dict.fromkeys(("MultivariateResult", "multivariate"), "models.multivariate"),
    **dict.fromkeys(("vcalc",), "models.vcalc"),
    **dict.fromkeys(("NetworkMetaAnalysisResult", "network_connectivity",
                     "network_meta_analysis", "pairwise"), "network"),
}

if TYPE_CHECKING:                                          # pragma: no cover
    from metaverdict.diagnostics import (
        baujat,
        blup,
        cumulative,
        egger_test,
        fail_safe_n,
        gosh,
        henmi_copas,
        influence,
        leave_one_out,
        likelihood_profile,
        pet_peese,
        ranef,
        rank_test,
        rstandard,
        trim_and_fill,
    )
    from metaverdict.effects import EffectSizes, effect_sizes
    from metaverdict.models import (
        MetaAnalysisResult,
        MultilevelResult,
        PooledTablesResult,
        mantel_haenszel,
        meta_analysis,
        multilevel,
        permutation_test,
        peto,
        predict,
        robust,
        subgroup_analysis,
    )
    from metaverdict.models.bayes import BayesianMetaAnalysisResult, bayesian_meta_analysis
    from metaverdict.models.glmm import GLMMResult, meta_analysis_glmm
    from metaverdict.models.location_scale import LocationScaleResult, location_scale
    from metaverdict.models.multivariate import MultivariateResult, multivariate
    from metaverdict.models.selection import (
        SelectionAdjustedResult,
        SelectionModelResult,
        selection_adjusted,
        selection_model,
    )
    from metaverdict.models.vcalc import vcalc
    from metaverdict.network import (
        NetworkMetaAnalysisResult,
        network_connectivity,
        network_meta_analysis,
        pairwise,
    )


def __getattr__(name: str) -> object:
    """Import a public function or a subpackage (``mv.synthesis``, ``mv.batch``) on first
    use."""
    import importlib
    if name in _LAZY:
        value = getattr(importlib.import_module(f"metaverdict.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    if name in SUBPACKAGES:
        try:
            return importlib.import_module(f"metaverdict.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"metaverdict.{name}":
                raise
    raise AttributeError(f"module 'metaverdict' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(SUBPACKAGES))


__all__ = [
    "ConvergenceError", "InputError", "__version__", "BayesianMetaAnalysisResult", "EffectSizes",
    "GLMMResult", "LocationScaleResult", "MetaAnalysisResult", "MultilevelResult",
    "MultivariateResult", "NetworkMetaAnalysisResult", "PooledTablesResult",
    "SelectionAdjustedResult", "SelectionModelResult", "baujat", "bayesian_meta_analysis", "blup",
    "cumulative", "effect_sizes", "egger_test", "fail_safe_n", "gosh", "henmi_copas", "influence",
    "leave_one_out", "likelihood_profile", "location_scale", "mantel_haenszel", "meta_analysis",
    "meta_analysis_glmm", "multilevel", "multivariate", "network_connectivity",
    "network_meta_analysis", "pairwise", "permutation_test", "pet_peese", "peto", "predict",
    "ranef", "rank_test", "robust", "rstandard", "selection_adjusted", "selection_model",
    "subgroup_analysis", "trim_and_fill", "vcalc",
]
