"""The batch engine against the single-fit engine: every public fixture case and method, stacked
as one ragged batch, must agree to 1e-10; ragged random data with k = 1; bad input."""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

import metaverdict as mv
from metaverdict.batch import FIELDS, KNHA_FIELDS, compiled, meta_analyses
from metaverdict.errors import InputError

from conftest import case_ids, case_yi_vi, load_case

METHODS = ["EE", "FE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM", "GENQ"]
needs_numba = pytest.mark.skipif(not compiled.available(),
                                 reason="the compiled kernel needs Numba (the 'fast' extra; "
                                        "the 'dev' extra has it)")
COMPARED = ["estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "tau2", "tau2_se",
            "i2", "h2", "q", "q_pvalue", "pi_lower", "pi_upper"]


def _fixture_frame() -> pd.DataFrame:
    frames = []
    for cid in case_ids():
        y, v = case_yi_vi(load_case(cid))
        keep = np.isfinite(y) & np.isfinite(v)
        frames.append(pd.DataFrame({"analysis_id": cid, "yi": y[keep], "vi": v[keep]}))
    return pd.concat(frames, ignore_index=True)


FIXTURES = _fixture_frame()


def _assert_matches_single(frame: pd.DataFrame, out: pd.DataFrame, method: str, test: str,
                           by: str = "analysis_id") -> None:
    assert len(out) == frame[by].nunique()
    groups = dict(tuple(frame.groupby(by, sort=False)))
    for i, key in enumerate(out[by]):
        sub = groups[key]
        res = mv.meta_analysis(sub["yi"].to_numpy(), sub["vi"].to_numpy(), method=method, test=test)
        row = out.iloc[i]
        assert row["k"] == res.k and row["q_df"] == res.q_df
        assert bool(row["converged"]) == res.converged
        fields = COMPARED + (["s2w"] if test == "knha" else [])
        for field in fields:
            got, want = float(row[field]), float(getattr(res, field))
            if not np.isfinite(want):
                assert got == want or np.isnan(got) and np.isnan(want), f"{key} {method} {field}"
                continue
            assert abs(got - want) <= 1e-10 * (1 + abs(want)), \
                f"{key} {method} {field}: {got} vs {want}"
        if test == "knha":
            assert row["df"] == res.df or (np.isnan(row["df"]) and np.isnan(res.df))


@pytest.mark.parametrize("backend", [None, "numpy"])     # compiled where it exists; array kernels
@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("method", METHODS)
def test_all_fixture_cases_as_one_ragged_batch_match_single_fits(method: str, test: str,
                                                                 backend: str | None) -> None:
    out = meta_analyses(FIXTURES, method=method, test=test, backend=backend)
    assert list(out["analysis_id"]) == list(pd.unique(FIXTURES["analysis_id"]))
    assert list(out.columns) == ["analysis_id", *FIELDS, *(KNHA_FIELDS if test == "knha" else ())]
    _assert_matches_single(FIXTURES, out, method, test)


