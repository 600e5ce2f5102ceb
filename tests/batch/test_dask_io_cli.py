"""Dask partitions on a LocalCluster, streaming file I/O and the ``batch`` command."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from metaverdict.batch import meta_analyses, meta_analyses_file, read_chunks
from metaverdict.cli import app
from metaverdict.errors import InputError


def _frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ks = rng.integers(1, 9, n)
    ids = np.repeat(np.arange(n), ks)
    v = rng.uniform(0.01, 0.2, len(ids))
    return pd.DataFrame({"analysis_id": ids, "yi": rng.normal(0.2, np.sqrt(v + 0.05)), "vi": v})


def _compare(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a.sort_values("analysis_id").reset_index(drop=True)
    b = b.sort_values("analysis_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, rtol=1e-10, check_dtype=False)


def test_dask_local_cluster_matches_pandas() -> None:
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    frame = _frame()
    expected = meta_analyses(frame, method="REML", test="knha")
    shuffled = dd.from_pandas(frame.sample(frac=1, random_state=2), npartitions=3)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = meta_analyses(shuffled, method="REML", test="knha", scheduler=client)
    assert len(got) == len(expected)
    _compare(expected, got)


def test_dask_threads_scheduler() -> None:
    dd = pytest.importorskip("dask.dataframe")
    frame = _frame(seed=1)
    got = meta_analyses(dd.from_pandas(frame, npartitions=4), method="DL", scheduler="threads")
    _compare(meta_analyses(frame, method="DL"), got)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_streaming_file_in_small_chunks_matches_in_memory(tmp_path, suffix: str) -> None:
    frame = _frame(seed=3)
    src = tmp_path / f"in{suffix}"
    frame.to_csv(src, index=False) if suffix == ".csv" else frame.to_parquet(src, index=False)
    chunks = list(read_chunks(src, "analysis_id", ["analysis_id", "yi", "vi"], rows_per_chunk=37))
    assert len(chunks) > 5
    seen = [set(c["analysis_id"]) for c in chunks]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1:])   # whole analyses
    out = tmp_path / "out.parquet"
    n = meta_analyses_file(src, out, rows_per_chunk=37, method="REML")
    assert n == frame["analysis_id"].nunique()
    _compare(meta_analyses(frame, method="REML"), pd.read_parquet(out))


def test_streaming_rejects_non_contiguous_analyses(tmp_path) -> None:
    frame = pd.DataFrame({"analysis_id": [1, 1, 2, 2, 1], "yi": [0.1] * 5, "vi": [0.1] * 5})
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    with pytest.raises(InputError, match="analysis 1, row 5: its rows are not contiguous"):
        meta_analyses_file(src, tmp_path / "out.csv", rows_per_chunk=2)


@pytest.mark.parametrize("fmt_in, fmt_out", [(".csv", ".parquet"), (".parquet", ".csv")])
def test_cli_batch_writes_results(tmp_path, fmt_in: str, fmt_out: str) -> None:
    frame = _frame(seed=4).rename(columns={"analysis_id": "review", "yi": "g", "vi": "var"})
    src = tmp_path / f"studies{fmt_in}"
    frame.to_csv(src, index=False) if fmt_in == ".csv" else frame.to_parquet(src, index=False)
    out = tmp_path / f"results{fmt_out}"
    result = CliRunner().invoke(app, ["batch", str(src), "--by", "review", "--yi", "g",
                                      "--vi", "var", "--method", "DL", "--test", "knha",
                                      "--out", str(out), "--chunk-rows", "50"])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out) if fmt_out == ".csv" else pd.read_parquet(out)
    want = meta_analyses(frame, by="review", yi="g", vi="var", method="DL", test="knha")
    assert len(got) == len(want) and "s2w" in got.columns
    assert np.allclose(got["estimate"], want["estimate"], rtol=1e-10)


def test_cli_reports_bad_input(tmp_path) -> None:
    src = tmp_path / "bad.csv"
    pd.DataFrame({"analysis_id": [1, 1], "yi": [0.1, 0.2],
                  "vi": [0.1, -1.0]}).to_csv(src, index=False)
    result = CliRunner().invoke(app, ["batch", str(src), "--out", str(tmp_path / "o.csv"),
                                      "--quiet"])
    assert result.exit_code == 2
    assert "analysis 1, row 2, field 'vi'" in result.output
    missing = CliRunner().invoke(app, ["batch", str(src), "--vi", "variance", "--quiet"])
    assert missing.exit_code == 2 and "variance" in missing.output


@pytest.mark.parametrize("lines, row, line", [
    (["1,0.1,0.1", "1,0.2,0.3,9", "2,0.3,0.2"], 2, 3),          # one long row
    (["1,0.1,0.1,7", "1,0.2,0.3,9", "2,0.3,0.2,1"], 1, 2),      # every row long
    (["1,0.1,0.1", "", "2,0.3,0.2", "2,0.1,0.2,,"], 3, 5),       # after a blank line
])
def test_csv_row_with_more_fields_than_the_header_is_named(tmp_path, lines: list[str],
                                                           row: int, line: int) -> None:
    """pandas drops the extra fields of such a row (``usecols``) or takes the first column
    as the index (every row long): both would fit other numbers than the file holds."""
    src = tmp_path / "long.csv"
    src.write_text("\n".join(["analysis_id,yi,vi", *lines]) + "\n")
    with pytest.raises(InputError, match=rf"row {row} \(line {line}\): \d fields, but the "
                                         r"header names 3 columns"):
        meta_analyses_file(src, tmp_path / "out.csv", rows_per_chunk=2)
    assert not (tmp_path / "out.csv").exists()


def test_csv_rows_with_fewer_fields_are_missing_values(tmp_path) -> None:
    src = tmp_path / "short.csv"
    src.write_text("analysis_id,yi,vi\n1,0.1,0.1\n1,0.2\n")
    with pytest.raises(InputError, match=r"analysis 1, row 2, field 'vi': must be a finite"):
        meta_analyses_file(src, tmp_path / "out.csv")
