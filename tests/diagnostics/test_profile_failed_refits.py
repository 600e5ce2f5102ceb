"""Likelihood profiles where one refit fails: that point's row is NaN (the log-likelihood and
every coefficient column), every other row equals the profile without the failure, and the
profile's summary and plot still work. For each kind of fit (univariate, multivariate,
multilevel, selection, location-scale) the failure is injected at the third of five points
by wrapping the function that does the refit (it raises, or returns a non-finite
log-likelihood, as the real one does when it cannot fit).

Data: SIMULATED (seeded below), small enough for fast refits.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

import matplotlib
import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest

import metaverdict as mv
from metaverdict.diagnostics import profile as uni_profile
from metaverdict.errors import ConvergenceError, InputError
from metaverdict.report.plots.profile import profile_plot

matplotlib.use("Agg")
# the modules (``metaverdict.models`` also exports functions of these names)
location_scale, multilevel, mv_profile, selection = (
    importlib.import_module(f"metaverdict.models.{m}")
    for m in ("location_scale", "multilevel", "mv_profile", "selection"))

STEPS = 5
FAIL_AT = 2                      # the third value of the profile's grid


def _simulated(seed: int = 8) -> pd.DataFrame:
    """SIMULATED: 6 districts x 3 schools, a moderator and a scale variable."""
    rng = np.random.default_rng(seed)
    district = np.repeat(np.arange(6), 3)
    school = np.arange(18)
    vi = rng.uniform(0.01, 0.08, 18)
    x = rng.uniform(0, 1, 18)
    yi = (0.3 + rng.normal(0, 0.25, 6)[district] + rng.normal(0, 0.15, 18)
          + rng.normal(0, np.sqrt(vi * (1 + 2 * x))))
    return pd.DataFrame({"yi": yi, "vi": vi, "x": x, "district": district, "school": school})


def _failing(real: Callable[..., Any], value_of: Callable[..., float], target: float,
             fail: Callable[[Any], Any]) -> Callable[..., Any]:
    """``real``, except where ``value_of(*args, **kwargs)`` is ``target``: there ``fail``."""
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        return fail(out) if np.isclose(value_of(*args, **kwargs), target, rtol=0,
                                       atol=1e-15) else out
    return wrapped


def _raise(exc: Exception) -> Callable[[Any], Any]:
    def fail(_: Any) -> Any:
        raise exc
    return fail


@cache
def _fits() -> dict[str, tuple[Any, str | None, Any, str, Callable[..., float], Callable]]:
    """Per kind: the fit, the profiled component, the module and function to wrap, where the
    refit's profiled value is among its arguments, and how the refit fails."""
    df = _simulated()
    uni = mv.meta_analysis("yi", "vi", data=df, method="REML")
    mvr = mv.multivariate("yi", "vi", random="~ 1 | district/school", data=df)
    mlr = mv.multilevel("yi", "vi", groups=["district", "school"], data=df)
    sel = mv.selection_model(uni, type="beta")
    lsr = mv.location_scale("yi", "vi", scale="x", data=df)
    return {
        "univariate": (uni, None, uni_profile, "refit", lambda *a, **k: k["tau2"],
                       _raise(InputError("the refit failed"))),
        "multivariate": (mvr, "sigma2.1", mv_profile, "fit_multivariate",
                         lambda model, *a, **k: float(model.fixed[0]),
                         _raise(ConvergenceError("the refit did not converge"))),
        "multilevel": (mlr, "sigma2.1", multilevel, "_fit_components",
                       lambda lik, start, fixed=None: float(start[0]),
                       lambda out: (out[0], replace(out[1], ll=np.nan), out[2], out[3])),
        "selection": (sel, "tau2", selection, "_held_fit", lambda pr, j, x: x,
                      lambda out: None),
        "location-scale": (lsr, "alpha.x", location_scale, "_HeldScale.__call__",
                           lambda self, x: x, lambda out: (np.nan, out[1])),
    }


KINDS = ["univariate", "multivariate", "multilevel", "selection", "location-scale"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_refit_leaves_a_nan_row(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert list(_fits()) == KINDS
    res, component, module, name, value_of, fail = _fits()[kind]
    kw: dict[str, Any] = {} if component is None else {"component": component}
    full = mv.likelihood_profile(res, steps=STEPS, **kw)
    grid = full.table.iloc[:, 0].to_numpy()
    assert full.table["ll"].notna().all()
    owner, attr = (module, name) if "." not in name else (getattr(module, name.split(".")[0]),
                                                          name.split(".")[1])
    monkeypatch.setattr(owner, attr, _failing(getattr(owner, attr), value_of, grid[FAIL_AT],
                                              fail))
    broken = mv.likelihood_profile(res, steps=STEPS, xlim=full.xlim, **kw)
    table, want = broken.table, full.table
    assert table.shape == want.shape
    np.testing.assert_array_equal(table.iloc[:, 0], grid)
    assert table.iloc[FAIL_AT, 1:].isna().all()                       # ll and coefficients
    others = np.arange(STEPS) != FAIL_AT
    pd.testing.assert_frame_equal(table[others], want[others], rtol=1e-8)
    assert "highest profile value" in broken.summary()
    fig = profile_plot(broken, cline=True)                  # the line has a gap there
    (line,) = [ln for ln in fig.axes[0].lines if ln.get_gid() == "profile-line"]
    assert np.isnan(np.asarray(line.get_ydata(), dtype=float)[FAIL_AT])
    matplotlib.pyplot.close(fig)
