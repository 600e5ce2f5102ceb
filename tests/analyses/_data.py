"""Helpers for the published-analysis tests in tests/analyses.

``load_data`` reads the ``data`` table of a metafor reference fixture (tests/data/metafor) into
a DataFrame: the fixtures are column-oriented (``{"column": [values...]}``) and ``null`` (R's
``NA``) becomes ``NaN``. Only the raw study data are used here: every expected value in
tests/analyses is a number printed in a paper, never one of the fixture's metafor results.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "metafor"


def load_data(case_id: str) -> pd.DataFrame:
    """Study data of the fixture ``<case_id>.json`` (e.g. ``"dat.bcg__OR"``), in row order."""
    raw = json.loads((FIXTURES / f"{case_id}.json").read_text())["data"]
    return pd.DataFrame({column: [np.nan if v is None else v for v in values]
                         for column, values in raw.items()})


def printed(expected: float, decimals: int) -> Any:
    """Matches any value that rounds to ``expected`` at ``decimals`` places (a published number
    printed with that many decimals): ``pytest.approx`` with ``abs = 0.5 * 10**-decimals``."""
    return pytest.approx(expected, abs=0.5 * 10.0 ** -decimals + 1e-12)


def published(label: str, value: Callable[[], float], expected: float, decimals: int, *,
              xfail: str | None = None) -> Any:
    """One published number as a ``pytest.param`` of ``(value, expected, decimals)``.

    ``value`` is a callable returning metaverdict's number; ``label`` (the test id) names the
    quantity and where the paper prints it. ``xfail`` marks a value that metaverdict does not
    reproduce (strict: the test fails if it unexpectedly does), with the reason.
    """
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(value, expected, decimals, id=label, marks=marks)
