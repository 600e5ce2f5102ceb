"""``metaverdict answer TREATMENT [--json]``: the bottom line, one answer per question.

The same :class:`~metaverdict.synthesis.Answer` objects the report renders; ``--json`` prints
them as a list of objects (keys of :meth:`Answer.to_dict`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from metaverdict.cli.common import fail_on_input_error, load_mcid_option

_STYLE = {"benefit": "green", "harm": "red", "none": "cyan", "unknown": "yellow"}


@fail_on_input_error
def answer(
    treatment: Annotated[str, typer.Argument(
        help='Treatment or alias, e.g. "dry needling", "PRP", "CSI".')],
    json_: Annotated[bool, typer.Option("--json", help="Print the answers as JSON.")] = False,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (default: METAVERDICT_DATABASE_URL or the user data "
                     "SQLite file, seeded with the bundled evidence).")] = None,
    mcid: Annotated[Path | None, typer.Option(
        "--mcid", help="CSV of MCID overrides (columns as grade/data/mcid.csv).")] = None,
) -> None:
    """The bottom line per clinical question: GRADE statement, certainty, verdict, effect and
    the source chosen, with the other sources as consistent or conflicting."""
    from metaverdict.evidence import open_store
    from metaverdict.synthesis import read_evidence, synthesize
    table_m = load_mcid_option(mcid) if mcid else None
    with open_store(db) as store:
        evidence = read_evidence(store)
    synth = synthesize(evidence, treatment, mcid_table=table_m)
    if json_:
        typer.echo(json.dumps([a.to_dict() for a in synth.answers], indent=2,
                              ensure_ascii=False))
        return
    table = Table(title=f"{synth.treatment}: {len(synth.answers)} questions", show_lines=True)
    for col in ("question", "bottom line", "certainty", "effect", "source"):
        table.add_column(col, overflow="fold")
    for a in synth.answers:
        q = a.question
        table.add_row(escape(f"{q.outcome} vs {q.comparator_class}, {q.term}\n"
                             f"{q.condition or 'all conditions'}"),
                      f"[{_STYLE.get(a.direction, 'white')}]{escape(a.headline)}[/]\n"
                      f"{escape(a.verdict)}",
                      escape(a.certainty or "-"),
                      escape((a.chosen.effect if a.chosen else "-")
                             + (f"\n{a.absolute_effect.text}" if a.absolute_effect else "")),
                      escape(a.source_id or "-"))
    Console().print(table)
    Console().print(escape(f"Overlap between reviews: {synth.overlap.status}"), soft_wrap=True)
