"""metaverdict.grade: GRADE certainty of bodies of evidence and the MCID table.

>>> from metaverdict.grade import Body, MCIDTable, rate_certainty
>>> body = Body("dry needling", "sham", "neck pain", "pain", "short", "single trial",
...             measure="MD", estimate=-1.5, ci_lower=-2.5, ci_upper=-0.5,
...             lower_is_better=True, n_treatment=30, n_control=30,
...             risk_of_bias=("PEDro 7/10",))
>>> cert = rate_certainty(body, MCIDTable.bundled().lookup("pain", "MD", scale="0-10"))
>>> print(cert.level)
moderate
>>> cert.reasons[0]
'imprecision (-1): the 95% CI crosses the MCID (1); total N = 60 < 400 (optimal ...)'
"""
from __future__ import annotations

from metaverdict.grade.body import Body
from metaverdict.grade.certainty import Certainty, Downgrade, rate_certainty
from metaverdict.grade.levels import LEVELS, Basis, Level, RatingBasis
from metaverdict.grade.mcid import MCID, MCIDMatch, MCIDTable
from metaverdict.grade.review_rating import review_level

__all__ = ["Basis", "Body", "Certainty", "Downgrade", "LEVELS", "Level", "MCID", "MCIDMatch",
           "MCIDTable", "RatingBasis", "rate_certainty", "review_level"]
