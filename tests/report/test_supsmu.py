"""Friedman's super smoother against R 4.2.2's stats::supsmu
(tests/data/supsmu/supsmu_reference.json, written by supsmu_reference.R there: SIMULATED
inputs; the cross-validated span, bass, a fixed span, weights, ties, a tied middle half of x
(the scale's fallback), a point alone in its window (leverage 1: the carried-over
cross-validation residual), and metafor's qqnorm envelope of the BCG fit), and its use in the
Q-Q plot."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
from scipy import stats

import metaverdict as mv
from metaverdict.errors import InputError
from metaverdict.report.plots.qqnorm import plotting_positions, qqnorm_plot, simulated_envelope
from metaverdict.report.plots.supsmu import super_smoother

from conftest import assert_close

matplotlib.use("Agg")
REF = json.loads((Path(__file__).resolve().parent.parent / "data" / "supsmu"
                  / "supsmu_reference.json").read_text())
CASES = REF["cases"]


def test_reference_is_labelled_simulated() -> None:
    assert REF["simulated"] is True and "SIMULATED" in REF["note"]
    assert len(CASES) == 11


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_r_supsmu(name: str) -> None:
    case: dict[str, Any] = CASES[name]
    args = case["args"] if isinstance(case["args"], dict) else {}
    x, smooth = super_smoother(case["x"], case["y"], case["wt"], span=args.get("span", "cv"),
                               bass=args.get("bass", 0.0))
    assert_close(x, case["out_x"], "x", rtol=0, atol=0)
    assert_close(smooth, case["out_y"], "smooth", rtol=1e-12, atol=1e-12)


def test_straight_line_and_constant_x() -> None:
    """A line is its own smooth; without spread in x the smooth is the weighted mean."""
    x = np.linspace(0, 1, 30)
    np.testing.assert_allclose(super_smoother(x, 3 * x - 1)[1], 3 * x - 1, atol=1e-12)
    ux, s = super_smoother([2, 2, 2], [1, 2, 6], [1, 1, 2])
    assert ux.tolist() == [2.0] and s.tolist() == [3.75]


def test_bad_input() -> None:
    with pytest.raises(InputError, match="3, 2 and 3"):
        super_smoother([1, 2, 3], [1, 2], [1, 1, 1])
    with pytest.raises(InputError, match="span"):
        super_smoother([1, 2, 3], [1, 2, 3], span=1.5)
    with pytest.raises(InputError, match="no finite"):
        super_smoother([np.nan], [1.0])


def test_qqnorm_envelope_is_smoothed_as_metafor() -> None:
    """The drawn bounds are the super smooth of the simulated envelope (smooth=False: the
    envelope itself)."""
    es = mv.effect_sizes("RR", ai=[4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
                         bi=[119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699,
                             50448, 2493, 16886],
                         ci=[11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
                         di=[128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600,
                             27197, 2338, 17825])
    res = mv.meta_analysis(es.yi, es.vi)
    lower, upper = simulated_envelope(res, 0.95, reps=500, seed=7)
    ex = stats.norm.ppf(plotting_positions(res.k))
    for smooth in (True, False):
        ax = qqnorm_plot(res, reps=500, seed=7, smooth=smooth).axes[0]
        for values, gid in ((lower, "envelope-lower"), (upper, "envelope-upper")):
            line = next(ln for ln in ax.lines if ln.get_gid() == gid)
            want = super_smoother(ex, values)[1] if smooth else values
            np.testing.assert_allclose(line.get_ydata(), want, rtol=1e-12)
