"""Ishak et al. (2007): meta-analysis of longitudinal studies (deep-brain stimulation, UPDRS).

Ishak KJ, Platt RW, Joseph L, Hanley JA, Caro JJ (2007). Meta-analysis of longitudinal studies.
*Clinical Trials* 4:525-539.

Published values as printed in Ishak et al. (2007), Table 1, all four time points of the
columns "Time-specific (Independence)", "Random study effects", "Correlated random time
effects" and "Multivariate model"; located via metafor's analysis-example test
(tests/testthat/test_analysis_example_ishak2007.r in wviechtb/metafor, which attributes these
columns to Table 1 and notes the four numbers where the table differs from its fit: "-27.5 in
Table vs -27.3", "20.4 in Table vs 20.3", "22.6 in Table vs 22.7", "31.1 in Table vs 31.2").
The table's numbers are used; the four that metaverdict does not reproduce are strict xfails
(metaverdict gives metafor's numbers there).

Data: dat.ishak2007 (46 studies, mean change in the UPDRS motor score at 3, 6 and 12 months
and at the long-term follow-up, with sampling variances; not every study measured every time
point), exported from the R package metadat into ``tests/data/metadat/dat.ishak2007.json``, in
long format (82 estimates). Every model has one mean per time point (REML):

- *Independence*: a separate, independent between-study variance per time point
  (``struct="DIAG"``), diagonal sampling covariances. Its REML likelihood factorises by time
  point, so the same numbers are also fitted as a location-scale model (time point as location
  and as scale moderator: one log tau² per time point) and as four univariate REML fits. This
  is the published-analysis test of ``location_scale``.
- *Random study effects*: one random effect per study shared by its time points
  (``~ 1 | study``), diagonal sampling covariances.
- *Correlated random time effects*: heteroscedastic AR(1) random time effects within studies
  (``struct="HAR"`` over ``time``), diagonal sampling covariances.
- *Multivariate model*: the same random effects, and sampling covariances with an AR(1)
  correlation of 0.97 between time points of a study (the within-study correlation estimated
  by Ishak et al.).
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _data import load_data, printed, published

import metaverdict as mv
from metaverdict.models.location_scale import location_scale
from metaverdict.models.multivariate import multivariate

DATA = Path(__file__).resolve().parent.parent / "data" / "metadat" / "dat.ishak2007.json"
RHO_WITHIN = 0.97                      # Ishak et al.'s estimate of the within-study correlation
TIMES = (1, 2, 3, 4)
MEANS = "C(time) - 1"                  # one mean per time point


@cache
def wide() -> pd.DataFrame:
    return pd.DataFrame(json.loads(DATA.read_text())["data"]).astype(
        {f"{c}{t}i": float for c in "yv" for t in TIMES})


@cache
def long() -> pd.DataFrame:
    """One row per measured time point, by study in data order, then time."""
    rows = [{"study": r.study, "time": t, "yi": getattr(r, f"y{t}i"), "vi": getattr(r, f"v{t}i")}
            for r in wide().itertuples() for t in TIMES if not np.isnan(getattr(r, f"y{t}i"))]
    return pd.DataFrame(rows)


def ar1_sampling_covariance(data: pd.DataFrame, rho: float) -> np.ndarray:
    """Block-diagonal V: within a study, cov(y_s, y_t) = rho^|s - t| sqrt(v_s v_t)."""
    V = np.zeros((len(data), len(data)))
    t, sd = data["time"].to_numpy(), np.sqrt(data["vi"].to_numpy())
    for rows in data.groupby("study", sort=False).indices.values():
        block = np.ix_(rows, rows)
        V[block] = rho ** np.abs(t[rows, None] - t[None, rows]) * np.outer(sd[rows], sd[rows])
    return V


@cache
def independence() -> Any:
    return multivariate("yi", "vi", data=long(), mods=MEANS, random="~ time | study",
                        struct="DIAG")


@cache
def independence_ls() -> Any:
    return location_scale("yi", "vi", data=long(), mods=MEANS, scale="C(time)")


@cache
def per_time(t: int) -> Any:
    data = long()[long()["time"] == t]
    return mv.meta_analysis("yi", "vi", data=data, method="REML")


@cache
def study_effects() -> Any:
    return multivariate("yi", "vi", data=long(), mods=MEANS, random="~ 1 | study")


@cache
def time_effects() -> Any:
    return multivariate("yi", "vi", data=long(), mods=MEANS, random="~ time | study",
                        struct="HAR")


@cache
def multivariate_model() -> Any:
    return multivariate("yi", ar1_sampling_covariance(long(), RHO_WITHIN), data=long(),
                        mods=MEANS, random="~ time | study", struct="HAR")


def mean(fit: Any, t: int) -> float:
    return float(fit().coefficients["estimate"].iloc[t - 1])


def ls_tau2(t: int) -> float:
    """The location-scale model's fitted tau² of time point t (the same for all its rows)."""
    tau2 = independence_ls().tau2[long()["time"].to_numpy() == t]
    assert np.ptp(tau2) == 0
    return float(tau2[0])


