"""One randomized trial's participant-level data: MMRM at R ``mmrm`` parity (more to come:
design, randomization, per-visit ANCOVA, responders, lnVR, study-level rows)."""
from __future__ import annotations

from metaverdict.trials.covariance import CovarianceModel, Structure
from metaverdict.trials.mmrm import Contrast, DfMethod, FTest, MMRMResult, Vcov, mmrm

__all__ = ["mmrm", "MMRMResult", "Contrast", "FTest", "DfMethod", "Vcov", "Structure",
           "CovarianceModel"]
