"""Streaming input and output for the batch engine: CSV or Parquet files read in chunks of
whole analyses, results appended to Parquet or CSV, so memory stays bounded by the chunk size
whatever the file size.

Streaming needs the rows of each analysis to be contiguous in the file (as any file sorted or
written analysis by analysis is): a chunk ends at the last complete analysis and the rows of
the analysis it cut are carried into the next chunk. An analysis key that comes back after
other analyses is reported (:class:`~metaverdict.errors.InputError`), since streaming would
otherwise fit its parts separately.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaverdict.batch.engine import _label, meta_analyses
from metaverdict.errors import InputError

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def file_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from the file name (``.csv``, ``.parquet``, ``.pq``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"file {str(path)!r}: unknown format {suffix!r}; use .csv or .parquet")
    return FORMATS[suffix]


def read_chunks(path: str | Path, by: str, columns: list[str], rows_per_chunk: int = 1_000_000,
                progress: Callable[[int], None] | None = None) -> Iterator[pd.DataFrame]:
    """Yield DataFrames of about ``rows_per_chunk`` rows, each holding whole analyses.

    ``progress(n)`` is called with the number of input rows consumed by each raw chunk. Row
    labels are the 1-based line numbers of the data rows, so error messages point into the file.
    """
    carry: pd.DataFrame | None = None
    checker = _ContiguityCheck(by)
    offset = 0
    for raw in _raw_chunks(path, columns, rows_per_chunk):
        raw.index = pd.RangeIndex(offset + 1, offset + 1 + len(raw))
        offset += len(raw)
        if progress is not None:
            progress(len(raw))
        if by not in raw.columns:
            raise InputError(f"field 'by': no column {by!r} in {str(path)!r}")
        chunk = raw if carry is None else pd.concat([carry, raw])
        keys = chunk[by].to_numpy()
        last = keys[-1]
        cut = len(keys)
        while cut > 0 and keys[cut - 1] == last:
            cut -= 1
        if cut == 0:                       # one analysis spans the whole chunk: keep reading
            carry = chunk
            continue
        done, carry = chunk.iloc[:cut], chunk.iloc[cut:]
        checker(done)
        yield done
    if carry is not None and len(carry):
        checker(carry)
        yield carry


class _ContiguityCheck:
    """Raises when an analysis key seen in an earlier chunk appears again."""

    def __init__(self, by: str) -> None:
        self.by = by
        self.last: Any = None
        self.seen: set[Any] | None = None          # only kept once keys stop increasing

    def __call__(self, chunk: pd.DataFrame) -> None:
        keys = chunk[self.by]
        uniq = pd.unique(keys)
        increasing = keys.is_monotonic_increasing and (
            self.last is None or _lt(self.last, uniq[0]))
        if self.seen is None and increasing:
            self.last = uniq[-1]
            return
        if self.seen is None:
            self.seen = set()
            if self.last is not None:
                # keys so far were increasing: anything <= last was seen
                bad = [u for u in uniq if _le(u, self.last)]
                if bad:
                    self._fail(chunk, bad[0])
        again = [u for u in uniq if u in self.seen]
        if again:
            self._fail(chunk, again[0])
        self.seen.update(uniq.tolist())

    def _fail(self, chunk: pd.DataFrame, key: Any) -> None:
        row = chunk.index[np.flatnonzero((chunk[self.by] == key).to_numpy())[0]]
        raise InputError(f"analysis {_label(key)!r}, row {row}: its rows are not contiguous in "
                         "the file (the analysis appears again after others); sort the file by "
                         f"{self.by!r} to stream it")


def _lt(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        return False


def _le(a: Any, b: Any) -> bool:
    try:
        return bool(a <= b)
    except TypeError:
        return True


def _raw_chunks(path: str | Path, columns: list[str], rows: int) -> Iterator[pd.DataFrame]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"file {str(path)!r} does not exist")
    if file_format(path) == "csv":
        header = pd.read_csv(path, nrows=0).columns
        _check_columns(path, header, columns)
        yield from pd.read_csv(path, usecols=columns, chunksize=rows)
        return
    import pyarrow.parquet as pq
    pf = pq.ParquetFile(path)
    _check_columns(path, pf.schema_arrow.names, columns)
    for batch in pf.iter_batches(batch_size=rows, columns=columns):
        yield batch.to_pandas()


def _check_columns(path: Path, present: Any, needed: list[str]) -> None:
    missing = [c for c in needed if c not in list(present)]
    if missing:
        raise InputError(f"file {str(path)!r}: no column {missing[0]!r} "
                         f"(columns: {list(present)})")


def count_rows(path: str | Path) -> int | None:
    """Number of data rows (Parquet: from the metadata; CSV: by counting lines)."""
    path = Path(path)
    if file_format(path) == "parquet":
        import pyarrow.parquet as pq
        n_rows: int = pq.ParquetFile(path).metadata.num_rows
        return n_rows
    with path.open("rb") as fh:
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    return max(lines - 1, 0)


class ResultWriter:
    """Appends result chunks to a Parquet or CSV file (format from the file name)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = file_format(self.path)
        self._writer: Any = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if self.format == "csv":
            frame.to_csv(self.path, mode="w" if self.rows == 0 else "a",
                         header=self.rows == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.path, table.schema)
            self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "ResultWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def meta_analyses_file(path: str | Path, out: str | Path, by: str = "analysis_id",
                       yi: str = "yi", vi: str = "vi", *, rows_per_chunk: int = 1_000_000,
                       progress: Callable[[int], None] | None = None, **kwargs: Any) -> int:
    """Fit every analysis of a CSV/Parquet file chunk by chunk, appending the results to ``out``
    (CSV or Parquet). ``kwargs`` go to :func:`~metaverdict.batch.meta_analyses` (``method``,
    ``test``, ``level``, ``backend``...). Returns the number of analyses written."""
    with ResultWriter(out) as writer:
        for chunk in read_chunks(path, by, [by, yi, vi], rows_per_chunk, progress):
            writer.write(meta_analyses(chunk, by=by, yi=yi, vi=vi, **kwargs))
        if writer.rows == 0:
            raise InputError(f"file {str(path)!r}: no studies to pool (no data rows)")
        return writer.rows
