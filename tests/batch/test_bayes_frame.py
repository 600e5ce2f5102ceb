"""``mv.batch.bayesian_meta_analyses``: one exact posterior per analysis key, the same numbers
as one ``mv.bayesian_meta_analysis`` per analysis (itself at bayesmeta parity)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import metaverdict as mv


def _frame(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys, ys, vs = [], [], []
    for i, k in enumerate([5, 3, 8, 4, 2, 6]):
        keys += [f"a{i}"] * k
        vs += list(rng.uniform(0.01, 0.1, k))
        ys += list(rng.normal(0.3, 0.3, k))
    frame = pd.DataFrame({"analysis": keys, "y": ys, "v": vs})
    return frame.sample(frac=1.0, random_state=1)      # keys interleaved


def test_each_analysis_matches_the_single_fit() -> None:
    frame = _frame()
    out = mv.batch.bayesian_meta_analyses(frame, by="analysis", yi="y", vi="v",
                                          tau_prior="half-normal", tau_scale=0.5, mcid=0.2,
                                          probs=(0.025, 0.5, 0.975))
    assert list(out["analysis"]) == list(dict.fromkeys(frame["analysis"]))
    compared = 0
    for _, row in out.iterrows():
        sub = frame[frame["analysis"] == row["analysis"]]
        post = mv.bayesian_meta_analysis(sub["y"].to_numpy(), sub["v"].to_numpy(),
                                         tau_prior="half-normal", tau_scale=0.5)
        assert row["k"] == len(sub)
        for p in (0.025, 0.5, 0.975):
            assert row[f"mu_q{p:g}"] == pytest.approx(post.quantile("mu", p), rel=1e-6, abs=1e-9)
            assert row[f"tau_q{p:g}"] == pytest.approx(post.quantile("tau", p), rel=1e-6,
                                                       abs=1e-9)
        assert row["prob_above"] == pytest.approx(
            post.probability_beyond(0.2, "greater"), rel=1e-6, abs=1e-12)
        assert row["prob_within"] == pytest.approx(post.probability_within(0.2), rel=1e-6,
                                                   abs=1e-12)
        compared += 1
    assert compared == 6


def test_bad_input_names_the_analysis_and_row() -> None:
    frame = _frame()
    frame.loc[frame.index[4], "v"] = -1.0
    key = frame.loc[frame.index[4], "analysis"]
    with pytest.raises(mv.InputError, match=rf"analysis '{key}', row {frame.index[4]}, "
                                            r"field 'v'.*> 0"):
        mv.batch.bayesian_meta_analyses(frame, by="analysis", yi="y", vi="v")
    with pytest.raises(mv.InputError, match="tau"):
        mv.batch.bayesian_meta_analyses(_frame(), by="analysis", yi="y", vi="v",
                                        tau_prior="half-normal", tau_scale=-1)


def test_improper_posteriors_are_flagged_not_failed() -> None:
    # k = 1 with improper uniform priors on tau and mu: no proper posterior
    frame = pd.DataFrame({"analysis_id": [1, 2, 2, 2], "yi": [0.1, 0.2, 0.3, 0.1],
                          "vi": [0.02, 0.02, 0.03, 0.04]})
    out = mv.batch.bayesian_meta_analyses(frame)
    assert out["proper"].tolist() == [False, True]
    assert np.isnan(out.loc[0, "mu_q0.5"]) and np.isfinite(out.loc[1, "mu_q0.5"])
