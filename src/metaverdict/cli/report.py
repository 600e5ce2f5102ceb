"""``metaverdict report TREATMENT --out report.html``: the evidence report (HTML or Markdown).

Progress goes to stderr (rich), so stdout stays free for the path of the file written.
Simulated sources are left out unless ``--include-simulated`` is given; the report's header
then names them and every place that names such a source says SIMULATED.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from metaverdict.cli.common import (
    PriorTailOption,
    fail_on_input_error,
    load_claims_option,
    load_mcid_option,
    output_path,
    sceptical_prior,
)
from metaverdict.errors import InputError


@fail_on_input_error
def report(
    treatment: Annotated[str | None, typer.Argument(
        help='Treatment or alias, e.g. "dry needling", "PRP", "corticosteroid injection".')] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file.")] = Path("report.html"),
    format: Annotated[str | None, typer.Option(  # noqa: A002 (the option's public name)
        "--format", "-f",
        help="html or md (default: from the suffix of --out, else html).")] = None,
    all_: Annotated[bool, typer.Option(
        "--all", help="Dry needling, PRP and corticosteroid injection in one report.")] = False,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (default: METAVERDICT_DATABASE_URL or the user data "
                     "SQLite file, seeded with the bundled evidence).")] = None,
    mcid: Annotated[Path | None, typer.Option(
        "--mcid", help="CSV of MCID overrides (columns as grade/data/mcid.csv).")] = None,
    claims: Annotated[Path | None, typer.Option(
        "--claims", help="Claims file (.csv/.json) to check instead of the bundled "
                         "article's claims.")] = None,
    include_simulated: Annotated[bool, typer.Option(
        "--include-simulated", help="Also use sources computed from simulated data (left "
                                    "out by default); the report then labels them SIMULATED "
                                    "wherever they appear.")] = False,
    prior_tail: PriorTailOption = 0.05,
) -> None:
    """Write the evidence report: summary of findings, verdicts per condition, forest and
    time-course plots, claim check, gaps, opinions and references with DOIs."""
    from metaverdict.evidence import open_store
    from metaverdict.report.build import build_report
    from metaverdict.report.document import ALL_TREATMENTS
    from metaverdict.report.render import FORMATS, write_report
    from metaverdict.synthesis import read_evidence
    err = Console(stderr=True)
    if format is not None and format.lower() not in FORMATS:
        raise InputError(f"option '--format': must be one of {', '.join(FORMATS)}, got {format!r}")
    if all_ == (treatment is not None):
        raise InputError("give one TREATMENT (e.g. \"dry needling\") or --all, not "
                         + ("both" if all_ else "neither"))
    _check_out(out, format)
    table = load_mcid_option(mcid) if mcid else None
    prior = sceptical_prior(prior_tail)
    stated = load_claims_option(claims, "--claims") if claims else None
    names = list(ALL_TREATMENTS) if all_ else [str(treatment)]
    with err.status("opening the evidence store") as status:
        with open_store(db) as store:
            evidence = read_evidence(store, include_simulated=include_simulated)
        doc = build_report(evidence, names, mcid_table=table, claims=stated, prior=prior,
                           progress=lambda msg: status.update(msg))
        status.update(f"writing {out}")
        fmt = format.lower() if format else None
        written = write_report(doc, out, fmt)                       # type: ignore[arg-type]
    questions = sum(len(p.answers) for p in doc.parts)
    err.print(f"[green]wrote[/] {written[0]}: {len(doc.parts)} treatment(s), {questions} "
              f"questions answered, {len(doc.claims)} claim checks, "
              f"{len(doc.references)} references"
              + (f", {len(written) - 1} figure files in {written[1].parent}" if len(written) > 1
                 else "")
              + (f"; SIMULATED sources included: {', '.join(evidence.simulated_sources)}"
                 if evidence.simulated_sources else ""), highlight=False, soft_wrap=True)
    typer.echo(str(written[0]))


HTML_SUFFIXES = (".html", ".htm")
MD_SUFFIXES = (".md", ".markdown")


def _check_out(out: Path, format: str | None) -> None:  # noqa: A002 (the option's name)
    """``--out`` ends in .html/.md (or has no suffix, or --format says what to write) and does
    not contradict --format."""
    suffix = out.suffix.lower()
    fmt = format.lower() if format else None
    if fmt is None and suffix and suffix not in HTML_SUFFIXES + MD_SUFFIXES:
        raise InputError(f"option '--out': the report is HTML (.html) or Markdown (.md), got "
                         f"{out.name!r} (give --format to write another name)")
    if (fmt == "md" and suffix in HTML_SUFFIXES) or (fmt == "html" and suffix in MD_SUFFIXES):
        raise InputError(f"option '--out': {out.name!r} does not match --format {format}")
    output_path(out, "--out")
