"""Meta-analytic models: common/random effects with every usual tau² estimator, Hartung-Knapp,
prediction intervals, Q-profile CIs and meta-regression (``meta_analysis``)."""
from metaverdict.models.mantel_haenszel import mantel_haenszel
from metaverdict.models.peto import peto
from metaverdict.models._tables import PooledTablesResult
from metaverdict.models.random_effects import METHODS, SolverControl, estimate_tau2
from metaverdict.models.results import HeterogeneityCI, Interval, MetaAnalysisResult
from metaverdict.models.univariate import meta_analysis

__all__ = ["METHODS", "HeterogeneityCI", "Interval", "MetaAnalysisResult", "SolverControl",
           "PooledTablesResult", "estimate_tau2", "mantel_haenszel", "meta_analysis", "peto"]
