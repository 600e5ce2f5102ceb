"""Behaviour of metaverdict.models.glmm: input errors, the result object, and properties that
must hold whatever the reference (group swap, units of moderators, dropped studies)."""
from __future__ import annotations

import json
import math
from dataclasses import FrozenInstanceError
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaverdict.errors import InputError
from metaverdict.models.glmm import GLMMResult, meta_analysis_glmm

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "glmm" / "glmm_reference.json"


@cache
def bcg() -> pd.DataFrame:
    return pd.DataFrame(json.loads(REFERENCE.read_text())["datasets"]["dat.bcg"])


def _fit(model: str, **kw: object) -> GLMMResult:
    return meta_analysis_glmm("OR", data=bcg(), ai="tpos", bi="tneg", ci="cpos", di="cneg",
                              model=model, **kw)  # type: ignore[arg-type]


@cache
def niel() -> pd.DataFrame:
    return pd.DataFrame(json.loads(REFERENCE.read_text())["datasets"]["dat.nielweise2007"])


@pytest.mark.parametrize(("model", "sparse"), [("UM.FS", False), ("CM.AL", False),
                                               ("CM.EL", True), ("UM.FS", True)])
def test_swapping_groups_negates_the_log_odds_ratio(model: str, sparse: bool) -> None:
    df = niel().assign(bi=lambda d: d["n1i"] - d["ai"], di=lambda d: d["n2i"] - d["ci"]) \
        if sparse else bcg().rename(columns={"tpos": "ai", "tneg": "bi", "cpos": "ci",
                                             "cneg": "di"})
    res = meta_analysis_glmm("OR", data=df, ai="ai", bi="bi", ci="ci", di="di", model=model)
    swapped = meta_analysis_glmm("OR", data=df, ai="ci", bi="di", ci="ai", di="bi",
                                 model=model)
    assert swapped.estimate == pytest.approx(-res.estimate, rel=1e-6)
    assert swapped.se == pytest.approx(res.se, rel=1e-5)
    assert swapped.tau2 == pytest.approx(res.tau2, rel=1e-5)


def test_moderator_units_do_not_matter() -> None:
    df = bcg().assign(ablat_rad=lambda d: d["ablat"] * math.pi / 180)
    deg = meta_analysis_glmm("OR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg",
                             model="CM.AL", mods="ablat")
    rad = meta_analysis_glmm("OR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg",
                             model="CM.AL", mods="ablat_rad")
    assert rad.beta[1] == pytest.approx(deg.beta[1] * 180 / math.pi, rel=1e-5)
    assert rad.tau2 == pytest.approx(deg.tau2, rel=1e-5)
    assert rad.qm == pytest.approx(deg.qm, rel=1e-5)
    assert deg.terms == ("intrcpt", "ablat")


def test_double_zero_studies_are_left_out() -> None:
    df = pd.concat([bcg(), pd.DataFrame({"tpos": [0], "tneg": [50], "cpos": [0], "cneg": [60]})],
                   ignore_index=True)
    res = meta_analysis_glmm("OR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg",
                             model="CM.AL")
    assert res.k == len(bcg())
    assert res.estimate == pytest.approx(_fit("CM.AL").estimate, rel=1e-8)


def test_common_effect_has_no_heterogeneity() -> None:
    res = _fit("UM.FS", method="EE")
    assert res.tau2 == 0 and res.i2 == 0 and res.h2 == 1
    assert res.method == "EE"


def test_result_is_frozen_and_serialisable() -> None:
    res = _fit("CM.AL", mods="ablat")
    with pytest.raises(FrozenInstanceError):
        res.tau2 = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        res.vcov[0, 0] = 1.0
    out = res.to_dict()
    json.dumps(out)
    assert out["coefficients"]["estimate"] == pytest.approx(list(res.beta))
    assert out["fit_statistics"]["ll_ml"] == pytest.approx(res.fit_statistics.ll_ml)
    text = res.summary()
    assert "conditional model, approximate likelihood" in text
    assert "ablat" in text and "Likelihood-ratio" in text
    ci = res.confidence_interval(0.9)
    assert res.ci_lower < ci.ci_lower < res.estimate < ci.ci_upper < res.ci_upper
    assert "GLMMResult(" in repr(res)


