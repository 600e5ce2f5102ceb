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


@SETTINGS
@given(data=data_sets(k_min=2), kind=st.sampled_from(["negexp", "power2", "halfnorm2", "beta"]),
       prec=st.sampled_from([None, "sei", "vi", "ninv", "sqrtninv", "se"]),
       ni=st.one_of(st.none(), st.lists(st.floats(min_value=-5, max_value=1e4), min_size=1,
                                        max_size=15)))
def test_selection_models_with_precision(data, kind, prec, ni):
    y, v = data
    res = _run(lambda: mv.meta_analysis(y, v, method="ML"))
    if res is not None:
        _run(lambda: mv.selection_model(res, kind, prec=prec, ni=ni))


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


# the diagnostics and predictions added later: a result or a clear error on any data, and on
# malformed arguments
bad_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
                       st.lists(st.floats(allow_nan=True), max_size=3), st.none())


@settings(max_examples=12, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=data_sets(k_min=1, k_max=6), method=st.sampled_from(["REML", "DL", "EE", "PM"]),
       subsets=st.one_of(st.none(), st.integers(min_value=-2, max_value=40)))
def test_gosh(data, method, subsets):
    y, v = data
    res = _run(lambda: mv.meta_analysis(y, v, method=method))
    if res is not None:
        g = _run(lambda: mv.gosh(res, subsets=subsets, seed=1))
        if g is not None:
            assert len(g.table) == g.n_subsets == len(g.included)


@settings(max_examples=12, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=data_sets(k_min=1, k_max=8), method=st.sampled_from(["REML", "ML", "DL", "EE"]),
       steps=st.one_of(st.integers(min_value=-1, max_value=6), bad_values),
       xlim=st.one_of(st.none(), bad_values, st.tuples(st.floats(allow_nan=True),
                                                        st.floats(allow_nan=True))))
def test_likelihood_profile(data, method, steps, xlim):
    y, v = data
    res = _run(lambda: mv.meta_analysis(y, v, method=method))
    if res is not None:
        prof = _run(lambda: mv.likelihood_profile(res, steps=steps, xlim=xlim))
        if prof is not None:
            assert len(prof.table) == steps


@settings(max_examples=12, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=data_sets(k_min=3, k_max=8), newmods=st.one_of(st.none(), bad_values),
       newscale=st.one_of(st.none(), bad_values))
def test_location_scale_predict_and_profile(data, newmods, newscale):
    res = _run(lambda: mv.location_scale("y", "v", data=_frame(*data), mods="x", scale="x"))
    if res is not None:
        _run(lambda: res.predict(newmods=newmods, newscale=newscale))
        _run(lambda: res.profile_ci(level=0.9))


@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=data_sets(k_min=4, k_max=10),
       levels=st.one_of(st.none(), bad_values, st.lists(st.integers(-1, 4), max_size=3)))
def test_multivariate_predict_levels(data, levels):
    frame = _frame(*data).assign(s=lambda d: d["g"] // 2, t=lambda d: d.index % 2)
    res = _run(lambda: mv.multivariate("y", "v", random="~ t | s", struct="DIAG", data=frame))
    if res is not None:
        _run(lambda: res.predict(np.eye(1), tau2_levels=levels))


@settings(max_examples=12, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=data_sets(k_min=4, k_max=10),
       sigma2=st.one_of(st.none(), bad_values, st.lists(st.one_of(st.none(), st.floats()),
                                                       max_size=3)),
       dfs=st.sampled_from(["residual", "contain", "between", 3]))
def test_multivariate_fixed_components_and_dfs(data, sigma2, dfs):
    """Fixed components and containment df on malformed values; then the profile."""
    frame = _frame(*data).assign(s=lambda d: d["g"] // 2)
    res = _run(lambda: mv.multivariate("y", "v", random="~ 1 | s/g", data=frame,
                                       sigma2=sigma2, dfs=dfs))
    if res is not None:
        assert np.all(np.isfinite(res.ddf) | (res.test == "z"))
        _run(lambda: mv.likelihood_profile(res, component="sigma2.1", steps=2))


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(k=st.integers(1, 6), rvars=st.one_of(bad_values, st.lists(
    st.lists(st.one_of(st.none(), st.floats(-2, 2)), min_size=1, max_size=4),
    min_size=1, max_size=6)))
def test_vcalc_rvars(k, rvars):
    cluster = [i // 2 for i in range(k)]
    _run(lambda: mv.vcalc([0.1] * k, cluster,
                                       rvars=np.array(rvars, dtype=object)
                                       if isinstance(rvars, list) else rvars))


@settings(max_examples=12, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=data_sets(k_min=3, k_max=8), steps=st.one_of(st.none(), bad_values, st.floats()),
       alternative=st.sampled_from(["greater", "less", "two.sided"]),
       subset=st.one_of(st.none(), bad_values, st.lists(st.booleans(), min_size=1,
                                                        max_size=15)))
def test_truncated_selection_and_subset(data, steps, alternative, subset):
    y, v = data
    res = _run(lambda: mv.meta_analysis(y, v, method="ML"))
    if res is not None:
        _run(lambda: mv.selection_model(res, "trunc", steps=steps, alternative=alternative,
                                        subset=subset))
        _run(lambda: mv.selection_model(res, "stepfun", steps=[0.025, 0.5],
                                        decreasing=True, subset=subset))
