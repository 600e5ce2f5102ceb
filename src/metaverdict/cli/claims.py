"""``metaverdict claims ...``: check claims stated in words against the evidence store."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from metaverdict.cli.common import fail_on_input_error, load_claims_option, load_mcid_option

claims_app = typer.Typer(help="Check claims (CSV/JSON) against the stored evidence.",
                         no_args_is_help=True)
DbOption = Annotated[str | None, typer.Option(
    "--db", help="Database URL (default: METAVERDICT_DATABASE_URL or the user data SQLite file).")]


@claims_app.callback()
def _claims() -> None:
    """Check claims stated in words against the evidence store."""


_STYLE = {"supported": "green", "partly supported": "yellow", "not supported": "red",
          "no evidence": "magenta"}


@claims_app.command("check")
@fail_on_input_error
def check_command(
    file: Annotated[Path | None, typer.Argument(
        help="Claims file (.csv or .json). Omit to check the bundled article's claims.")] = None,
    mcid: Annotated[Path | None, typer.Option(
        help="CSV of MCID overrides (columns as grade/data/mcid.csv).")] = None,
    db: DbOption = None,
) -> None:
    """Check each claim: supported, partly supported, not supported or no evidence."""
    from metaverdict.evidence import open_store
    from metaverdict.synthesis import read_evidence
    from metaverdict.synthesis.claim_check import article_claims, check_claims
    claims = load_claims_option(file, "FILE") if file is not None else article_claims()
    table_m = load_mcid_option(mcid) if mcid else None
    with open_store(db) as store:
        evidence = read_evidence(store)
    checks = check_claims(claims, evidence, mcid_table=table_m)
    table = Table(title=f"{len(checks)} claim(s)", show_lines=True)
    for col in ("id", "claim", "status", "holds", "does not hold / not assessable"):
        table.add_column(col, overflow="fold")
    for c in checks:
        table.add_row(escape(c.claim.id), escape(c.claim.text or c.claim.direction),
                      f"[{_STYLE[c.status]}]{c.status}[/]",
                      escape("\n".join(c.holds) or "-"),
                      escape("\n".join([f"no: {f}" for f in c.fails]
                                        + [f"?: {u}" for u in c.not_assessable]
                                        + [f"note: {r}" for r in c.reasons]) or "-"))
    Console().print(table)
