"""``metaverdict answer TREATMENT [--json]``: the bottom line, one answer per question.

The same :class:`~metaverdict.synthesis.Answer` objects the report renders; ``--json`` prints
them as a list of objects (keys of :meth:`Answer.to_dict`). Simulated sources are left out
unless ``--include-simulated`` is given; then every simulated source is named ``key
(SIMULATED)`` in the table and its answers carry ``"simulated": true`` in the JSON.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from metaverdict.cli.common import (
    PriorTailOption,
    fail_on_input_error,
    load_mcid_option,
    sceptical_prior,
)

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
    include_simulated: Annotated[bool, typer.Option(
        "--include-simulated", help="Also use sources computed from simulated data (left "
                                    "out by default); they are labelled SIMULATED.")] = False,
    prior_tail: PriorTailOption = 0.05,
) -> None:
    """The bottom line per clinical question: GRADE statement, certainty, verdict, effect and
    the source chosen, with the other sources as consistent or conflicting."""
    from metaverdict.evidence import open_store
    from metaverdict.synthesis import read_evidence, synthesize
    table_m = load_mcid_option(mcid) if mcid else None
    prior = sceptical_prior(prior_tail)
    with open_store(db) as store:
        evidence = read_evidence(store, include_simulated=include_simulated)
    synth = synthesize(evidence, treatment, mcid_table=table_m, prior=prior)
    if json_:
        typer.echo(json.dumps([a.to_dict() for a in synth.answers], indent=2,
                              ensure_ascii=False))
        return
    table = Table(title=f"{synth.treatment}: {len(synth.answers)} questions", show_lines=True)
    for col in ("question", "bottom line", "certainty", "effect", "P(beyond MCID)"):
        table.add_column(col, overflow="fold")
    table.add_column("source", overflow="fold", min_width=13)   # "key (SIMULATED)" legible
    for a in synth.answers:
        q = a.question
        table.add_row(escape(f"{q.outcome} vs {q.comparator_class}, {q.term}\n"
                             f"{q.condition or 'all conditions'}"),
                      f"[{_STYLE.get(a.direction, 'white')}]{escape(a.headline)}[/]\n"
                      f"{escape(a.verdict)}",
                      escape(a.certainty or "-"),
                      escape((a.chosen.effect if a.chosen else "-")
                             + (f"\n{a.absolute_effect.text}" if a.absolute_effect else "")),
                      escape(a.probability.short().replace(" \u00b7 ", "\n")
                             if a.probability else "-"),
                      escape(a.source_name or "-"))
    Console().print(table)
    Console().print(escape(f"Overlap between reviews: {synth.overlap.status}"), soft_wrap=True)
    Console().print(escape(f"P(beyond MCID): {prior.describe()}; MD and SMD answers with a CI "
                           "and an MCID only, computed from the effect as reported (it does "
                           "not replace the GRADE certainty)"), soft_wrap=True)
    simulated = [k for k in evidence.simulated_sources
                 if any(k in a.simulated_sources or any(o.simulated and o.id == k
                                                        for o in a.other_sources)
                        for a in synth.answers)]
    if simulated:
        Console().print(escape(f"SIMULATED sources included (--include-simulated): "
                               f"{', '.join(simulated)}; their numbers come from simulated "
                               "data, not from a real trial"), style="bold red", soft_wrap=True)
