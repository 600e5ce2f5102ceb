"""Property tests after the reliability campaign's harness (shared/reviews/reliability-2026-12.md):
random finite effects, sampling variances from 1e-12 to 1e12 and k = 1..30 give, for every
estimator and test, a result whose fields are finite (with metafor's documented exceptions)
or an InputError, never another exception, a NaN or a NumPy warning; DL's tau² agrees with an
exact rational computation. Derandomized under the 'ci' profile (tests/conftest.py); the
example counts are bounded so that the file runs in seconds."""
from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metaverdict as mv
from metaverdict.errors import InputError

METHODS = ["EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM", "GENQ"]
FIELDS = ("estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "tau2", "tau2_se",
          "i2", "h2", "q", "q_pvalue", "pi_lower", "pi_upper")
SETTINGS = settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])

variances = st.floats(min_value=-12.0, max_value=12.0).map(lambda e: float(10.0 ** e))
effects = st.one_of(st.floats(min_value=-1e8, max_value=1e8, allow_nan=False),
                    st.sampled_from([0.0, 0.5, -1.0]))        # ties and identical effects


@st.composite
def data_sets(draw: st.DrawFn, k_min: int = 1, k_max: int = 30) -> tuple[list[float], list[float]]:
    k = draw(st.integers(min_value=k_min, max_value=k_max))
    y = draw(st.lists(effects, min_size=k, max_size=k))
    v = draw(st.lists(variances, min_size=k, max_size=k))
    return y, v


def _check_fields(r: mv.MetaAnalysisResult) -> None:
    for field in FIELDS:
        value = getattr(r, field)
        if field == "tau2_se" and (r.is_common_effect or r.k == 1):
            assert np.isnan(value)                     # no tau² estimated (metafor: NA)
            continue
        if field == "statistic" and r.se == 0:
            # Hartung-Knapp with a zero residual Q: metafor's infinite statistic (0 for 0)
            assert r.test == "knha" and (np.isinf(value) or (value == 0 and r.estimate == 0))
            continue
        assert np.isfinite(value), f"{field} = {value}"
    assert r.tau2 >= 0 and r.se >= 0
    assert r.ci_lower <= r.estimate <= r.ci_upper
    assert 0 <= r.pvalue <= 1 and 0 <= r.q_pvalue <= 1
    assert r.converged


@SETTINGS
@given(data=data_sets(), method=st.sampled_from(METHODS), test=st.sampled_from(["z", "knha"]))
def test_meta_analysis_is_finite_or_input_error(data: tuple[list[float], list[float]],
                                                method: str, test: str) -> None:
    y, v = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="Setting argument test='z' since k = 1",
                                category=UserWarning)
        try:
            r = mv.meta_analysis(y, v, method=method, test=test)
        except InputError:
            return
    _check_fields(r)


def _dl_tau2_exact(y: list[float], v: list[float]) -> float:
    """DerSimonian-Laird tau² in exact rational arithmetic (the floats as given)."""
    w = [1 / Fraction(x) for x in v]
    yy = [Fraction(x) for x in y]
    sw = sum(w)
    mu = sum(wi * yi for wi, yi in zip(w, yy)) / sw
    q = sum(wi * (yi - mu) ** 2 for wi, yi in zip(w, yy))
    trp = sw - sum(wi * wi for wi in w) / sw
    return float(max(Fraction(0), (q - (len(y) - 1)) / trp))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=data_sets(k_min=2, k_max=12))
def test_dl_tau2_agrees_with_exact_arithmetic(data: tuple[list[float], list[float]]) -> None:
    y, v = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = mv.meta_analysis(y, v, method="DL")
    want = _dl_tau2_exact(y, v)
    # rounding of y'Py about the weighted mean: relative to the largest squared effect spread
    scale = max(abs(a - b) for a in y for b in y) ** 2 + min(v)
    assert r.tau2 == pytest.approx(want, rel=1e-7, abs=1e-9 * scale)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(data=data_sets(k_min=2, k_max=6), method=st.sampled_from(["DL", "REML", "PM", "EE"]),
       test=st.sampled_from(["z", "knha"]))
def test_diagnostics_never_raise_or_warn(data: tuple[list[float], list[float]], method: str,
                                         test: str) -> None:
    y, v = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = mv.meta_analysis(y, v, method=method, test=test)
        for fn in (mv.leave_one_out, mv.influence, mv.rstandard, mv.baujat, mv.cumulative):
            try:
                fn(r)
            except InputError:
                pass
        loo = mv.leave_one_out(r)
        assert np.isfinite(loo[["estimate", "se", "tau2"]].to_numpy()).all()


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(data=data_sets(k_min=2, k_max=10), method=st.sampled_from(["DL", "REML", "PM", "ML"]),
       level=st.one_of(st.floats(min_value=0.01, max_value=0.99),
                       st.sampled_from([95.0, -0.5, 0.0, 1.0, float("nan")])))
def test_heterogeneity_ci_is_ordered_or_input_error(data: tuple[list[float], list[float]],
                                                    method: str, level: float) -> None:
    y, v = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = mv.meta_analysis(y, v, method=method)
        try:
            lo, hi = r.tau2_ci(level=level)
        except InputError:
            assert not 0 < level < 1
            return
    assert 0 < level < 1
    assert 0 <= lo <= hi and np.isfinite(hi)
