"""Regression tests for the batch items of the reliability review
(shared/reviews/reliability-2026-12.md): D3 (one extreme analysis crashed the compiled kernel
and the whole call), D4 (``metaverdict batch`` destroyed files on failure), D2 in the batch
engine (k = 1 with Hartung-Knapp), and batch input that was accepted or gave tracebacks
(D7, D10, D12, D14, D15). Expected values are worked out by hand in the comments (two-study
closed forms), never taken from a run of the code."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import metaverdict.batch as mvb
from metaverdict.batch import REASONS, ResultWriter, compiled, meta_analyses, meta_analyses_file
from metaverdict.batch.compiled import COMPILED_METHODS
from metaverdict.cli import app
from metaverdict.errors import InputError

COMPILED = ["EE", "DL", "HE", "ML", "REML", "PM"]
NUMBA = pytest.param("numba", marks=pytest.mark.skipif(
    not compiled.available(), reason="the compiled kernel needs Numba (the 'fast' extra; "
                                     "the 'dev' extra has it)"))
ALL = COMPILED + ["HS", "HSk", "SJ", "EB", "PMM", "GENQ"]
Z975 = 1.959963984540054               # qnorm(0.975)
NUMERIC = ["estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "tau2", "tau2_se",
           "i2", "h2", "q", "q_pvalue", "pi_lower", "pi_upper"]


def _two(vi2: float, extra: bool = False) -> pd.DataFrame:
    """Analysis 1: y = (3, 0), v = (1e-12, vi2) (the review's D3 reproducer for vi2 = 1e6);
    with ``extra``, two ordinary analyses around it."""
    rows = [(1, 3.0, 1e-12), (1, 0.0, vi2)]
    if extra:
        rows = [(0, 0.1, 0.1), (0, 0.3, 0.2), (0, 0.2, 0.05)] + rows + [(2, -0.2, 0.04),
                                                                        (2, 0.4, 0.09)]
    return pd.DataFrame(rows, columns=["analysis_id", "yi", "vi"])


# --- D3: one extreme analysis ----------------------------------------------------------------

@pytest.mark.parametrize("backend", [None, NUMBA, "numpy"])
@pytest.mark.parametrize("vi2", [1e6, 1e12])
@pytest.mark.parametrize("method", COMPILED)
def test_extreme_variance_ratio_gives_its_own_correct_row(method: str, vi2: float,
                                                          backend: str | None) -> None:
    """Ratios 1e18 and 1e24 (the compiled kernel raised SystemError/ZeroDivisionError).

    By hand, w = (1e12, 1/vi2): the pooled estimate 3 w1/(w1 + w2) = 3 and se 1/sqrt(w1 + w2)
    = 1e-6 to double precision; Q = w1 w2/(w1 + w2) * 9 = 9/vi2 < k - 1 = 1, so DL, HE
    (sum (y - mean)^2 - tr PV = 4.5 - vi2/2 < 0), PM (Q(0) < k - 1), ML and REML (metafor: 0)
    all give tau2 = 0, I2 = 0, H2 = 1 (EE: H2 = Q/(k-1)). tau2_se at tau2 = 0, with
    tr P = 2 w1 w2/(w1 + w2) = 2/vi2 and tr P^2 = (tr P)^2: DL sqrt(2)/tr P, REML
    sqrt(2/tr P^2), HE sqrt(2 (vi2/2)^2)/1 -- all vi2/sqrt(2); ML sqrt(2/sum w^2) =
    sqrt(2)*1e-12; PM sqrt(2 k^2/(k-1))/sum w = sqrt(8)*1e-12; EE NaN."""
    out = meta_analyses(_two(vi2, extra=True), method=method, backend=backend)
    assert list(out["analysis_id"]) == [0, 1, 2]
    row = out.iloc[1]
    assert row["reason"] == "" and bool(row["converged"])
    assert row["estimate"] == pytest.approx(3.0, rel=1e-14)
    assert row["se"] == pytest.approx(1e-6, rel=1e-12)
    assert row["tau2"] == 0.0
    assert row["q"] == pytest.approx(9.0 / vi2, rel=1e-12)
    assert row["i2"] == 0.0
    assert row["h2"] == pytest.approx(9.0 / vi2 if method == "EE" else 1.0, rel=1e-12)
    assert row["ci_lower"] == pytest.approx(3.0 - Z975 * 1e-6, rel=1e-14)
    assert row["pi_upper"] == pytest.approx(3.0 + Z975 * 1e-6, rel=1e-14)
    want_se = {"EE": math.nan, "DL": vi2 / math.sqrt(2), "HE": vi2 / math.sqrt(2),
               "REML": vi2 / math.sqrt(2), "ML": math.sqrt(2) * 1e-12,
               "PM": math.sqrt(8) * 1e-12}[method]
    if method == "EE":
        assert np.isnan(row["tau2_se"])
    else:
        assert row["tau2_se"] == pytest.approx(want_se, rel=1e-9)


@pytest.mark.parametrize("backend", [None, "numpy"])
@pytest.mark.parametrize("method", ALL)
def test_extreme_analysis_does_not_change_its_neighbours(method: str,
                                                         backend: str | None) -> None:
    frame = _two(1e12, extra=True)
    alone = meta_analyses(frame[frame["analysis_id"] != 1], method=method, backend=backend)
    together = meta_analyses(frame, method=method, backend=backend)
    assert len(together) == 3
    pd.testing.assert_frame_equal(together.iloc[[0, 2]].reset_index(drop=True), alone,
                                  rtol=1e-13)


@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("backend", [None, "numpy"])
@pytest.mark.parametrize("method", ALL)
def test_uncomputable_analysis_is_nan_with_a_reason(method: str, backend: str | None,
                                                    test: str) -> None:
    """vi = 5e-324 (the smallest double: 1/vi overflows) and effects of 1e200 (squares
    overflow): NaN fields, converged False, the documented reason; the call still succeeds."""
    frame = pd.DataFrame({"analysis_id": ["tiny", "tiny", "ok", "ok", "huge", "huge"],
                          "yi": [0.1, 0.2, 0.1, 0.3, 1e200, -1e200],
                          "vi": [5e-324, 1.0, 0.1, 0.2, 1.0, 1.0]})
    out = meta_analyses(frame, method=method, test=test, backend=backend).set_index("analysis_id")
    for key in ("tiny", "huge"):
        assert out.loc[key, "reason"] == REASONS["failed"]
        assert not out.loc[key, "converged"]
        assert out.loc[key, NUMERIC].isna().all()
    assert out.loc["ok", "reason"] == "" and out.loc["ok", "converged"]
    assert np.isfinite(out.loc["ok", ["estimate", "se", "tau2", "q"]].to_numpy(float)).all()


# --- D2: k = 1 with Hartung-Knapp ------------------------------------------------------------

@pytest.mark.parametrize("backend", [None, "numpy"])
@pytest.mark.parametrize("method", ALL)
def test_single_study_with_knha_is_a_z_test(method: str, backend: str | None) -> None:
    """metafor: "Setting argument test='z' since k=1"; se = sqrt(vi). By hand for y = 0.5,
    v = 0.1: se = sqrt(0.1), z = 0.5/sqrt(0.1), p = erfc(z/sqrt 2), CI = PI = 0.5 +- 1.95996 se
    (tau2 = 0); no t degrees of freedom, s2w = 1."""
    frame = pd.DataFrame({"analysis_id": ["one", "two", "two"], "yi": [0.5, 0.1, 0.3],
                          "vi": [0.1, 0.01, 0.02]})
    out = meta_analyses(frame, method=method, test="knha", backend=backend)
    one = out.iloc[0]
    se = math.sqrt(0.1)
    assert one["k"] == 1 and one["tau2"] == 0 and bool(one["converged"])
    assert one["se"] == pytest.approx(se, rel=1e-14)
    assert one["statistic"] == pytest.approx(0.5 / se, rel=1e-14)
    assert one["pvalue"] == pytest.approx(math.erfc(0.5 / se / math.sqrt(2)), rel=1e-12)
    for lo, hi in (("ci_lower", "ci_upper"), ("pi_lower", "pi_upper")):
        assert one[lo] == pytest.approx(0.5 - Z975 * se, rel=1e-12)
        assert one[hi] == pytest.approx(0.5 + Z975 * se, rel=1e-12)
    assert np.isnan(one["df"]) and one["s2w"] == 1.0
    assert one["reason"] == REASONS["k1_z"]
    two = out.iloc[1]
    assert two["df"] == 1.0 and two["reason"] == "" and two["se"] > 0


# --- D4: the output file is written all or nothing ------------------------------------------

def _studies(n: int = 40, bad_row: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(8)
    ks = rng.integers(2, 6, n)
    ids = np.repeat(np.arange(n), ks)
    frame = pd.DataFrame({"analysis_id": ids, "yi": rng.normal(0, 1, ids.size),
                          "vi": rng.uniform(0.01, 0.2, ids.size)})
    if bad_row is not None:
        frame.loc[bad_row, "vi"] = -1.0
    return frame


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_failed_run_leaves_the_existing_output_as_it_was(tmp_path: Path, suffix: str) -> None:
    frame = _studies(bad_row=120)                   # data row 121: a late chunk fails
    src = tmp_path / "late_bad.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / f"previous{suffix}"
    out.write_bytes(b"previous results\n")
    with pytest.raises(InputError, match="row 121, field 'vi'"):
        meta_analyses_file(src, out, rows_per_chunk=25)
    assert out.read_bytes() == b"previous results\n"
    assert _leftovers(tmp_path) == []
    _studies().to_csv(src, index=False)             # a good run replaces it
    n = meta_analyses_file(src, out, rows_per_chunk=25)
    got = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert n == len(got) == 40
    assert _leftovers(tmp_path) == []


def test_interrupted_run_leaves_the_output_as_it_was(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    _studies().to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"old")
    seen = []

    def progress(rows: int) -> None:
        seen.append(rows)
        if len(seen) == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        meta_analyses_file(src, out, rows_per_chunk=20, progress=progress)
    assert out.read_bytes() == b"old" and _leftovers(tmp_path) == []


def test_result_writer_commits_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("keep\n")
    with pytest.raises(RuntimeError), ResultWriter(out) as writer:
        writer.write(pd.DataFrame({"a": [1]}))
        raise RuntimeError("disk full")
    assert out.read_text() == "keep\n" and _leftovers(tmp_path) == []
    with ResultWriter(out) as writer:
        writer.write(pd.DataFrame({"a": [1, 2]}))
        assert out.read_text() == "keep\n"          # not replaced before the end
    assert list(pd.read_csv(out)["a"]) == [1, 2]


def test_output_equal_to_input_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    _studies().to_csv(src, index=False)
    before = src.read_bytes()
    for out in (src, tmp_path / "." / "data.csv"):
        with pytest.raises(InputError, match="is the input file"):
            meta_analyses_file(src, out, rows_per_chunk=50)
    assert src.read_bytes() == before


def test_cli_failures_keep_files(tmp_path: Path) -> None:
    bad = tmp_path / "late_bad.csv"
    _studies(bad_row=120).to_csv(bad, index=False)
    prev = tmp_path / "previous_results.csv"
    prev.write_text("old results\n")
    result = CliRunner().invoke(app, ["batch", str(bad), "--out", str(prev), "--chunk-rows",
                                      "50", "-q"])
    assert result.exit_code == 2, result.output
    assert "error: analysis" in result.output and "row 121, field 'vi'" in result.output
    assert prev.read_text() == "old results\n"
    data = tmp_path / "data.csv"
    _studies().to_csv(data, index=False)
    before = data.read_bytes()
    same = CliRunner().invoke(app, ["batch", str(data), "--out", str(data), "-q"])
    assert same.exit_code == 2 and "is the input file" in same.output
    assert data.read_bytes() == before and _leftovers(tmp_path) == []


# --- D10/D14/D15: the batch command never shows a traceback ---------------------------------

def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {"empty.csv": b"", "header_only.csv": b"analysis_id,yi,vi\n",
             "blank.csv": b"\n\n", "corrupt.parquet": b"analysis_id,yi,vi\n1,0.1,0.1\n",
             "latin1.csv": "analysis_id,yi,vi\n\xe9,0.1,0.1\n".encode("latin-1"),
             "dup_header.csv": b"analysis_id,yi,yi,vi\n1,0.1,0.5,0.2\n",
             "text.csv": b"analysis_id,yi,vi\n1,abc,0.2\n"}
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(content)
    parquet_as_csv = tmp_path / "parquet_as.csv"
    _studies(4).to_parquet(parquet_as_csv)
    paths["parquet_as.csv"] = parquet_as_csv
    (tmp_path / "folder").mkdir()
    paths["folder"] = tmp_path / "folder"
    return paths


@pytest.mark.parametrize("name", ["empty.csv", "header_only.csv", "blank.csv",
                                  "corrupt.parquet", "latin1.csv", "dup_header.csv", "text.csv",
                                  "parquet_as.csv", "folder", "missing.csv"])
def test_cli_unreadable_input_is_a_clean_error(tmp_path: Path, name: str) -> None:
    path = _bad_files(tmp_path).get(name, tmp_path / name)
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(app, ["batch", str(path), "--out", str(out), "-q"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.output.startswith("error: ") and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--chunk-rows", "0"], "--chunk-rows"), (["--chunk-rows", "-1"], "--chunk-rows"),
    (["--level", "95"], "'level'"), (["--method", "bogus"], "'method'"),
    (["--test", "t"], "'test'"), (["--by", "yi"], "'by' and 'yi'"),
    (["--vi", "variance"], "'variance'"), (["--out", "{tmp}/o.txt"], "unknown format"),
    (["--out", "{tmp}"], "folder"),
])
def test_cli_bad_arguments_are_clean_errors(tmp_path: Path, args: list[str],
                                            message: str) -> None:
    src = tmp_path / "data.csv"
    _studies(5).to_csv(src, index=False)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "o.csv")]
    result = CliRunner().invoke(app, ["batch", str(src), "-q", *args])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.output.startswith("error: ") and message in result.output
    assert not (tmp_path / "o.csv").exists()


def test_cli_out_into_a_missing_folder_creates_it(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    _studies(5).to_csv(src, index=False)
    out = tmp_path / "new" / "sub" / "fits.parquet"
    result = CliRunner().invoke(app, ["batch", str(src), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 5


# --- input that was accepted or raised a bare error (D7, D12, D15) --------------------------

@pytest.mark.parametrize("values, shown", [
    ([True, False], "True"), ([1 + 2j, 0.5], "(1+2j)"),
    (pd.to_datetime(["2020-01-01", "2020-01-02"]), "Timestamp"),
    (["0.1", "a"], "'a'"), ([0.1, b"0.2"], "b'0.2'")])
@pytest.mark.parametrize("column", ["yi", "vi"])
def test_non_numbers_are_rejected_by_analysis_row_and_column(values: object, shown: str,
                                                             column: str) -> None:
    frame = pd.DataFrame({"analysis_id": ["a", "b"], "yi": [0.1, 0.2], "vi": [0.1, 0.1]},
                         index=[10, 11])
    frame[column] = pd.Series(list(values) if not isinstance(values, pd.Index) else values,
                              index=frame.index)
    with pytest.raises(InputError, match=rf"analysis '.', row 1[01], field '{column}': not a "
                                         rf"real number: .*{re.escape(shown[:4])}"):
        meta_analyses(frame)


def test_numeric_text_and_nullable_columns_still_work() -> None:
    frame = pd.DataFrame({"analysis_id": [1, 1], "yi": pd.array([1, 2], dtype="Int64"),
                          "vi": np.array(["0.1", "0.2"], dtype=object)})
    assert meta_analyses(frame, method="DL")["k"].tolist() == [2]
    frame["yi"] = pd.array([1, None], dtype="Int64")
    with pytest.raises(InputError, match=r"analysis 1, row 1, field 'yi': must be a finite"):
        meta_analyses(frame)


def test_repeated_or_shared_columns_are_rejected() -> None:
    frame = pd.DataFrame([[1, 0.1, 0.5, 0.1]], columns=["analysis_id", "yi", "yi", "vi"])
    with pytest.raises(InputError, match="column 'yi' appears 2 times"):
        meta_analyses(frame)
    frame = pd.DataFrame({"analysis_id": [1], "yi": [0.1], "vi": [0.1]})
    with pytest.raises(InputError, match="'yi' and 'vi': both name column 'yi'"):
        meta_analyses(frame, vi="yi")


@pytest.mark.parametrize("level", [95, -0.5, 0, 1, "0.9", True, float("nan"), None])
def test_bad_levels_are_rejected_everywhere(level: object) -> None:
    frame = pd.DataFrame({"analysis_id": [1, 1], "yi": [0.1, 0.3], "vi": [0.1, 0.1]})
    with pytest.raises(InputError, match="field 'level'"):
        meta_analyses(frame, level=level)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="field 'level'"):
        mvb.fit_arrays(np.zeros((2, 3)), np.ones((2, 3)), level=level)  # type: ignore[arg-type]


def test_numpy_scalar_level_is_accepted() -> None:
    frame = pd.DataFrame({"analysis_id": [1, 1], "yi": [0.1, 0.3], "vi": [0.1, 0.1]})
    a = meta_analyses(frame, level=np.float32(0.9))
    b = meta_analyses(frame, level=float(np.float32(0.9)))
    pd.testing.assert_frame_equal(a, b)


def test_fit_arrays_rejects_non_numbers_and_bad_chunks() -> None:
    y = np.array([[0.1, "a"], [0.2, 0.3]], dtype=object)
    with pytest.raises(InputError, match=r"analysis 0, study 1, field 'y': not a real number: 'a'"):
        mvb.fit_arrays(y, np.ones((2, 2)))
    with pytest.raises(InputError, match="field 'v': not a real number"):
        mvb.fit_arrays(np.zeros((2, 2)), np.ones((2, 2)) + 1j)
    with pytest.raises(InputError, match="field 'chunk_size'"):
        mvb.fit_arrays(np.zeros((2, 2)), np.ones((2, 2)), chunk_size=0)
    with pytest.raises(InputError, match="field 'rows_per_chunk'"):
        list(mvb.read_chunks("x.csv", "analysis_id", ["analysis_id"], rows_per_chunk=0))


# --- property: no table in the review's range fails the call --------------------------------

@st.composite
def _ragged_tables(draw: st.DrawFn) -> pd.DataFrame:
    sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=8))
    n = sum(sizes)
    log_v = draw(st.lists(st.floats(-12, 12), min_size=n, max_size=n))
    y = draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, 1.0])),
                      min_size=n, max_size=n))
    keys = np.repeat(np.arange(len(sizes)), sizes)
    order = draw(st.permutations(range(n)))
    frame = pd.DataFrame({"analysis_id": keys, "yi": y, "vi": 10.0 ** np.asarray(log_v)})
    return frame.iloc[list(order)].reset_index(drop=True)     # rows interleaved


@settings(max_examples=60)
@given(frame=_ragged_tables(), method=st.sampled_from(ALL), test=st.sampled_from(["z", "knha"]),
       numpy=st.booleans())
def test_every_analysis_gets_a_row(frame: pd.DataFrame, method: str, test: str,
                                   numpy: bool) -> None:
    backend = "numpy" if numpy and method in COMPILED_METHODS else None
    out = meta_analyses(frame, method=method, test=test, backend=backend)
    assert list(out["analysis_id"]) == list(pd.unique(frame["analysis_id"]))
    assert (out["k"].to_numpy() == frame.groupby("analysis_id", sort=False).size()).all()
    assert set(out["reason"]) <= {"", *REASONS.values()}
    ordinary = out["reason"].isin(["", REASONS["k1_z"]])
    fields = ["estimate", "se", "tau2", "q", "i2", "h2", "pvalue", "ci_lower", "ci_upper"]
    assert np.isfinite(out.loc[ordinary, fields].to_numpy(float)).all()
    failed = out["reason"] == REASONS["failed"]
    assert not out.loc[failed, "converged"].any()
    assert out.loc[failed, fields].isna().all().all()