def test_t_test_uses_k_minus_p_degrees_of_freedom() -> None:
    z = _fit("CM.AL")
    t = _fit("CM.AL", test="t")
    assert t.df == z.k - 1
    assert t.estimate == z.estimate and t.pvalue > z.pvalue
    assert (t.ci_upper - t.ci_lower) > (z.ci_upper - z.ci_lower)


def test_random_study_effects_report_sigma2() -> None:
    res = _fit("UM.RS")
    assert res.sigma2 > 0 and math.isnan(res.rho) and res.nagq == 1
    assert math.isnan(_fit("UM.FS").sigma2)


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(measure="RR"), "measure"),
    (dict(measure="OR", model="XX"), "model"),
    (dict(measure="OR", method="REML"), "method"),
    (dict(measure="OR", nagq=0), "nagq"),
    (dict(measure="OR", coding=2), "coding"),
    (dict(measure="OR", level=95), "level"),
])
def test_bad_options(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = dict(ai="tpos", bi="tneg", ci="cpos", di="cneg")
    with pytest.raises(InputError, match=match):
        meta_analysis_glmm(data=bcg(), **args, **kwargs)  # type: ignore[arg-type]


def test_bad_counts_name_the_study() -> None:
    df = bcg().copy()
    df.loc[2, "tpos"] = -1
    with pytest.raises(InputError, match="row 3.*'ai'"):
        meta_analysis_glmm("OR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    with pytest.raises(InputError, match="xi"):
        meta_analysis_glmm("PLO", xi=[3, 12], ni=[10, 11])
    with pytest.raises(InputError, match="ni"):
        meta_analysis_glmm("PLO", xi=[3, 4])
    with pytest.raises(InputError, match="ti"):
        meta_analysis_glmm("IRLN", xi=[3, 4, 5], ti=[10, 0, 3])


def test_too_few_studies() -> None:
    with pytest.raises(InputError, match="too few"):
        meta_analysis_glmm("OR", ai=[3], bi=[10], ci=[5], di=[9])


def test_arrays_without_data_frame() -> None:
    df = bcg()
    res = meta_analysis_glmm("OR", ai=df["tpos"].to_numpy(), bi=df["tneg"].to_numpy(),
                             ci=df["cpos"].to_numpy(), di=df["cneg"].to_numpy(), model="CM.AL",
                             labels=list(df["trial"]))
    assert res.labels == list(df["trial"])
    assert res.estimate == pytest.approx(_fit("CM.AL").estimate, rel=1e-10)
    assert np.isfinite(res.q_wald) and res.q_df == res.k - 1


@pytest.mark.parametrize(("measure", "kwargs", "field"), [
    ("OR", dict(ai=[0, 0, 0], n1i=[20, 30, 25], ci=[2, 3, 1], n2i=[20, 30, 25]), "ai"),
    ("OR", dict(ai=[5, 3, 2], n1i=[20, 30, 25], ci=[20, 30, 25], n2i=[20, 30, 25]), "di"),
    ("IRR", dict(x1i=[0, 0, 0], t1i=[9, 8, 7], x2i=[2, 4, 1], t2i=[9, 8, 7]), "x1i"),
    ("PLO", dict(xi=[12, 10, 4], ni=[12, 10, 4]), "xi"),
    ("IRLN", dict(xi=[0, 0, 0], ti=[5, 6, 7]), "xi"),
])
def test_no_finite_estimate_is_reported(measure: str, kwargs: dict[str, object],
                                        field: str) -> None:
    """A group without events (or without non-events) in every study: the MLE is infinite."""
    with pytest.raises(InputError, match=f"'{field}'.*no maximum-likelihood estimate"):
        meta_analysis_glmm(measure, **kwargs)  # type: ignore[arg-type]
