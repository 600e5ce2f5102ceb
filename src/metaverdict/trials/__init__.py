"""One randomized trial: design (sample size, power, randomization lists) and its
participant-level data (validation, MMRM at R ``mmrm`` parity, per-visit ANCOVA, SMD,
responders, lnVR, a moderator hypothesis, study-level rows).

>>> from metaverdict.trials import analyze_trial, load_marathon_trial
>>> data = load_marathon_trial()                   # SIMULATED demo data
>>> data.simulated, data.treatment, data.control
(True, 'dry needling', 'sham')
"""
from __future__ import annotations

from metaverdict.trials.analysis import (
    Moderation,
    OutcomeAnalysis,
    StudyResults,
    TrialAnalysis,
    analyze_outcome,
    analyze_trial,
)
from metaverdict.trials.covariance import CovarianceModel, Structure
from metaverdict.trials.data import TrialData, trial_data
from metaverdict.trials.design import PowerAnalysis, power, sample_size, variance_factor
from metaverdict.trials.mmrm import Contrast, DfMethod, FTest, MMRMResult, Vcov, mmrm
from metaverdict.trials.randomization import RandomizationList, parse_strata, randomization_list
from metaverdict.trials.simulate import load_marathon_trial, simulate_marathon_trial

__all__ = ["mmrm", "MMRMResult", "Contrast", "FTest", "DfMethod", "Vcov", "Structure",
           "CovarianceModel", "TrialData", "trial_data", "analyze_trial", "analyze_outcome",
           "TrialAnalysis", "OutcomeAnalysis", "StudyResults", "Moderation",
           "load_marathon_trial", "simulate_marathon_trial", "sample_size", "power",
           "variance_factor", "PowerAnalysis", "randomization_list", "RandomizationList",
           "parse_strata"]