TABLE = "Table1"
IND = {"mean": (-24.9, -27.5, -28.5, -24.1), "tau2": (23.1, 27.8, 27.7, 29.9)}
STUDY = {"mean": (-26.2, -27.2, -28.5, -25.6), "sigma2": 26.7}
TIME = {"mean": (-26.0, -27.5, -28.6, -25.8), "tau2": (20.4, 36.0, 26.4, 30.1)}
MULTI = {"mean": (-25.9, -27.5, -28.7, -26.5), "tau2": (22.6, 33.7, 26.1, 31.1), "rho": 0.88}
# metafor's fit gives -27.3, 20.3 (time effects), 22.7 and 31.2 (multivariate), and so does
# metaverdict: the table's numbers are not those of the model fitted to these data
DIFFERS = ("Table 1 prints {}; metafor's fit of the same model gives {} (noted in its test), "
           "as does metaverdict")
XFAIL = {("time", "mean", 2): DIFFERS.format(-27.5, -27.3),
         ("time", "tau2", 1): DIFFERS.format(20.4, 20.3),
         ("multi", "tau2", 1): DIFFERS.format(22.6, 22.7),
         ("multi", "tau2", 4): DIFFERS.format(31.1, 31.2)}


def _checks() -> list[Any]:
    out = []
    for t in TIMES:
        m, v = IND["mean"][t - 1], IND["tau2"][t - 1]
        out += [published(f"independence mean t{t} {TABLE}", lambda t=t: mean(independence, t),
                          m, 1),
                published(f"independence tau2 t{t} {TABLE}",
                          lambda t=t: float(independence().tau2[t - 1]), v, 1),
                published(f"location-scale mean t{t} {TABLE}",
                          lambda t=t: mean(independence_ls, t), m, 1),
                published(f"location-scale tau2 t{t} {TABLE}", lambda t=t: ls_tau2(t), v, 1),
                published(f"univariate mean t{t} {TABLE}", lambda t=t: per_time(t).estimate, m, 1),
                published(f"univariate tau2 t{t} {TABLE}", lambda t=t: per_time(t).tau2, v, 1),
                published(f"study effects mean t{t} {TABLE}",
                          lambda t=t: mean(study_effects, t), STUDY["mean"][t - 1], 1)]
        for key, fit, values in (("time", time_effects, TIME), ("multi", multivariate_model,
                                                                 MULTI)):
            out += [published(f"{key} mean t{t} {TABLE}", lambda t=t, f=fit: mean(f, t),
                              values["mean"][t - 1], 1, xfail=XFAIL.get((key, "mean", t))),
                    published(f"{key} tau2 t{t} {TABLE}",
                              lambda t=t, f=fit: float(f().tau2[t - 1]), values["tau2"][t - 1],
                              1, xfail=XFAIL.get((key, "tau2", t)))]
    out += [published(f"study effects sigma2 {TABLE}", lambda: float(study_effects().sigma2[0]),
                      STUDY["sigma2"], 1),
            published(f"multi rho {TABLE}", lambda: float(multivariate_model().rho[0]),
                      MULTI["rho"], 2)]
    return out


CHECKS = _checks()


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value: Any, expected: float, decimals: int) -> None:
    assert value() == printed(expected, decimals)


def test_checks_cover_table1() -> None:
    # 4 time points x (7 + 4) values, sigma2 and rho; 4 of them the table's differing numbers
    assert len(CHECKS) == 4 * 11 + 2
    assert sum(bool(c.marks) for c in CHECKS) == len(XFAIL) == 4


def test_data_match_reference_fixture() -> None:
    # the metadat export and the metafor reference fixture hold the same time-1 data
    fixture = load_data("dat.ishak2007__GEN_y1")
    t1 = long()[long()["time"] == 1]
    assert list(t1["study"]) == list(fixture["study"])
    np.testing.assert_array_equal(t1["yi"], fixture["yi"])
    np.testing.assert_array_equal(t1["vi"], fixture["vi"])


def test_long_format() -> None:
    data = long()
    assert len(wide()) == 46 and len(data) == 82
    assert data.groupby("time").size().tolist() == [24, 22, 25, 11]
    V = ar1_sampling_covariance(data, RHO_WITHIN)
    np.testing.assert_allclose(np.diag(V), data["vi"])
    i, j = data.index[data["study"] == "Barichella (2003)"]      # measured at 3 and 12 months
    assert data.loc[[i, j], "time"].tolist() == [1, 3]
    assert V[i, j] == pytest.approx(RHO_WITHIN ** 2 * np.sqrt(data.vi[i] * data.vi[j]))
    assert V[i, i + 2] == 0.0                                       # the next study
