"""Cluster-robust (sandwich) inference, checked against an independent plain-numpy computation
of the formula in metaverdict.models.robust's docstring:
Var(b) = n/(n-p) * B (sum_c e_c e_c') B',  B = (X'WX)^-1 X'W,  t on n - p df."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from metaverdict.errors import InputError
from metaverdict.models import meta_analysis
from metaverdict.models.multilevel import multilevel
from metaverdict.models.robust import robust

from conftest import case_data, load_case


def _hand_sandwich(X, W, y, b, cluster, adjust=True):
    k, p = X.shape
    B = np.linalg.inv(X.T @ W @ X) @ X.T @ W
    e = y - X @ b
    meat = np.zeros((k, k))
    for c in np.unique(cluster):
        idx = np.flatnonzero(cluster == c)
        meat[np.ix_(idx, idx)] = np.outer(e[idx], e[idx])
    n = len(np.unique(cluster))
    return B @ meat @ B.T * (n / (n - p) if adjust else 1.0), n


@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_meta_regression_sandwich_by_hand(adjust: bool, test: str) -> None:
    df = case_data(load_case("dat.bcg__RR"))
    cluster = df["alloc"].to_numpy().copy()
    cluster[:4] = "first"                               # 4 clusters of unequal size
    res = meta_analysis(df["yi"], df["vi"], data=df, mods="ablat", method="REML", test=test)
    X = np.column_stack([np.ones(13), df["ablat"]])
    W = np.diag(1 / (df["vi"].to_numpy() + res.tau2))
    b = res.coefficients["estimate"].to_numpy()
    vb, n = _hand_sandwich(X, W, df["yi"].to_numpy(), b, cluster, adjust)
    rob = robust(res, cluster=cluster, adjust=adjust)
    assert rob.n_clusters == n == 4 and rob.df == n - 2
    np.testing.assert_allclose(rob.vcov, vb, rtol=1e-12)
    se = np.sqrt(np.diag(vb))
    np.testing.assert_allclose(rob.coefficients["se"], se, rtol=1e-12)
    np.testing.assert_allclose(rob.coefficients["pvalue"], 2 * stats.t.sf(np.abs(b / se), n - 2),
                               rtol=1e-10)
    crit = stats.t.isf(0.025, n - 2)
    assert rob.ci_upper == pytest.approx(b[0] + crit * se[0], rel=1e-12)
    assert rob.qm == pytest.approx((b[1] / se[1]) ** 2, rel=1e-10)
    assert rob.qm_pvalue == pytest.approx(stats.f.sf(rob.qm, 1, n - 2), rel=1e-10)
    assert "clusters" in rob.summary()


def test_one_cluster_per_study_is_hc_sandwich() -> None:
    df = case_data(load_case("dat.bcg__RR"))
    res = meta_analysis(df["yi"], df["vi"], method="DL")
    rob = robust(res, cluster=np.arange(13), adjust=False)
    w = 1 / (df["vi"].to_numpy() + res.tau2)
    e = df["yi"].to_numpy() - res.estimate
    assert rob.se == pytest.approx(np.sqrt(np.sum(w ** 2 * e ** 2)) / np.sum(w), rel=1e-12)
    assert rob.qm == pytest.approx(rob.statistic ** 2, rel=1e-12)      # intercept tested


def test_multilevel_sandwich_by_hand() -> None:
    df = case_data(load_case("dat.konstantopoulos2011__GEN"))
    res = multilevel("yi", "vi", groups=["district", "school"], data=df, mods="year")
    W = np.linalg.inv(res.marginal_covariance())
    b = res.coefficients["estimate"].to_numpy()
    cluster = df["district"].to_numpy()
    vb, n = _hand_sandwich(res.design, W, res.yi, b, cluster)
    rob = robust(res, cluster=cluster)
    assert n == 11
    np.testing.assert_allclose(rob.vcov, vb, rtol=1e-10)
    assert rob.df == 9


def test_bad_cluster() -> None:
    df = case_data(load_case("dat.bcg__RR")).set_index("author")
    res = meta_analysis(df["yi"], df["vi"], data=df, mods="ablat")
    with pytest.raises(InputError, match="12 cluster identifiers for 13"):
        robust(res, cluster=np.arange(12))
    cl = np.array(["a"] * 13, dtype=object)
    cl[5] = None
    with pytest.raises(InputError, match=f"study '{df.index[5]}', field 'cluster'"):
        robust(res, cluster=cl)
    with pytest.raises(InputError, match="number of clusters"):
        robust(res, cluster=np.array(["a", "b"] * 6 + ["a"]))
