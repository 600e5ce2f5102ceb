"""``metaverdict batch FILE``: fit every analysis of a CSV/Parquet file (one row per study) and
write one row per analysis, streaming chunks of whole analyses (Typer + rich).

The results file is written all or nothing (a temporary file renamed at the end): a run that
fails or is interrupted leaves an existing ``--out`` file as it was; a missing folder of
``--out`` is created, as by the other commands. Bad input or arguments
print ``error: ...`` and exit with status 2; an interrupt exits with status 130.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from metaverdict.cli.common import fail_on_input_error, output_path
from metaverdict.errors import InputError


@fail_on_input_error
def batch(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file, one row per study.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results file (.parquet or .csv).")
                   ] = Path("results.parquet"),
    by: Annotated[str, typer.Option(help="Column holding the analysis key.")] = "analysis_id",
    yi: Annotated[str, typer.Option(help="Column of effect sizes.")] = "yi",
    vi: Annotated[str, typer.Option(help="Column of sampling variances.")] = "vi",
    method: Annotated[str, typer.Option(
        help="tau² estimator (EE, DL, HE, SJ, PM, ML, REML, EB...).")] = "REML",
    test: Annotated[str, typer.Option(help="z or knha (Hartung-Knapp).")] = "z",
    level: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
    chunk_rows: Annotated[int, typer.Option(
        help="Rows read per chunk (bounds memory).")] = 1_000_000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Fit one meta-analysis per analysis key; rows of an analysis must be contiguous.

    Rows are numbered from 1 (the first data row) in error messages. The results have a
    ``reason`` column: empty for an ordinary fit, else why not (k = 1 with knha: z test; an
    analysis not computable in double precision: NaN fields).
    """
    from metaverdict.batch.io import count_rows, meta_analyses_file
    if chunk_rows < 1:
        raise InputError(f"option '--chunk-rows': must be a whole number >= 1, got {chunk_rows}")
    output_path(out, "--out")          # not a folder; a missing folder is created (as report)
    total = count_rows(file) if file.is_file() and not quiet else None
    try:
        with Progress(TextColumn("[bold]fitting[/bold]"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("rows"), TimeElapsedColumn(), console=Console(stderr=True),
                      disable=quiet) as bar:
            task = bar.add_task("rows", total=total)
            n = meta_analyses_file(file, out, by, yi, vi, rows_per_chunk=chunk_rows,
                                   progress=lambda m: bar.advance(task, m),
                                   method=method, test=test, level=level)
    except KeyboardInterrupt:
        typer.echo(f"error: interrupted; {str(out)!r} was not changed", err=True)
        raise typer.Exit(code=130) from None
    Console().print(f"wrote {n} analyses to {out}")
