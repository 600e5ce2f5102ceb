"""A study that effect_sizes drops (missing input, metafor's NA) is omitted from the fit with a
warning, as metafor's ``na.omit``; NaN in plain arrays stays an InputError naming the row."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import metaverdict as mv

DF = pd.DataFrame({"m1": [1.0, 2.0, np.nan, 3.0, 2.5], "x": [1.0, 2.0, 3.0, 4.0, 6.0]},
                  index=list("abcde"))
ARMS = dict(sd1i=[1.0] * 5, n1i=[10, 12, 14, 9, 20], m2i=[0.5, 1, 1, 1, 1.5],
            sd2i=[1.0] * 5, n2i=[10, 12, 14, 9, 20])


def _es() -> mv.EffectSizes:
    with pytest.warns(UserWarning, match="study 'c'"):
        return mv.effect_sizes("SMD", data=DF, m1i="m1", **ARMS)


def test_dropped_study_is_omitted_with_a_warning() -> None:
    es = _es()
    with pytest.warns(UserWarning, match=r"1 study with missing input omitted.*study 'c'"):
        res = mv.meta_analysis(es, data=DF, mods="x", method="REML")
    keep = np.isfinite(es.yi)
    ref = mv.meta_analysis(es.yi[keep], es.vi[keep], data=DF[keep], mods="x", method="REML")
    assert res.k == 4 == ref.k
    assert res.coefficients["estimate"].to_numpy() == pytest.approx(
        ref.coefficients["estimate"].to_numpy(), rel=1e-12)


def test_nan_in_plain_arrays_is_an_input_error() -> None:
    es = _es()
    with pytest.raises(mv.InputError, match="field 'yi'"):
        mv.meta_analysis(es.yi, es.vi)
