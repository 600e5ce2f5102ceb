"""Permutation tests (metafor ``permutest``): exact enumeration checked against a brute-force
loop over itertools permutations, seeded reproducibility, and the approximate test."""
from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pytest

from metaverdict.errors import InputError
from metaverdict.models import meta_analysis
from metaverdict.models.permutation import exact_count, permutation_test

from conftest import case_data, load_case

TOL = np.sqrt(np.finfo(float).eps)


def _bcg(n: int | None = None):
    df = case_data(load_case("dat.bcg__RR"))
    return df if n is None else df.iloc[:n].reset_index(drop=True)


def test_exact_meta_regression_equals_brute_force() -> None:
    df = _bcg(6)
    res = meta_analysis(df["yi"], df["vi"], mods=df[["ablat"]], method="DL")
    # 720 orders, 360 distinct ones
    ties = df["ablat"].value_counts().to_numpy()              # two trials share a latitude
    n_distinct = 720 // int(np.prod([factorial(int(t)) for t in ties]))
    assert exact_count(res) == n_distinct == 360
    perm = permutation_test(res, iterations=1000)
    assert perm.exact and perm.iterations == n_distinct
    # every distinct arrangement appears equally often among the 720, so shares agree
    z, qm = [], []
    for order in itertools.permutations(range(6)):
        r = meta_analysis(df["yi"], df["vi"], mods=df[["ablat"]].iloc[list(order)].to_numpy(),
                          method="DL")
        z.append(r.coefficients["statistic"].to_numpy())
        qm.append(r.qm)
    z, qm = np.array(z), np.array(qm)
    obs = res.coefficients["statistic"].to_numpy()
    np.testing.assert_allclose(perm.pvalue, np.mean(np.abs(z) >= np.abs(obs) - TOL, axis=0))
    assert perm.qm_permutation_pvalue == pytest.approx(np.mean(qm >= res.qm - TOL))
    assert "exact" in perm.summary()


def test_exact_count_with_tied_rows() -> None:
    df = _bcg()
    res = meta_analysis(df["yi"], df["vi"], data=df, mods="C(alloc)", method="REML")
    counts = df["alloc"].value_counts().to_numpy()          # 7 random, 4 systematic, 2 alternate
    from math import factorial
    want = factorial(13) // np.prod([factorial(int(c)) for c in counts])
    assert exact_count(res) == want


def test_exact_with_ties_enumerates_each_distinct_arrangement_once() -> None:
    df = _bcg(7)
    g = np.array([0, 0, 0, 1, 1, 1, 1], dtype=float)
    res = meta_analysis(df["yi"], df["vi"], mods=g[:, None], method="REML")
    perm = permutation_test(res, iterations=100)
    assert perm.exact and perm.iterations == 35               # 7! / (3! 4!)
    arrangements = {tuple(np.array(p)) for p in itertools.permutations(g)}
    assert len(arrangements) == 35
    qm = [meta_analysis(df["yi"], df["vi"], mods=np.array(a)[:, None], method="REML").qm
          for a in arrangements]
    assert perm.qm_permutation_pvalue == pytest.approx(np.mean(np.array(qm) >= res.qm - TOL))


def test_exact_intercept_only_sign_flips() -> None:
    df = _bcg(7)
    res = meta_analysis(df["yi"], df["vi"], method="REML", test="knha")
    perm = permutation_test(res, iterations=1000)
    assert perm.exact and perm.iterations == 128
    t = []
    for signs in itertools.product((1, -1), repeat=7):
        t.append(meta_analysis(np.array(signs) * df["yi"], df["vi"], method="REML",
                               test="knha").statistic)
    want = np.mean(np.abs(t) >= abs(res.statistic) - TOL)
    assert perm.pvalue[0] == pytest.approx(want)
    assert perm.qm_permutation_pvalue == pytest.approx(want)


def test_approximate_test_is_seeded() -> None:
    df = _bcg()
    res = meta_analysis(df["yi"], df["vi"], data=df, mods="ablat", method="REML")
    a = permutation_test(res, iterations=100, seed=42)
    b = permutation_test(res, iterations=100, seed=42)
    assert not a.exact and a.iterations == 100
    np.testing.assert_array_equal(a.statistics, b.statistics)
    assert a.qm_permutation_pvalue == b.qm_permutation_pvalue
    assert a.statistics[0] == pytest.approx(res.coefficients["statistic"].to_numpy())
    assert 1 / 100 <= a.qm_permutation_pvalue <= 0.05      # ablat is a strong moderator
    assert a.to_dict()["iterations"] == 100
    c = permutation_test(res, iterations=100, seed=7)
    assert not np.array_equal(a.statistics, c.statistics)


def test_bad_iterations() -> None:
    df = _bcg()
    res = meta_analysis(df["yi"], df["vi"])
    with pytest.raises(InputError, match="iterations"):
        permutation_test(res, iterations=1)
