"""The batch kernel of the Bayesian model: every analysis equals its single fit to 1e-6, for
every prior, with ragged k (NaN padding or a mask), chunking and bad input."""
from __future__ import annotations

import numpy as np
import pytest

from metaverdict import InputError
from metaverdict.models.bayes import (
    LogNormalPrior,
    LogStudentTPrior,
    bayesian_batch,
    bayesian_meta_analysis,
    turner_prior,
)

PROBS = (0.025, 0.25, 0.5, 0.75, 0.975)
PRIORS = [
    pytest.param({"tau_prior": "uniform", "mu_prior": None}, id="uniform"),
    pytest.param({"tau_prior": "half-normal", "tau_scale": 0.5}, id="half-normal"),
    pytest.param({"tau_prior": "half-cauchy", "tau_scale": 1.0, "mu_prior": (0, 4)},
                 id="half-cauchy-normal-mu"),
    pytest.param({"tau_prior": "half-t", "tau_scale": 0.5, "tau_df": 3}, id="half-t"),
    pytest.param({"tau_prior": "lomax", "tau_scale": 0.5, "tau_shape": 2}, id="lomax"),
    pytest.param({"tau_prior": "jeffreys"}, id="jeffreys"),
    pytest.param({"tau_prior": turner_prior("pain", "non-pharmacological", "placebo")},
                 id="turner"),
    pytest.param({"tau_prior": LogStudentTPrior(-1.5, 1.1)}, id="log-t"),
]


def ragged(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n analyses with 3 to 12 studies, padded with NaN to 12 columns."""
    rng = np.random.default_rng(seed)
    k = rng.integers(3, 13, n)
    tau = np.abs(rng.normal(0, 0.4, n))
    mu = rng.normal(0, 0.6, n)
    vi = rng.uniform(0.005, 0.3, (n, 12))
    y = mu[:, None] + rng.normal(size=(n, 12)) * np.sqrt(vi + tau[:, None] ** 2)
    pad = np.arange(12)[None, :] >= k[:, None]
    return np.where(pad, np.nan, y), np.where(pad, np.nan, vi)


@pytest.mark.parametrize("prior", PRIORS)
def test_batch_equals_single_fits(prior: dict) -> None:
    y, vi = ragged(12, seed=7)
    res = bayesian_batch(y, vi, probs=PROBS, mcid=0.15, chunk_size=5, **prior)
    compared = 0
    for i in range(len(y)):
        keep = np.isfinite(y[i])
        one = bayesian_meta_analysis(y[i][keep], vi[i][keep], **prior)
        table = one.summary_table
        assert res.k[i] == keep.sum() and res.proper[i]
        for name in ("tau", "mu", "theta"):
            want = one.quantile(name, PROBS)
            got = getattr(res, f"{name}_quantiles")[i]
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
            compared += len(PROBS)
        for got, want in ((res.tau_mean[i], table.loc["tau", "mean"]),
                          (res.tau_sd[i], table.loc["tau", "sd"]),
                          (res.mu_mean[i], table.loc["mu", "mean"]),
                          (res.mu_sd[i], table.loc["mu", "sd"]),
                          (res.theta_sd[i], table.loc["theta", "sd"])):
            if np.isnan(want):
                assert np.isnan(got)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-6)
            compared += 1
        np.testing.assert_allclose(res.prob_above[i],
                                   one.probability_beyond(0.15, "greater"), rtol=1e-6,
                                   atol=1e-12)
        np.testing.assert_allclose(res.prob_below[i], one.probability_beyond(-0.15, "less"),
                                   rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(res.prob_within[i], one.probability_within(0.15),
                                   rtol=1e-6, atol=1e-12)
        compared += 3
    assert compared == 12 * (3 * len(PROBS) + 5 + 3)


def test_mask_equals_nan_padding_and_chunking_changes_nothing() -> None:
    y, vi = ragged(30, seed=11)
    mask = np.isfinite(y)
    a = bayesian_batch(y, vi, tau_prior="half-normal", tau_scale=0.5, mcid=0.1)
    filled_y, filled_v = np.where(mask, y, 123.0), np.where(mask, vi, -1.0)
    b = bayesian_batch(filled_y, filled_v, mask=mask, tau_prior="half-normal", tau_scale=0.5,
                       mcid=0.1, chunk_size=7)
    for name in ("tau_quantiles", "mu_quantiles", "theta_quantiles", "mu_mean", "prob_above"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-15)
    frame = a.to_frame()
    assert len(frame) == 30
    assert {"k", "mu_q0.025", "mu_q0.975", "tau_q0.5", "prob_above", "prob_within"} <= set(frame)
    assert "30 Bayesian meta-analyses" in a.summary()


def test_improper_rows_are_flagged_not_fitted() -> None:
    y = np.array([[0.1, 0.3, np.nan], [0.2, -0.1, 0.4]])
    vi = np.array([[0.02, 0.03, np.nan], [0.02, 0.05, 0.04]])
    res = bayesian_batch(y, vi)                 # uniform priors: k = 2 is improper
    assert res.proper.tolist() == [False, True]
    assert np.isnan(res.mu_quantiles[0]).all() and np.isfinite(res.mu_quantiles[1]).all()
    assert np.isnan(res.tau_mean[1])            # k = 3, uniform: E(tau) is infinite
    with pytest.raises(InputError, match="improper"):
        bayesian_meta_analysis(y[0, :2], vi[0, :2])


@pytest.mark.parametrize("kwargs, match", [
    ({"vi": [[0.1, -0.2]]}, r"analysis 1, study 2, field 'vi'"),
    ({"y": [[0.1, np.inf]], "mask": [[True, True]]}, r"analysis 1, study 2, field 'y'"),
    ({"y": [[np.nan, np.nan]]}, r"analysis 1: no studies"),
    ({"probs": (0.5, 1.0)}, "probs"),
    ({"mcid": -0.1}, "mcid"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"vi": [[0.1, 0.2, 0.3]]}, "same shape"),
])
def test_bad_input_names_the_analysis_and_field(kwargs: dict, match: str) -> None:
    args = {"y": [[0.1, 0.2]], "vi": [[0.1, 0.2]], "tau_prior": "half-normal",
            "tau_scale": 0.5}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        bayesian_batch(**args)


def test_lognormal_prior_object_and_name_agree() -> None:
    y, vi = ragged(4, seed=3)
    a = bayesian_batch(y, vi, tau_prior=LogNormalPrior(-1.28, 0.87))
    b = bayesian_batch(y, vi, tau_prior=turner_prior())
    np.testing.assert_allclose(a.mu_quantiles, b.mu_quantiles, rtol=1e-12)


def test_threads_change_nothing() -> None:
    y, vi = ragged(40, seed=5)
    one = bayesian_batch(y, vi, tau_prior="half-normal", tau_scale=0.5, chunk_size=8)
    two = bayesian_batch(y, vi, tau_prior="half-normal", tau_scale=0.5, chunk_size=8,
                         workers=2)
    assert np.array_equal(one.mu_quantiles, two.mu_quantiles)
    assert np.array_equal(one.tau_quantiles, two.tau_quantiles)
