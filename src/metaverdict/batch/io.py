"""Streaming input and output for the batch engine: CSV or Parquet files read in chunks of
whole analyses, results appended to Parquet or CSV, so memory stays bounded by the chunk size
whatever the file size.

Streaming needs the rows of each analysis to be contiguous in the file (as any file sorted or
written analysis by analysis is): a chunk ends at the last complete analysis and the rows of
the analysis it cut are carried into the next chunk. An analysis key that comes back after
other analyses is reported (:class:`~metaverdict.errors.InputError`), since streaming would
otherwise fit its parts separately.

Output is all or nothing: results go to a temporary file next to ``out`` (``.NAME.XXXX.part``)
that replaces ``out`` only once every analysis has been written, so a run that fails (bad
input, a full disk) or is interrupted leaves an existing ``out`` as it was. ``out`` may not be
the input file. Unreadable input (an empty or corrupt file, a Parquet file named ``.csv``, text
that is not UTF-8) is an :class:`~metaverdict.errors.InputError` naming the file.
"""
from __future__ import annotations

import csv
import os
import secrets
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaverdict._validation import choice
from metaverdict.batch._schema import (
    TESTS,
    check_chunk_size,
    check_level,
    label,
    require_columns,
)
from metaverdict.batch.engine import meta_analyses
from metaverdict.errors import InputError
from metaverdict.models.random_effects import METHODS

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def file_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from the file name (``.csv``, ``.parquet``, ``.pq``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"file {str(path)!r}: unknown format {suffix!r}; use .csv or .parquet")
    return FORMATS[suffix]


