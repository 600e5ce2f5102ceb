"""Time-course plot: CI bands, p-value bounds as arrows, unreported days, ±MCID."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Annotation

from metaverdict import InputError
from metaverdict.report import time_course_plot


def test_bounds_unreported_days_and_mcid(tmp_path) -> None:
    pts = pd.DataFrame({"day": [1, 2, 4], "bound": [0.757, 0.522, 0.5],
                        "bound_relation": [">=", ">=", "<"],
                        "label": ["p ≤ 0.003", "p ≤ 0.041", "p > 0.05"]})
    fig = time_course_plot(pts, mcid=0.5, not_reported_days=(3, 7), save=tmp_path / "tc.png")
    ax = fig.axes[0]
    arrows = [a for a in ax.texts if isinstance(a, Annotation) and a.arrow_patch is not None]
    assert len(arrows) == 2                                   # one per ">=" bound
    # the arrows start at the bounds
    assert sorted(a.xyann[1] for a in arrows) == pytest.approx([0.522, 0.757])
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("measured,\nnot reported") == 2 and "p ≤ 0.003" in texts
    # measured-but-unreported days are hollow markers off the zero line, never at 0
    hollow = [ln for ln in ax.get_lines() if ln.get_marker() == "o"
              and ln.get_markerfacecolor() == "white"]
    assert sorted(float(ln.get_xdata()[0]) for ln in hollow) == [3.0, 7.0]
    assert all(float(ln.get_ydata()[0]) > 0.757 for ln in hollow)
    assert {round(abs(line.get_ydata()[0]), 6) for line in ax.get_lines()
            if line.get_linestyle() == "--"} == {0.5}
    assert list(ax.get_xticks()) == [1, 2, 3, 4, 7]
    assert (tmp_path / "tc.png").stat().st_size > 0


def test_estimates_draw_a_band_through_the_cis() -> None:
    pts = pd.DataFrame({"day": [1, 3, 7], "estimate": [1.0, 0.4, 0.0],
                        "ci_lower": [0.2, -0.3, -0.6], "ci_upper": [1.8, 1.1, 0.6]})
    ax = time_course_plot(pts, mcid=1.0).axes[0]
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(-0.6) and band[:, 1].max() == pytest.approx(1.8)
    line = [ln for ln in ax.get_lines() if ln.get_marker() == "o"][0]
    assert np.allclose(line.get_ydata(), [1.0, 0.4, 0.0])


def test_range_result_is_a_band_over_its_days() -> None:
    pts = pd.DataFrame({"day": [1, 2], "bound": [0.757, 0.522], "bound_relation": [">=", ">="]})
    ax = time_course_plot(pts, mcid=0.5, ranges=[{"day_min": 1, "day_max": 7, "bound": 0.5,
                                                 "label": "vastus medialis: P > 0.05"}]).axes[0]
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 0].min() == pytest.approx(1) and band[:, 0].max() == pytest.approx(7)
    assert band[:, 1].min() == pytest.approx(-0.5) and band[:, 1].max() == pytest.approx(0.5)
    assert any("vastus medialis" in t.get_text() for t in ax.texts)


def test_needs_a_day_column() -> None:
    with pytest.raises(InputError, match="day"):
        time_course_plot(pd.DataFrame({"estimate": [1.0]}))
