"""One randomized trial's participant-level data: validation, MMRM at R ``mmrm`` parity,
per-visit ANCOVA, SMD, responders, lnVR, a moderator hypothesis and study-level rows.

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
from metaverdict.trials.mmrm import Contrast, DfMethod, FTest, MMRMResult, Vcov, mmrm
from metaverdict.trials.simulate import load_marathon_trial, simulate_marathon_trial

__all__ = ["mmrm", "MMRMResult", "Contrast", "FTest", "DfMethod", "Vcov", "Structure",
           "CovarianceModel", "TrialData", "trial_data", "analyze_trial", "analyze_outcome",
           "TrialAnalysis", "OutcomeAnalysis", "StudyResults", "Moderation",
           "load_marathon_trial", "simulate_marathon_trial"]