def _ragged(seed: int, n: int = 150, kmax: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ks = rng.integers(1, kmax, n)
    ids = np.repeat([f"a{i:03d}" for i in range(n)], ks)
    v = rng.uniform(0.005, 0.5, len(ids)) ** 2 * rng.choice([1, 10], len(ids))
    tau2 = np.repeat(rng.choice([0.0, 0.05, 0.5], n), ks)
    y = rng.normal(0.2, np.sqrt(v + tau2))
    frame = pd.DataFrame({"study": ids, "effect": y, "var": v})
    return frame.sample(frac=1, random_state=seed)           # rows of analyses interleaved


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")   # single fits, k = 1, knha
@pytest.mark.parametrize("method", ["EE", "DL", "HE", "SJ", "PM", "ML", "REML", "EB"])
@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("backend", [None, "numpy"])
def test_ragged_random_batches_with_single_studies_match(method: str, test: str,
                                                         backend: str | None) -> None:
    frame = _ragged(zlib.crc32(f"{method}-{test}".encode()) % 1000)
    assert (frame.groupby("study").size() == 1).any()
    out = meta_analyses(frame, by="study", yi="effect", vi="var", method=method, test=test,
                        backend=backend)
    assert list(out["study"]) == list(pd.unique(frame["study"]))
    assert out["converged"].all()
    renamed = frame.rename(columns={"effect": "yi", "var": "vi"})
    _assert_matches_single(renamed, out, method, test, by="study")


def test_single_study_analyses_are_their_own_estimate() -> None:
    frame = pd.DataFrame({"analysis_id": [1, 2, 2], "yi": [0.4, 0.1, 0.3],
                          "vi": [0.04, 0.01, 0.02]})
    out = meta_analyses(frame, method="REML")
    one = out.iloc[0]
    assert one["k"] == 1 and one["estimate"] == 0.4 and one["tau2"] == 0
    assert one["se"] == pytest.approx(0.2) and one["q"] == 0 and one["q_df"] == 0


def test_chunking_and_sorted_layout_do_not_change_results() -> None:
    frame = _ragged(7).rename(columns={"effect": "yi", "var": "vi", "study": "analysis_id"})
    a = meta_analyses(frame, method="REML", chunk_size=16)
    b = meta_analyses(frame.sort_values("analysis_id", kind="stable"), method="REML")
    a = a.sort_values("analysis_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


def test_equal_k_sorted_input_is_reshaped() -> None:
    rng = np.random.default_rng(3)
    n, k = 500, 10
    v = rng.uniform(0.01, 0.2, (n, k))
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    frame = pd.DataFrame({"analysis_id": np.repeat(np.arange(n), k), "yi": y.ravel(),
                          "vi": v.ravel()})
    out = meta_analyses(frame, method="DL")
    from metaverdict.models.random_effects import estimate_tau2
    assert np.allclose(out["tau2"], estimate_tau2("DL", y, v).tau2, rtol=1e-12, atol=0)


def test_missing_column_is_named() -> None:
    with pytest.raises(InputError, match="'vi'"):
        meta_analyses(pd.DataFrame({"analysis_id": [1], "yi": [0.1], "v": [0.1]}))


def test_nan_variance_names_analysis_and_row() -> None:
    frame = pd.DataFrame({"analysis_id": ["a", "a", "b", "b"], "yi": [0.1, 0.2, 0.3, 0.4],
                          "vi": [0.1, 0.1, np.nan, 0.2]}, index=[10, 11, 12, 13])
    with pytest.raises(InputError, match=r"analysis 'b', row 12, field 'vi'"):
        meta_analyses(frame)


def test_non_positive_variance_and_missing_key_are_reported() -> None:
    with pytest.raises(InputError, match=r"analysis 'a', row 1, field 'vi'.*> 0"):
        meta_analyses(pd.DataFrame({"analysis_id": ["a", "a"], "yi": [0.1, 0.2], "vi": [0.1, 0.0]}))
    with pytest.raises(InputError, match=r"row 1, field 'analysis_id': missing"):
        meta_analyses(pd.DataFrame({"analysis_id": ["a", None], "yi": [0.1, 0.2],
                                    "vi": [0.1, 0.1]}))


def test_empty_table_is_k_zero() -> None:
    with pytest.raises(InputError, match="k = 0"):
        meta_analyses(pd.DataFrame({"analysis_id": [], "yi": [], "vi": []}))


def test_unknown_method_and_test() -> None:
    frame = pd.DataFrame({"analysis_id": [1], "yi": [0.1], "vi": [0.1]})
    with pytest.raises(InputError):
        meta_analyses(frame, method="XYZ")
    with pytest.raises(InputError):
        meta_analyses(frame, test="w")


@needs_numba
@pytest.mark.parametrize("scale", [1e-20, 1e-9, 1.0, 1e9, 1e20])
@pytest.mark.parametrize("method", ["DL", "ML", "REML", "PM"])
def test_compiled_kernel_matches_array_kernels_at_extreme_scales(method: str, scale: float) -> None:
    """Effects and variances scaled by 1e±20 (the likelihood's log terms then take the exact
    path) and k up to 40: the compiled kernel and the array kernels give the same fits."""
    frame = _ragged(3, n=60, kmax=40).rename(columns={"effect": "yi", "var": "vi",
                                                      "study": "analysis_id"})
    frame = frame.assign(yi=frame["yi"] * np.sqrt(scale), vi=frame["vi"] * scale)
    a = meta_analyses(frame, method=method, backend="numba")
    b = meta_analyses(frame, method=method, backend="numpy")
    pd.testing.assert_frame_equal(a.drop(columns="iterations"), b.drop(columns="iterations"),
                                  rtol=1e-9, atol=1e-12 * np.sqrt(scale))


@needs_numba
def test_numba_backend_without_a_kernel_for_the_method() -> None:
    with pytest.raises(InputError, match="no method 'SJ'"):
        meta_analyses(FIXTURES, method="SJ", backend="numba")


@pytest.mark.parametrize("method, test", [("DL", "z"), ("REML", "knha"), ("SJ", "z")])
def test_fit_arrays_matches_the_frame_api(method: str, test: str) -> None:
    rng = np.random.default_rng(5)
    v = rng.uniform(0.01, 0.3, (40, 6))
    y = rng.normal(0.1, np.sqrt(v + 0.04))
    frame = pd.DataFrame({"analysis": np.repeat(np.arange(40), 6), "yi": y.ravel(),
                          "vi": v.ravel()})
    want = meta_analyses(frame, by="analysis", method=method, test=test)
    got = mv.batch.fit_arrays(y, v, method=method, test=test)
    pd.testing.assert_frame_equal(got, want, check_index_type=False, check_dtype=False)


def test_fit_arrays_bad_input_names_analysis_and_study() -> None:
    v = np.full((3, 4), 0.1)
    v[2, 1] = 0.0
    with pytest.raises(InputError, match="analysis 2, study 1, field 'v'"):
        mv.batch.fit_arrays(np.zeros((3, 4)), v)
    with pytest.raises(InputError, match="same shape"):
        mv.batch.fit_arrays(np.zeros((3, 4)), np.ones((3, 5)))
