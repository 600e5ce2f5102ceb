"""The exemptions from the strict NA rule of the metafor comparisons (``EXEMPTIONS`` in
tests/conftest.py), checked against the fixtures of both reference sets (metafor 3.8-1 and
5.0-1: every exemption holds in each, since neither cause changed between the versions) and,
where metafor has NA and metaverdict a number, against an independent computation of it.

* every exemption names its reason and matches fixture fields, and the fixture really holds
  what the exemption says (null at exactly the stated rows, or [] for a column metafor does
  not report): a stale or over-broad exemption fails here;
* EE/FE prediction intervals: metafor's ``predict.rma`` removes the PI bounds of FE/EE/CE
  models (R/predict.rma.r in wviechtb/metafor, "for FE/EE/CE models, remove the PI bounds");
  every other estimator has them in every case. The parity test compares ours with metafor's
  CI instead (the exemption's ``substitute``);
* normand1999, REML without study 2 / study 6: metafor's refit failed and left NA
  (leave1out.rma.uni: ``res <- try(...rma.uni(..., subset=-i)); if (inherits(res,
  "try-error")) next``). metaverdict's numbers there are the roots of the REML score equation,
  solved here from the textbook formula, and they lie in [512, 1024), where the spacing of
  doubles (1.14e-13) exceeds the fixtures' Fisher-scoring threshold of 1e-13
  (tests/data/metafor/README.md, "Convergence settings"): the iteration can stop there only on
  an exact fixed point, which is why some of metafor's refits ran out of iterations.
"""
from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatch
from typing import Any

import numpy as np
import pytest
from scipy import optimize

import metaverdict as mv
from metaverdict.diagnostics import leave_one_out

from conftest import (
    EXEMPTIONS,
    METAFOR_NA,
    METAFOR_VERSIONS,
    NOT_REPORTED,
    Exemption,
    case_ids,
    load_case,
)

#: the fixtures' Fisher-scoring threshold (tests/data/metafor/README.md)
THRESHOLD = 1e-13


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}/{key}" if path else key)
    else:
        yield path, node


def _matches(ex: Exemption, version: str) -> list[tuple[str, str, Any]]:
    return [(cid, path, value) for cid in case_ids(version) if fnmatch(cid, ex.case)
            for path, value in _leaves(load_case(cid, version)) if ex.applies(f"{cid} {path}")]


def test_exemptions_are_documented() -> None:
    names = [ex.name for ex in EXEMPTIONS]
    assert len(set(names)) == len(names)
    for ex in EXEMPTIONS:
        assert ex.kind in (METAFOR_NA, NOT_REPORTED), ex.name
        assert len(ex.reason) > 40, ex.name
        if ex.kind == NOT_REPORTED:
            assert isinstance(ex.substitute, float), ex.name


@pytest.mark.parametrize("version", METAFOR_VERSIONS)
@pytest.mark.parametrize("ex", EXEMPTIONS, ids=[ex.name for ex in EXEMPTIONS])
def test_exemption_states_what_the_fixture_holds(ex: Exemption, version: str) -> None:
    found = _matches(ex, version)
    assert found, f"{ex.name}: matches no fixture field of the {version} set"
    for cid, path, value in found:
        where = f"{ex.name}: {version} {cid} {path}"
        if ex.kind == NOT_REPORTED:
            assert value == [], where
        elif ex.rows is None:
            assert value is None, where
        else:
            nulls = [i + 1 for i, v in enumerate(value) if v is None]
            assert nulls == list(ex.rows), f"{where}: null at rows {nulls}"


@pytest.mark.parametrize("version", METAFOR_VERSIONS)
def test_prediction_intervals_are_missing_only_for_ee_and_fe(version: str) -> None:
    for cid in case_ids(version):
        for block in ("models", "models_knha"):
            for method, ref in load_case(cid, version)[block].items():
                if "error" in ref:
                    continue
                missing = ref["predict"]["pi.lb"] is None
                assert missing == (method in ("EE", "FE")), (version, cid, block, method)


def _reml_tau2(yi: np.ndarray, vi: np.ndarray) -> float:
    """REML tau² of an intercept-only model: the root of the restricted score
    sum w² (y - mu)² = sum w - sum w² / sum w, with w = 1 / (v + tau²)."""
    def score(tau2: float) -> float:
        w = 1 / (vi + tau2)
        mu = np.sum(w * yi) / np.sum(w)
        return float(np.sum(w**2 * (yi - mu) ** 2) - (np.sum(w) - np.sum(w**2) / np.sum(w)))
    hi = 10 * float(np.var(yi)) + 1
    assert score(0) > 0 > score(hi)
    return optimize.brentq(score, 0, hi, xtol=1e-12, rtol=4 * np.finfo(float).eps)


@pytest.mark.parametrize("version", METAFOR_VERSIONS)
def test_normand1999_refits_metafor_could_not_finish(version: str) -> None:
    (ex,) = [e for e in EXEMPTIONS if e.case == "dat.normand1999__MD"]
    case = load_case("dat.normand1999__MD", version)
    yi = np.asarray(case["data"]["yi"], dtype=float)
    vi = np.asarray(case["data"]["vi"], dtype=float)
    ours = leave_one_out(mv.meta_analysis(yi, vi, method="REML"))
    assert ex.rows is not None
    for row in ex.rows:
        keep = np.arange(len(yi)) != row - 1
        tau2 = _reml_tau2(yi[keep], vi[keep])
        assert ours["tau2"].iloc[row - 1] == pytest.approx(tau2, rel=1e-9)
        w = 1 / (vi[keep] + tau2)
        assert ours["estimate"].iloc[row - 1] == pytest.approx(np.sum(w * yi[keep]) / np.sum(w),
                                                               rel=1e-9)
        assert ours["se"].iloc[row - 1] == pytest.approx(np.sqrt(1 / np.sum(w)), rel=1e-9)
        assert np.spacing(tau2) > THRESHOLD    # metafor's stopping rule cannot be met by a step