def read_chunks(path: str | Path, by: str, columns: list[str], rows_per_chunk: int = 1_000_000,
                progress: Callable[[int], None] | None = None,
                fields: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
    """Yield DataFrames of about ``rows_per_chunk`` rows, each holding whole analyses.

    ``progress(n)`` is called with the number of input rows consumed by each raw chunk. Row
    labels are the 1-based numbers of the data rows, so error messages point into the file.
    ``fields``: the argument that names each column, for messages (default: the columns).
    A CSV row with more fields than the header is an :class:`InputError` naming the row.
    """
    rows_per_chunk = check_chunk_size(rows_per_chunk, "rows_per_chunk")
    carry: pd.DataFrame | None = None
    checker = _ContiguityCheck(by)
    offset = 0
    named = list(zip(fields if fields is not None else columns, columns, strict=True))
    for raw in _raw_chunks(path, named, rows_per_chunk):
        if len(raw) == 0:
            continue
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
        raise InputError(f"analysis {label(key)!r}, row {row}: its rows are not contiguous in "
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


def _raw_chunks(path: str | Path, named: list[tuple[str, str]],
                rows: int) -> Iterator[pd.DataFrame]:
    """The ``(field, column)`` columns of the file in chunks of ``rows`` rows; read errors
    become InputErrors."""
    path = _input_path(path)
    fmt = file_format(path)
    try:
        yield from (_csv_chunks if fmt == "csv" else _parquet_chunks)(path, named, rows)
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(f"file {str(path)!r}: byte {exc.start}: not UTF-8 text ({exc.reason}); "
                         "save the file as UTF-8 (or is it a Parquet file named .csv?)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        # ValueError includes pyarrow's ArrowInvalid ("Parquet magic bytes not found", ...)
        what = "CSV" if fmt == "csv" else "Parquet"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"file {str(path)!r}: cannot be read as {what} ({detail})") from None


def _csv_chunks(path: Path, named: list[tuple[str, str]], rows: int) -> Iterator[pd.DataFrame]:
    """Chunks of a CSV file. Every column is parsed (``usecols`` would drop the extra fields
    of a row silently), then the needed ones are kept; pandas' warning that rows are longer
    than the header (which it truncates) is turned into the error naming the first such row."""
    header = _csv_header(path)
    if not header:
        raise InputError(f"file {str(path)!r} is empty (no header line); expected the columns "
                         f"{[col for _, col in named]}")
    require_columns(header, named, f"in {str(path)!r}")
    columns = [col for _, col in named]
    with pd.read_csv(path, chunksize=rows, index_col=False) as reader:
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                try:
                    chunk = next(reader)
                except StopIteration:
                    return
                except (pd.errors.ParserError, pd.errors.ParserWarning):
                    _raise_long_row(path, len(header))
                    raise
            yield chunk[columns]


def _raise_long_row(path: Path, n_columns: int) -> None:
    """Raise an :class:`InputError` for the first data row of the CSV file with more than
    ``n_columns`` fields (rows numbered from 1 as in :func:`read_chunks`), if there is one."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        row = 0
        for fields in reader:
            if not fields:                      # blank lines are not rows (as for pandas)
                continue
            row += 1
            if len(fields) > n_columns:
                raise InputError(f"file {str(path)!r}, row {row} (line {reader.line_num}): "
                                 f"{len(fields)} fields, but the header names {n_columns} "
                                 "columns; remove the extra fields (or quote a value that "
                                 "contains a comma)")


def _parquet_chunks(path: Path, named: list[tuple[str, str]],
                    rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq
    pf = pq.ParquetFile(path)
    require_columns(pf.schema_arrow.names, named, f"in {str(path)!r}")
    for batch in pf.iter_batches(batch_size=rows, columns=[col for _, col in named]):
        yield batch.to_pandas()


def _input_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"file {str(path)!r} does not exist")
    if path.is_dir():
        raise InputError(f"file {str(path)!r} is a folder, not a CSV or Parquet file")
    return path


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV file as written (not de-duplicated, unlike pandas')."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return next(csv.reader(fh), [])


def count_rows(path: str | Path) -> int | None:
    """Number of data rows (Parquet: from the metadata; CSV: by counting lines), or ``None``
    when the file cannot be read (the read itself then reports why)."""
    path = Path(path)
    try:
        if file_format(path) == "parquet":
            import pyarrow.parquet as pq
            n_rows: int = pq.ParquetFile(path).metadata.num_rows
            return n_rows
        with path.open("rb") as fh:
            lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
        return max(lines - 1, 0)
    except (InputError, ValueError, OSError):       # ValueError: pyarrow's ArrowInvalid
        return None


class ResultWriter:
    """Writes result chunks to a Parquet or CSV file (format from the file name), all or
    nothing.

    Chunks go to a temporary file in the folder of ``path``; :meth:`close` (or leaving the
    ``with`` block normally) renames it to ``path``, replacing any file there, and
    :meth:`abort` (or leaving the ``with`` block by an exception, including
    ``KeyboardInterrupt``) deletes it, so an existing ``path`` is never touched by a run that
    does not finish.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = file_format(self.path)
        if self.path.is_dir():
            raise InputError(f"output {str(self.path)!r} is a folder; give a file name")
        if not self.path.parent.is_dir():
            raise InputError(f"output {str(self.path)!r}: the folder {str(self.path.parent)!r} "
                             "does not exist")
        self.rows = 0
        self._writer: Any = None
        self._tmp = self.path.parent / f".{self.path.name}.{secrets.token_hex(4)}.part"
        try:
            self._tmp.open("xb").close()     # created now: an unwritable folder fails early
        except OSError as exc:
            raise InputError(f"output {str(self.path)!r}: cannot write in "
                             f"{str(self.path.parent)!r} ({exc.strerror or exc})") from None
        self._open = True

    def write(self, frame: pd.DataFrame) -> None:
        if not self._open:
            raise ValueError("write() on a closed ResultWriter")
        if self.format == "csv":
            frame.to_csv(self._tmp, mode="w" if self.rows == 0 else "a",
                         header=self.rows == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._tmp, table.schema)
            self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        """Finish the file and move it to ``path`` (replacing what was there)."""
        if not self._open:
            return
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._open = False

    def abort(self) -> None:
        """Discard what was written; ``path`` keeps its previous content (if any)."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:       # noqa: BLE001 - the file is deleted anyway
                pass
            self._writer = None
        self._tmp.unlink(missing_ok=True)
        self._open = False

    def __enter__(self) -> "ResultWriter":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def meta_analyses_file(path: str | Path, out: str | Path, by: str = "analysis_id",
                       yi: str = "yi", vi: str = "vi", *, rows_per_chunk: int = 1_000_000,
                       progress: Callable[[int], None] | None = None, **kwargs: Any) -> int:
    """Fit every analysis of a CSV/Parquet file chunk by chunk, writing the results to ``out``
    (CSV or Parquet; all or nothing: a failed or interrupted run leaves an existing ``out`` as
    it was). ``kwargs`` go to :func:`~metaverdict.batch.meta_analyses` (``method``, ``test``,
    ``level``, ``backend``...). Returns the number of analyses written.

    Raises
    ------
    InputError
        Bad arguments (checked before anything is read), ``out`` equal to ``path``, an
        unreadable or empty file, or bad data (naming the analysis, the data row, 1-based,
        and the column).
    """
    _check_arguments(by, yi, vi, rows_per_chunk, kwargs)
    src = _input_path(path)
    file_format(src)
    dest = Path(out)
    file_format(dest)
    if dest.exists() and (dest.resolve() == src.resolve() or os.path.samefile(dest, src)):
        raise InputError(f"output {str(dest)!r} is the input file; write the results to "
                         "another file")
    with ResultWriter(dest) as writer:
        for chunk in read_chunks(src, by, [by, yi, vi], rows_per_chunk, progress,
                                 fields=("by", "yi", "vi")):
            writer.write(meta_analyses(chunk, by=by, yi=yi, vi=vi, **kwargs))
        if writer.rows == 0:
            raise InputError(f"file {str(path)!r}: no studies to pool (no data rows)")
        return writer.rows


def _check_arguments(by: str, yi: str, vi: str, rows_per_chunk: Any,
                     kwargs: dict[str, Any]) -> None:
    """Arguments that do not depend on the data, checked before the file is opened."""
    check_chunk_size(rows_per_chunk, "rows_per_chunk")
    if len({by, yi, vi}) < 3:                         # raises, naming the two fields
        require_columns([by, yi, vi], (("by", by), ("yi", yi), ("vi", vi)))
    if "method" in kwargs:
        choice(kwargs["method"], METHODS, "method")
    if "test" in kwargs:
        choice(kwargs["test"], TESTS, "test")
    if "level" in kwargs:
        check_level(kwargs["level"])
