"""Exact Bayesian random-effects meta-analysis in the normal-normal hierarchical model, at
parity with R's bayesmeta 3.4 (Röver 2020): :func:`bayesian_meta_analysis` for one analysis,
:func:`bayesian_batch` for many at once (the same kernels over a leading batch axis).

Modules: :mod:`.priors` (tau and mu priors, Turner et al. 2015 and Rhodes et al. 2015),
:mod:`.kernel` (the posterior as array kernels), :mod:`.direct` (bayesmeta's DIRECT grid),
:mod:`.fit` and :mod:`.result` (the single fit), :mod:`.batch` (many fits).
"""
from metaverdict.models.bayes.batch import BayesianBatchResult, bayesian_batch
from metaverdict.models.bayes.fit import bayesian_meta_analysis
from metaverdict.models.bayes.priors import (
    HalfNormalPrior,
    HalfStudentTPrior,
    JeffreysPrior,
    LogNormalPrior,
    LogStudentTPrior,
    LomaxPrior,
    MuPrior,
    TauPrior,
    UniformPrior,
    half_cauchy,
    rhodes_prior,
    turner_prior,
)
from metaverdict.models.bayes.result import (
    BayesFactors,
    BayesianMetaAnalysisResult,
    PointEstimate,
)

__all__ = ["BayesFactors", "BayesianBatchResult", "BayesianMetaAnalysisResult",
           "HalfNormalPrior", "HalfStudentTPrior", "JeffreysPrior", "LogNormalPrior",
           "LogStudentTPrior", "LomaxPrior", "MuPrior", "PointEstimate", "TauPrior",
           "UniformPrior", "bayesian_batch", "bayesian_meta_analysis", "half_cauchy",
           "rhodes_prior", "turner_prior"]
