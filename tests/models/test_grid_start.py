"""The single-fit ML/REML solver that starts from the likelihood grid (``start="grid"``, the
default of :func:`metaverdict.meta_analysis`) finds the same maxima as metafor's route
(Fisher scoring from the Hedges estimate, then the grid check): seeded random analyses,
intercept-only and meta-regressions, including data with extreme variances and likelihoods
with their maximum at 0."""
from __future__ import annotations

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.models import SolverControl
from metaverdict.models.random_effects import Start, Step

METAFOR_ROUTE = SolverControl(scale_free=True, step=Step.FISHER, start=Start.HEDGES)


def _draws(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        k = int(rng.integers(2, 40))
        v = rng.uniform(0.01, 1, k) ** 2 * rng.choice([1e-6, 1, 100])
        if rng.random() < 0.1:                     # one study far more precise than the rest
            v[0] *= 1e-8
        tau2 = rng.choice([0.0, 0.01, 0.1, 1.0]) * np.median(v) * rng.choice([0.1, 1, 10])
        y = rng.normal(0, np.sqrt(v + tau2))
        yield y, v, rng


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_grid_start_finds_the_metafor_route_maximum(method: str) -> None:
    fast_iters, zeros = [], 0
    for y, v, _ in _draws(600, 11):
        fast = mv.meta_analysis(y, v, method=method)
        ref = mv.meta_analysis(y, v, method=method, control=METAFOR_ROUTE)
        assert fast.converged and ref.converged
        assert fast.tau2 == pytest.approx(ref.tau2, rel=1e-9, abs=1e-15 * np.min(v))
        assert fast.tau2_se == pytest.approx(ref.tau2_se, rel=1e-8, nan_ok=True)
        assert fast.estimate == pytest.approx(ref.estimate, rel=1e-10, abs=1e-12)
        assert fast.q == pytest.approx(ref.q, rel=1e-10, abs=1e-12)
        ll = "ll_reml" if method == "REML" else "ll_ml"
        assert getattr(fast.fit_statistics, ll) >= getattr(ref.fit_statistics, ll) - 1e-9
        fast_iters.append(fast.iterations)
        zeros += fast.tau2 == 0
    assert max(fast_iters) <= 6 and np.median(fast_iters) <= 3
    assert zeros > 20            # the boundary maximum was exercised


def test_grid_start_in_meta_regressions() -> None:
    for y, v, rng in _draws(200, 12):
        if len(y) < 4:
            continue
        x = rng.normal(size=len(y))
        fast = mv.meta_analysis(y, v, mods=x[:, None])
        ref = mv.meta_analysis(y, v, mods=x[:, None], control=METAFOR_ROUTE)
        assert fast.tau2 == pytest.approx(ref.tau2, rel=1e-9, abs=1e-15 * np.min(v))
        np.testing.assert_allclose(fast.coefficients["estimate"], ref.coefficients["estimate"],
                                   rtol=1e-9, atol=1e-12)


#: Analyses whose (restricted) likelihood has two maxima, found by a seeded random search
#: (each case asserts that the fine grid shows both).
BIMODAL = [
    ("ML", [-0.023, -0.865, 3.323, 0.023, -1.763, -1.406],
     [0.0153, 10.1478, 0.8143, 0.003, 0.1464, 0.2485]),
    ("ML", [-0.032, 1.466, -1.217, 0.817], [0.0042, 0.2534, 0.48, 7.4221]),
    ("ML", [-0.014, 5.634, -0.007], [3.9313, 0.0024, 21.488]),
    ("ML", [-0.015, 0.106, -6.156, 0.616], [0.5171, 0.0069, 1.2039, 32.3246]),
    ("ML", [0.235, -1.781, 0.719, 9.504, -0.211], [42.9631, 35.0342, 0.0013, 2.0739, 0.043]),
    ("REML", [2.414, 0.123, -0.09, -0.017, -0.157], [0.2722, 0.6924, 0.0023, 0.0273, 0.0064]),
    ("ML", [2.414, 0.123, -0.09, -0.017, -0.157], [0.2722, 0.6924, 0.0023, 0.0273, 0.0064]),
]


@pytest.mark.parametrize("method, y, v", BIMODAL)
def test_grid_start_takes_the_higher_of_two_maxima(method: str, y: list[float],
                                                   v: list[float]) -> None:
    """Where the likelihood has two maxima, both routes take the global one, which the
    likelihood on a fine grid of tau² confirms."""
    ya, va = np.array(y), np.array(v)
    fast = mv.meta_analysis(ya, va, method=method)
    ref = mv.meta_analysis(ya, va, method=method, control=METAFOR_ROUTE)
    assert fast.tau2 == pytest.approx(ref.tau2, rel=1e-9, abs=1e-14)
    fine = np.concatenate([[0.0], np.geomspace(1e-5, 1e3, 3000)])
    key = "ll_reml" if method == "REML" else "ll_ml"
    ll = np.array([getattr(mv.meta_analysis(ya, va, method=method, tau2=t).fit_statistics, key)
                   for t in fine])
    d = np.diff(ll)
    assert int(np.sum((d[:-1] > 0) & (d[1:] <= 0)) + (d[0] <= 0)) == 2   # two maxima
    assert getattr(fast.fit_statistics, key) >= ll.max() - 1e-9
