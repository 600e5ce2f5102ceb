"""The tau² likelihood profile (metaverdict.diagnostics.likelihood_profile) against R metafor
3.8-1 ``profile.rma.uni``.

Reference: tests/data/profile/profile_reference.json, written by profile_reference.R in the same
folder (dat.bcg, log risk ratios: REML, ML, DL with Hartung-Knapp, a REML meta-regression on
ablat, and a given range with 7 steps). metafor's default range comes from its Q-profile CI,
whose bounds its root search finds to about 1e-4; metaverdict's bounds are exact, so the
default ranges are compared at 2e-4, and the profile itself on metafor's own grid (passed as
``xlim``), where every value agrees to 1e-8.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import metaverdict as mv
from metaverdict.errors import InputError

REFERENCE = json.loads((Path(__file__).parent.parent / "data" / "profile"
                        / "profile_reference.json").read_text())


def _arr(values: Any) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in np.atleast_1d(values)], dtype=float)


def _fit(args: dict[str, Any]) -> Any:
    data = pd.DataFrame({k: _arr(v) for k, v in REFERENCE["data"].items()})
    return mv.meta_analysis("yi", "vi", data=data, method=args["method"], test=args["test"],
                            mods=args["mods"] or None)           # R writes NULL as {}


@pytest.mark.parametrize("name", list(REFERENCE["cases"]))
def test_profile_matches_metafor(name: str) -> None:
    case = REFERENCE["cases"][name]
    res = _fit(case["args"])
    steps = case["args"].get("steps", 20)
    default = mv.likelihood_profile(res, steps=steps, xlim=case["args"].get("xlim"))
    np.testing.assert_allclose(default.xlim, _arr(case["xlim"]), rtol=0, atol=2e-4)
    prof = mv.likelihood_profile(res, steps=steps, xlim=_arr(case["xlim"]))
    table = prof.table
    assert len(table) == steps == len(case["tau2"])
    np.testing.assert_allclose(table["tau2"], _arr(case["tau2"]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(table["ll"], _arr(case["ll"]), rtol=1e-8, atol=1e-10)
    terms = list(case["beta"])
    compared = 2 * steps
    for j, term in enumerate(terms):
        col = "estimate" if len(terms) == 1 else term
        lo, hi = ("ci_lower", "ci_upper") if len(terms) == 1 else (f"{term}_ci_lower",
                                                                   f"{term}_ci_upper")
        for ours, key in ((col, "beta"), (lo, "ci_lb"), (hi, "ci_ub")):
            np.testing.assert_allclose(table[ours], _arr(case[key][term]), rtol=1e-8,
                                       atol=1e-10, err_msg=f"{name} {ours}")
            compared += steps
    assert compared == steps * (2 + 3 * len(terms))
    assert prof.tau2_hat == pytest.approx(case["tau2_hat"], rel=1e-6)
    assert prof.ll_max == pytest.approx(case["ll_max"], rel=1e-8)
    assert prof.likelihood == ("REML" if case["args"]["method"] == "REML" else "ML")


def test_profile_peaks_at_the_estimate() -> None:
    res = _fit({"method": "REML", "test": "z", "mods": None})
    grid = np.array([0.5, 1.0, 1.5]) * res.tau2
    prof = mv.likelihood_profile(res, steps=3, xlim=(grid[0], grid[2]))
    ll = prof.table["ll"].to_numpy()
    assert ll[1] == pytest.approx(prof.ll_max, rel=1e-10) and ll[1] > ll[0] and ll[1] > ll[2]


# a SIMULATED analysis (number 3901 of bench/run.py generate(n, 10), as in
# tests/batch/test_grid_check.py) whose REML search without the likelihood grid stops at the
# local maximum tau² = 0, below an interior maximum
SIMULATED_3901 = ([0.695446, 1.3065, 0.619772, 1.35711, 0.0603381, -0.185423, 0.930201,
                   0.0233223, 0.453238, 1.25407],
                  [0.103311, 0.182773, 0.0122631, 0.131777, 0.183626, 0.249399, 0.17819,
                   0.210714, 0.0414523, 0.269642])


def test_profile_warns_when_the_fit_is_not_the_maximum() -> None:
    from metaverdict.models.random_effects import SolverControl
    y, v = SIMULATED_3901
    local = mv.meta_analysis(y, v, method="REML",
                             control=SolverControl(step="newton", global_search=False))
    assert local.tau2 == 0.0
    with pytest.warns(UserWarning, match="not the maximum"):
        mv.likelihood_profile(local, xlim=(0, 0.2))
    default = mv.meta_analysis(y, v, method="REML")              # the grid finds the maximum
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mv.likelihood_profile(default, xlim=(0, 0.2))
        mv.likelihood_profile(_fit({"method": "DL", "test": "z", "mods": None}))  # no claim


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"steps": 1}, "steps"), ({"steps": 2.5}, "steps"), ({"xlim": (0.1,)}, "xlim"),
    ({"xlim": (-1, 1)}, "xlim"), ({"xlim": (0.2, 0.2)}, "xlim"), ({"xlim": "wide"}, "xlim"),
])
def test_profile_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    res = _fit({"method": "REML", "test": "z", "mods": None})
    with pytest.raises(InputError, match=message):
        mv.likelihood_profile(res, **kwargs)


def test_profile_needs_a_random_effects_fit() -> None:
    with pytest.raises(InputError, match="random-effects"):
        mv.likelihood_profile(_fit({"method": "EE", "test": "z", "mods": None}))
    with pytest.raises(InputError, match="likelihood_profile"):
        mv.likelihood_profile("not a fit")
