"""Meta-analytic models: common/random effects with every usual tau² estimator, Hartung-Knapp,
prediction intervals, Q-profile CIs, meta-regression (``meta_analysis``), subgroups,
permutation tests, cluster-robust inference, multilevel models, Mantel-Haenszel and Peto."""
from metaverdict.models._tables import PooledTablesResult
from metaverdict.models.inference import InferenceTest
from metaverdict.models.intervals import HeterogeneityCI, Interval, ProfileCI
from metaverdict.models.mantel_haenszel import mantel_haenszel
from metaverdict.models.multilevel import MultilevelResult, multilevel
from metaverdict.models.permutation import PermutationResult, exact_count, permutation_test
from metaverdict.models.peto import peto
from metaverdict.models.random_effects import METHODS, Method, SolverControl, estimate_tau2
from metaverdict.models.results import MetaAnalysisResult
from metaverdict.models.robust import RobustResult, robust
from metaverdict.models.subgroups import SubgroupResult, subgroup_analysis
from metaverdict.models.univariate import meta_analysis, predict

__all__ = ["METHODS", "HeterogeneityCI", "InferenceTest", "Interval", "MetaAnalysisResult",
           "Method", "MultilevelResult", "PermutationResult", "PooledTablesResult", "ProfileCI",
           "RobustResult", "SolverControl", "SubgroupResult", "estimate_tau2", "exact_count",
           "mantel_haenszel", "meta_analysis", "multilevel", "permutation_test", "peto",
           "predict", "robust", "subgroup_analysis"]
