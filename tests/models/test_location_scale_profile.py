"""Likelihood profiles of location-scale models (metafor ``profile.rma.ls``) against metafor
3.8-1 (tests/data/rma_ls/rma_ls_profile_reference.json, written by
rma_ls_profile_reference.R there): the grid from metafor's default range, and on metafor's
own grid the log-likelihood with the scale coefficient held and the location coefficients
with their CIs. metafor stops its refits at a relative change of about 1e-8: agreement to
1e-6."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import metaverdict as mv
from metaverdict.errors import InputError

from conftest import assert_close

DATA = Path(__file__).resolve().parent.parent / "data" / "rma_ls" / \
    "rma_ls_profile_reference.json"


@cache
def ref() -> dict[str, Any]:
    case: dict[str, Any] = json.loads(DATA.read_text())
    assert case["versions"]["metafor"] == "3.8.1"
    return case


def fit(**kw: Any) -> Any:
    return mv.location_scale("yi", "vi", scale="ni100", data=pd.DataFrame(ref()["data"]), **kw)


@pytest.mark.parametrize("key, kw, component, args", [
    ("reml_alpha1", {"mods": "ni100"}, "alpha.intrcpt", {"steps": 6}),
    ("reml_alpha2", {"mods": "ni100"}, "alpha.ni100", {"steps": 5, "xlim": (-2, 0.5)}),
    ("ml_alpha2", {"method": "ML"}, "alpha.ni100", {"steps": 6}),
])
def test_scale_profile_matches_metafor(key: str, kw: dict[str, Any], component: str,
                                       args: dict[str, Any]) -> None:
    want = ref()[key]
    res = fit(**kw)
    prof = mv.likelihood_profile(res, component=component, **args)
    assert_close(prof.table[component].to_numpy(), want["x"], "grid", rtol=1e-6, atol=1e-6)
    assert_close(prof.value_hat, want["vc"], "vc", rtol=1e-6)
    assert_close(prof.ll_max, want["maxll"], "maxll", rtol=1e-10)
    t = mv.likelihood_profile(res, component=component, steps=len(want["x"]),
                              xlim=(want["x"][0], want["x"][-1])).table
    first = "estimate" if len(res.terms) == 1 else res.terms[0]
    lower = "ci_lower" if len(res.terms) == 1 else f"{first}_ci_lower"
    assert_close(t["ll"].to_numpy(), want["ll"], "ll", rtol=1e-6, atol=1e-6)
    assert_close(t[first].to_numpy(), want["beta"], "beta", rtol=1e-6, atol=1e-6)
    assert_close(t[lower].to_numpy(), want["ci.lb"], "ci.lb", rtol=1e-6, atol=1e-6)
    assert prof.likelihood == res.method and component in prof.summary()


def test_scale_profile_peaks_at_the_estimate() -> None:
    """The profile at the estimate is the fit's log-likelihood (the other coefficients at
    their estimates maximise it)."""
    res = fit(mods="ni100")
    a = float(res.scale_coefficients["estimate"].iloc[1])
    t = mv.likelihood_profile(res, component="alpha.ni100", steps=3,
                              xlim=(a - 0.5, a + 0.5)).table
    assert t["ll"].iloc[1] == pytest.approx(res.fit_statistics.ll_reml, abs=1e-8)
    assert t["ll"].iloc[1] > max(t["ll"].iloc[0], t["ll"].iloc[2])


def test_scale_profile_bad_input() -> None:
    res = fit()
    with pytest.raises(InputError, match="name one of"):
        mv.likelihood_profile(res)
    with pytest.raises(InputError, match="'alpha.x' is not an estimated parameter"):
        mv.likelihood_profile(res, component="alpha.x")
    with pytest.warns(UserWarning, match="Hessian"):
        identity = fit(link="identity")
    with pytest.raises(InputError, match="link='log' only"):
        mv.likelihood_profile(identity, component="alpha.ni100")
