"""metaverdict: from reported trial statistics to pooled effects, certainty and verdicts."""
from __future__ import annotations

from metaverdict.errors import ConvergenceError, InputError
from metaverdict.models import MetaAnalysisResult, meta_analysis

__version__ = "0.1.0"
__all__ = ["ConvergenceError", "InputError", "MetaAnalysisResult", "__version__", "meta_analysis"]
