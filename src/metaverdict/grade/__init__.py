"""metaverdict.grade: GRADE certainty of bodies of evidence and the MCID table.

>>> from metaverdict.grade import MCIDTable, rate_certainty      # doctest: +SKIP
>>> cert = rate_certainty(body, MCIDTable.bundled().lookup("pain", "SMD"))   # doctest: +SKIP
>>> cert.level, cert.reasons                                      # doctest: +SKIP
"""
from __future__ import annotations

from metaverdict.grade.body import Body
from metaverdict.grade.certainty import Certainty, Downgrade, rate_certainty
from metaverdict.grade.mcid import MCID, MCIDMatch, MCIDTable
from metaverdict.grade.review_rating import LEVELS, review_level

__all__ = ["Body", "Certainty", "Downgrade", "LEVELS", "MCID", "MCIDMatch", "MCIDTable",
           "rate_certainty", "review_level"]
