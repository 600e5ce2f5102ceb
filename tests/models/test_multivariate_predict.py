"""Prediction intervals of multivariate models (MultivariateResult.predict) against R metafor
3.8-1 ``predict.rma.mv``.

Reference: tests/data/rma_mv/predict_reference.json, written by predict_reference.R in the same
folder (dat.ishak2007 in long format, one mean per time point: HAR random time effects, CS
random time effects, and random study effects with t tests). Fitted values (each row's own
tau²), new rows without tau² levels (no interval where tau² depends on the level) and with
them are compared column by column, NA where metafor has NA.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metaverdict.errors import InputError
from metaverdict.models.multivariate import multivariate

REFERENCE = json.loads((Path(__file__).parent.parent / "data" / "rma_mv"
                        / "predict_reference.json").read_text())
COLUMNS = (("pred", "pred"), ("se", "se"), ("ci_lb", "ci_lower"), ("ci_ub", "ci_upper"),
           ("pi_lb", "pi_lower"), ("pi_ub", "pi_upper"))
#: the HAR fit's correlation is at its bound (rho = 1), where metafor's nlminb stops earlier
RTOL = {"ishak_HAR": 1e-4}


def _arr(values: Any) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in np.atleast_1d(values)], dtype=float)


def _fit(case: dict[str, Any]) -> Any:
    data = pd.DataFrame(REFERENCE["ishak"])
    kwargs: dict[str, Any] = {"struct": case["struct"]} if case["struct"] else {}
    return multivariate("yi", "vi", data=data, mods=case["mods"], random=case["random"],
                        test=case.get("test", "z"), **kwargs)


def _compare(frame: pd.DataFrame, expected: dict[str, Any], rtol: float, what: str) -> int:
    n = len(_arr(expected["pred"]))
    assert len(frame) == n, what
    for key, col in COLUMNS:
        values = _arr(expected[key])
        assert len(values) == n, (what, key)            # a missing field is a failure
        np.testing.assert_allclose(frame[col].to_numpy(float), values, rtol=rtol, atol=1e-8,
                                   equal_nan=True, err_msg=f"{what} {key}")
    return n * len(COLUMNS)


@pytest.mark.parametrize("name", list(REFERENCE["cases"]))
def test_predict_matches_metafor(name: str) -> None:
    case = REFERENCE["cases"][name]
    res = _fit(case)
    rtol = RTOL.get(name, 1e-5)
    new = np.asarray(case["newmods"], dtype=float)
    compared = _compare(res.predict(), case["fitted"], rtol, f"{name} fitted")
    compared += _compare(res.predict(new), case["newmods_no_levels"], rtol, f"{name} new")
    if "newmods_levels" in case:
        compared += _compare(res.predict(new, tau2_levels=case["tau2_levels"]),
                             case["newmods_levels"], rtol, f"{name} levels")
        by_name = res.predict(new, tau2_levels=["1", "2", "3", "4"])   # level names
        np.testing.assert_allclose(by_name["pi_lower"], _arr(case["newmods_levels"]["pi_lb"]),
                                   rtol=rtol)
    assert compared >= 6 * (82 + 4)


def test_predict_without_levels_has_no_interval_only_where_tau2_varies() -> None:
    har = _fit(REFERENCE["cases"]["ishak_HAR"])
    cs = _fit(REFERENCE["cases"]["ishak_CS"])
    new = np.eye(4)
    assert har.predict(new)["pi_lower"].isna().all()
    assert cs.predict(new)["pi_lower"].notna().all()
    one = har.predict(new, tau2_levels=[2])                  # one level for every row
    half = (one["pi_upper"] - one["pi_lower"]) / 2
    np.testing.assert_allclose(half, 1.959963984540054 * np.sqrt(one["se"] ** 2 + har.tau2[1]))


@pytest.mark.parametrize(("levels", "message"), [
    ([1, 2], "2 levels for 4"), ([0], "position 0"), (["12 months"], "no level"), ([5], "1..4"),
])
def test_predict_bad_levels(levels: Any, message: str) -> None:
    res = _fit(REFERENCE["cases"]["ishak_HAR"])
    with pytest.raises(InputError, match=message):
        res.predict(np.eye(4), tau2_levels=levels)
