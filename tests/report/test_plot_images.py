"""The plots compared with reference images (pixel tolerance), as metafor tests its plots.

Each plot is drawn on fixed data (dat.bcg, log risk ratios, REML; the post-marathon time
course's bounds) and compared with ``tests/report/images/<name>.png`` by
:func:`matplotlib.testing.compare.compare_images` (RMS difference of the pixel values, tolerance
``TOL``). The reference images were drawn by this code and looked at; after a deliberate change
to a plot, regenerate them with ``METAVERDICT_UPDATE_IMAGES=1 python -m pytest
tests/report/test_plot_images.py`` and look at them again before committing.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402

import metaverdict as mv  # noqa: E402
from metaverdict.report.plots import (  # noqa: E402
    baujat_plot,
    drapery_plot,
    forest_plot,
    funnel_plot,
    gosh_plot,
    labbe_plot,
    profile_plot,
    qqnorm_plot,
    radial_plot,
    time_course_plot,
)

from conftest import case_data, case_yi_vi, load_case  # noqa: E402

IMAGES = Path(__file__).with_name("images")
TOL = 2.0          # RMS over 0-255 pixel values; a changed label or mark exceeds it
UPDATE = os.environ.get("METAVERDICT_UPDATE_IMAGES") == "1"


def _bcg() -> mv.MetaAnalysisResult:
    case = load_case("dat.bcg__RR")
    data = case_data(case)
    yi, vi = case_yi_vi(case)
    labels = [f"{a}, {y}" for a, y in zip(data["author"], data["year"])]
    return mv.meta_analysis(yi, vi, labels=labels, method="REML")


def _labbe() -> Figure:
    data = case_data(load_case("dat.bcg__RR"))
    return labbe_plot(_bcg(), "RR", ai=data["tpos"], bi=data["tneg"], ci=data["cpos"],
                      di=data["cneg"])


def _time_course() -> Figure:
    pts = pd.DataFrame({"day": [1, 2], "bound": [0.757, 0.522], "bound_relation": [">=", ">="],
                        "label": ["soleus: P ≤ 0.003", "soleus: P ≤ 0.041"]})
    return time_course_plot(pts, mcid=0.5, ylabel="SMD, dry needling − sham",
                            not_reported_days=(3, 7),
                            ranges=[{"day_min": 1, "day_max": 7, "bound": 0.5,
                                     "label": "vastus medialis: P > 0.05 over days 1–7"}],
                            harm_label="more pain with dry needling",
                            benefit_label="less pain with dry needling")


PLOTS: dict[str, Callable[[], Figure]] = {
    "forest_bcg": lambda: forest_plot(_bcg(), transform=np.exp, xlabel="Risk ratio"),
    "funnel_bcg": lambda: funnel_plot(_bcg(), trim_and_fill=mv.trim_and_fill(_bcg())),
    "baujat_bcg": lambda: baujat_plot(_bcg()),
    "radial_bcg": lambda: radial_plot(_bcg()),
    "drapery_bcg": lambda: drapery_plot(_bcg(), transform=np.exp, xlabel="Risk ratio"),
    "gosh_bcg": lambda: gosh_plot(mv.gosh(_bcg()), transform=np.exp, ylabel="Risk ratio"),
    "profile_bcg": lambda: profile_plot(mv.likelihood_profile(_bcg()), cline=True),
    "qqnorm_bcg": lambda: qqnorm_plot(_bcg(), seed=1),
    "labbe_bcg": _labbe,
    "time_course_marathon": _time_course,
}


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_plot_matches_reference_image(name: str, tmp_path: Path) -> None:
    fig = PLOTS[name]()
    actual = tmp_path / f"{name}.png"
    fig.savefig(actual, dpi=72, bbox_inches="tight")
    expected = IMAGES / f"{name}.png"
    if UPDATE:
        shutil.copyfile(actual, expected)
    assert expected.exists(), f"no reference image {expected}; see the module docstring"
    diff = compare_images(str(expected), str(actual), tol=TOL)
    assert diff is None, diff


def test_a_changed_plot_fails_the_comparison(tmp_path: Path) -> None:
    """The comparison can fail: the forest plot without its weights column differs."""
    fig = forest_plot(_bcg(), transform=np.exp, xlabel="Risk ratio", show_weights=False)
    actual = tmp_path / "changed.png"
    fig.savefig(actual, dpi=72, bbox_inches="tight")
    expected = IMAGES / "forest_bcg.png"
    if not expected.exists():
        pytest.fail("reference images missing")
    try:
        diff = compare_images(str(expected), str(actual), tol=TOL)
    except Exception as exc:                 # a different size is reported as an error
        diff = str(exc)
    assert diff is not None
