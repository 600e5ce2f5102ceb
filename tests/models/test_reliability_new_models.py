"""Malformed and extreme input to the newer models: a result or an InputError/ConvergenceError
(a clear message), never another exception."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metaverdict as mv
from metaverdict.errors import ConvergenceError, InputError

SETTINGS = settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
variances = st.floats(min_value=-8.0, max_value=8.0).map(lambda e: float(10.0 ** e))
effects = st.one_of(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
                    st.sampled_from([0.0, 0.5, -1.0]))
CLEAR = (InputError, ConvergenceError)


@st.composite
def data_sets(draw, k_min=1, k_max=15):
    k = draw(st.integers(min_value=k_min, max_value=k_max))
    return (draw(st.lists(effects, min_size=k, max_size=k)),
            draw(st.lists(variances, min_size=k, max_size=k)))


def _run(f):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return f()
        except CLEAR:
            return None


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=data_sets(), method=st.sampled_from(["DLIT", "SJIT", "GENQM"]),
       test=st.sampled_from(["z", "knha", "adhoc"]))
def test_new_estimators(data, method, test):
    y, v = data
    _run(lambda: mv.meta_analysis(y, v, method=method, test=test))


@SETTINGS
@given(data=data_sets(k_min=2), kind=st.sampled_from(["stepfun", "beta", "halfnorm", "power"]))
def test_selection_models(data, kind):
    y, v = data
    res = _run(lambda: mv.meta_analysis(y, v, method="ML"))
    if res is not None:
        steps = [0.025] if kind == "stepfun" else None
        _run(lambda: mv.selection_model(res, kind, steps=steps))
        _run(lambda: mv.selection_adjusted(res))


def _frame(y, v):
    return pd.DataFrame({"y": y, "v": v, "x": np.arange(len(y), dtype=float),
                         "g": [i % 3 for i in range(len(y))]})


@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=data_sets(k_min=2, k_max=10))
def test_location_scale(data):
    _run(lambda: mv.location_scale("y", "v", data=_frame(*data), scale="x"))


@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=data_sets(k_min=2, k_max=10))
def test_multivariate(data):
    # found by this test: a singular marginal covariance was a LinAlgError, now a
    # ConvergenceError that says what to do
    _run(lambda: mv.multivariate("y", "v", random=["~ 1 | g"], data=_frame(*data)))


@SETTINGS
@given(data=data_sets(k_min=1, k_max=6))
def test_bayesian_frame(data):
    y, v = data
    df = pd.DataFrame({"analysis_id": 1, "yi": y, "vi": v})
    _run(lambda: mv.batch.bayesian_meta_analyses(df, tau_prior="half-normal", tau_scale=0.5))


@settings(max_examples=12, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(tables=st.lists(st.tuples(*[st.integers(min_value=0, max_value=40)] * 4), min_size=2,
                       max_size=6),
       model=st.sampled_from(["UM.FS", "UM.RS", "CM.AL"]))
def test_glmm_on_random_tables(tables, model):
    ai, bi, ci, di = (list(c) for c in zip(*tables))
    _run(lambda: mv.meta_analysis_glmm("OR", ai=ai, bi=bi, ci=ci, di=di, model=model))
