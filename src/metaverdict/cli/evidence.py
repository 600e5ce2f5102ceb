"""``metaverdict evidence ...``: import, export and list the evidence store (Typer + rich)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from metaverdict.cli.common import fail_on_input_error, input_file, output_path

evidence_app = typer.Typer(help="The evidence store: import, export and list results.",
                           no_args_is_help=True)
DbOption = Annotated[str | None, typer.Option(
    "--db", help="Database URL (default: METAVERDICT_DATABASE_URL or the user data SQLite file).")]


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.3g}"


@evidence_app.command("import")
@fail_on_input_error
def import_command(file: Annotated[Path, typer.Argument(help="CSV in the studies.csv layout.")],
                   db: DbOption = None) -> None:
    """Import a CSV of results (all rows or none; exit status 2 on bad input)."""
    from metaverdict.evidence import open_store
    from metaverdict.evidence.io import import_csv
    input_file(file, "FILE")
    with open_store(db) as store:
        n = import_csv(store, file)
    Console().print(f"imported {n} result(s) from {file}", markup=False, highlight=False)


@evidence_app.command("export")
@fail_on_input_error
def export_command(file: Annotated[Path, typer.Argument(help="CSV file to write.")],
                   db: DbOption = None) -> None:
    """Export every result to CSV (re-importable)."""
    from metaverdict.evidence import open_store
    from metaverdict.evidence.io import export_csv
    output_path(file, "FILE")
    with open_store(db) as store:
        n = export_csv(store, file)
    Console().print(f"exported {n} result(s) to {file}", markup=False, highlight=False)


@evidence_app.command("list")
@fail_on_input_error
def list_command(
    treatment: Annotated[str | None, typer.Option(help="Treatment term, family or alias.")] = None,
    condition: Annotated[str | None, typer.Option(help="Condition term.")] = None,
    outcome: Annotated[str | None, typer.Option(help="Outcome domain (pain, function...).")] = None,
    kind: Annotated[str | None, typer.Option(help="primary or review.")] = None,
    db: DbOption = None,
) -> None:
    """List results as a table (a simulated source is shown as ``key (SIMULATED)``)."""
    from metaverdict.evidence import open_store
    with open_store(db) as store:
        rows = store.results(treatment, condition, outcome, kind)
    table = Table(title=f"{len(rows)} result(s)")
    for col in ("source", "treatment", "comparator", "condition", "outcome", "time",
                "measure", "harmonised [95% CI]", "better when"):
        table.add_column(col)
    for r in rows:
        ci = (f" [{_num(r.harmonised_ci_lower)}, {_num(r.harmonised_ci_upper)}]"
              if r.harmonised_ci_lower is not None or r.harmonised_ci_upper is not None else "")
        est = (_num(r.harmonised_estimate) + ci) if r.harmonised_estimate is not None else (
            r.direction_reported or "")
        table.add_row(r.source_id + (" (SIMULATED)" if r.simulated else ""), r.treatment,
                      f"{r.comparator_kind}: {r.comparator_name}",
                      r.condition, f"{r.outcome_domain} ({r.outcome_instrument})",
                      f"{r.timepoint_raw} [{r.timepoint_window}]",
                      r.harmonised_measure or r.effect_measure, est,
                      r.favours_treatment_when or "")
    Console().print(table)
