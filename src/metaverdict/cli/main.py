"""Top-level Typer application; sub-commands live in sibling modules."""
from __future__ import annotations

import typer

app = typer.Typer(help="metaverdict: meta-analysis, certainty and verdicts from trial evidence.",
                  no_args_is_help=True)


@app.callback()
def _main() -> None:
    """metaverdict command line."""
