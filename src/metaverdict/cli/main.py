"""Top-level Typer application; sub-commands live in sibling modules."""
from __future__ import annotations

import typer

from metaverdict.cli.answer import answer
from metaverdict.cli.batch import batch
from metaverdict.cli.claims import claims_app
from metaverdict.cli.evidence import evidence_app
from metaverdict.cli.meta import meta
from metaverdict.cli.report import report

app = typer.Typer(help="metaverdict: meta-analysis, certainty and verdicts from trial evidence.",
                  no_args_is_help=True, add_completion=False)
app.command(help="Effect sizes and a meta-analysis from a CSV file (metafor-style summary).")(meta)
app.add_typer(evidence_app, name="evidence", help="The evidence base: import, export, list.")
app.add_typer(claims_app, name="claims", help="Check stated claims against the stored evidence.")
app.command(help="The evidence report for a treatment (HTML or Markdown).")(report)
app.command(help="The bottom line for a treatment: one answer per clinical question.")(answer)
app.command(help="Many meta-analyses from one CSV/Parquet file (one row per analysis out).")(batch)
