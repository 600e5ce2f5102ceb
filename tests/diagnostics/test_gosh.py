"""GOSH (metaverdict.diagnostics.gosh) against R metafor 3.8-1 ``gosh()``.

Reference: tests/data/gosh/gosh_reference.json, written by gosh_reference.R in the same folder
(trials 1-10 of dat.bcg, log risk ratios: all 1023 subsets; REML, DL with Hartung-Knapp, EE,
and a REML meta-regression on ablat; Mantel-Haenszel OR and Peto poolings of trials 1-8).
Every row is compared: the inclusion pattern (metafor's order) and each statistic, NA where
metafor's fit is NA.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import metaverdict as mv
from metaverdict.errors import InputError

REFERENCE = json.loads((Path(__file__).parent.parent / "data" / "gosh"
                        / "gosh_reference.json").read_text())
COLUMNS = {"k": "k", "QE": "q", "I2": "i2", "H2": "h2", "tau2": "tau2", "estimate": "estimate",
           "intrcpt": "intrcpt", "ablat": "ablat"}


def _arr(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in values], dtype=float)


def _fit(args: dict[str, Any]) -> Any:
    if args["method"] in ("MH", "Peto"):
        t = {k: _arr(v).astype(int) for k, v in REFERENCE["tables"].items()}
        counts = {"ai": t["tpos"], "bi": t["tneg"], "ci": t["cpos"], "di": t["cneg"]}
        if args["method"] == "Peto":
            return mv.peto(**counts)
        return mv.mantel_haenszel(args["measure"], **counts)
    data = pd.DataFrame({k: _arr(v) for k, v in REFERENCE["data"].items()})
    return mv.meta_analysis("yi", "vi", data=data, method=args["method"], test=args["test"],
                            mods=args["mods"] or None)   # R writes NULL as {}


@pytest.mark.parametrize("name", list(REFERENCE["cases"]))
def test_gosh_matches_metafor(name: str) -> None:
    case = REFERENCE["cases"][name]
    g = mv.gosh(_fit(case["args"]))
    assert g.exact and g.n_subsets == len(case["incl"])
    ours = ["".join("1" if b else "0" for b in row) for row in g.included]
    assert ours == case["incl"]                                  # same subsets, same order
    table = g.table
    assert list(table.columns) == [COLUMNS[c] for c in case["columns"]]
    compared = 0
    for column in case["columns"]:
        expected = _arr(case["res"][column])
        assert len(expected) == g.n_subsets, column             # a missing field fails
        np.testing.assert_allclose(table[COLUMNS[column]].to_numpy(float), expected,
                                   rtol=1e-6, atol=1e-8, equal_nan=True, err_msg=column)
        compared += len(expected)
    assert compared == g.n_subsets * len(case["columns"])


def test_gosh_all_studies_row_is_the_fit() -> None:
    res = _fit({"method": "REML", "test": "z", "mods": None})
    last = mv.gosh(res).table.iloc[-1]
    assert last["k"] == res.k
    assert last["estimate"] == pytest.approx(res.estimate, rel=1e-10)
    assert last["tau2"] == pytest.approx(res.tau2, rel=1e-8)


def test_gosh_random_subsets() -> None:
    res = _fit({"method": "DL", "test": "z", "mods": None})
    a = mv.gosh(res, subsets=200, seed=1)
    b = mv.gosh(res, subsets=200, seed=1)
    assert not a.exact and a.n_subsets == 200
    np.testing.assert_array_equal(a.included, b.included)       # reproducible with a seed
    sizes = a.included.sum(axis=1)
    assert sizes.min() >= 1 and np.all(np.diff(sizes) >= 0)     # ordered by size
    exact = mv.gosh(res)
    lookup = {"".join("1" if x else "0" for x in row): i for i, row in enumerate(exact.included)}
    rows = [lookup["".join("1" if x else "0" for x in row)] for row in a.included]
    np.testing.assert_allclose(a.table["estimate"], exact.table["estimate"].iloc[rows],
                               rtol=1e-12)                       # the same fits


@pytest.mark.parametrize("subsets", [0, -3, 2.5, True, "many"])
def test_gosh_bad_subsets(subsets: Any) -> None:
    res = _fit({"method": "REML", "test": "z", "mods": None})
    with pytest.raises(InputError, match="subsets"):
        mv.gosh(res, subsets=subsets)


def test_gosh_needs_a_univariate_fit_with_two_studies() -> None:
    with pytest.raises(InputError, match="gosh"):
        mv.gosh(mv.meta_analysis([0.1], [0.01]))
    with pytest.raises(InputError, match="gosh"):
        mv.gosh("not a fit")
