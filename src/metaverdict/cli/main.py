"""Top-level Typer application; sub-commands live in sibling modules."""
from __future__ import annotations

import typer

from metaverdict.cli.claims import claims_app
from metaverdict.cli.evidence import evidence_app
from metaverdict.cli.meta import meta

app = typer.Typer(help="metaverdict: meta-analysis, certainty and verdicts from trial evidence.",
                  no_args_is_help=True, add_completion=False)
app.command(help="Effect sizes and a meta-analysis from a CSV file (metafor-style summary).")(meta)
app.add_typer(evidence_app, name="evidence", help="The evidence base: import, export, list.")
app.add_typer(claims_app, name="claims", help="Check stated claims against the stored evidence.")
