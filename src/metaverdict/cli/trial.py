"""``metaverdict trial ...``: one randomized trial's design (``power``), its randomization
list (``randomize``), the analysis of its participant data (``analyze``) and the import of
that analysis into the evidence store (``import``).

The commands call :mod:`metaverdict.trials` and :mod:`metaverdict.evidence.trial_rows`
(imported inside the commands, so that ``metaverdict --help`` stays light). Bad input prints
``error: ...`` (naming the field) on one line and exits with status 2.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from metaverdict.cli.common import fail_on_input_error, input_file, output_path
from metaverdict.errors import InputError

app = typer.Typer(help="One randomized trial: sample size / power, randomization lists, "
                       "analysis (MMRM) and import of its results into the evidence store.",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def _trial() -> None:
    """One randomized trial: sample size / power, randomization lists, analysis (MMRM) and
    import of its results into the evidence store."""


@app.command("randomize")
@fail_on_input_error
def randomize(
    n: Annotated[int, typer.Option(
        "--n", help="Allocations per stratum (the whole list when not stratified).")],
    arms: Annotated[str, typer.Option(
        help='Arm names separated by commas, e.g. "dry needling,sham".')],
    seed: Annotated[int, typer.Option(help="Seed (whole number >= 0): same seed, same list.")],
    ratio: Annotated[str | None, typer.Option(
        help='Allocation ratio, one part per arm, e.g. "2:1" (default 1:1...).')] = None,
    block_sizes: Annotated[str | None, typer.Option(
        help='Block sizes drawn at random per block, e.g. "4,6" (each a multiple of the '
             'ratio parts summed; default 2x and 3x that sum).')] = None,
    strata: Annotated[str | None, typer.Option(
        help='Stratum factors, e.g. "distance=half,full;sex=F,M" (one sequence per '
             'combination).')] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the allocation list to this CSV file.")] = None,
    rows: Annotated[int, typer.Option(help="Allocations shown on screen.")] = 10,
) -> None:
    """A seeded permuted-block randomization list (stratified if --strata is given)."""
    from metaverdict.trials.randomization import randomization_list
    if rows < 0:
        raise InputError(f"option '--rows': must be >= 0, got {rows}")
    arm_names = [a.strip() for a in arms.split(",")] if arms.strip() else []
    if out is not None:
        output_path(out, "--out")
    lst = randomization_list(n, arm_names, seed=seed, ratio=ratio, block_sizes=block_sizes,
                             strata=strata)
    typer.echo(lst.summary(rows=rows))
    if out is not None:
        tmp = out.with_name(f".{out.name}.tmp")
        try:
            lst.to_csv(tmp)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        typer.echo(f"wrote {len(lst.allocations)} allocations to {out}")


@app.command("power")
@fail_on_input_error
def power_command(
    delta: Annotated[float, typer.Option(help="Difference in means to detect (outcome units).")],
    sd: Annotated[float, typer.Option(help="SD of the outcome (outcome units).")],
    n: Annotated[int | None, typer.Option(
        "--n", help="Enrolled in arm 1: compute the power (else solve for n).")] = None,
    n2: Annotated[int | None, typer.Option(
        "--n2", help="Enrolled in arm 2 with --n (default: ratio x n).")] = None,
    power: Annotated[float | None, typer.Option(
        help="Target power when solving for n (default 0.8).")] = None,
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    ratio: Annotated[float, typer.Option(help="Allocation ratio n2/n1.")] = 1.0,
    dropout: Annotated[float, typer.Option(
        help="Expected proportion not analysed, in [0, 1).")] = 0.0,
    method: Annotated[str, typer.Option(help="t (noncentral t) or normal.")] = "t",
    visits: Annotated[int, typer.Option(help="Post-baseline visits averaged.")] = 1,
    rho: Annotated[float, typer.Option(
        help="Correlation between post-baseline visits (compound symmetry).")] = 0.0,
    baseline_correlation: Annotated[float | None, typer.Option(
        help="Correlation of baseline with each visit (for change / ancova).")] = None,
    analysis: Annotated[str, typer.Option(help="post, change or ancova.")] = "post",
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Sample size (or power, with --n) of a two-arm parallel trial on a continuous outcome."""
    from metaverdict.trials.design import power as power_of
    from metaverdict.trials.design import sample_size
    common: dict[str, Any] = dict(alpha=alpha, dropout=dropout, method=method, visits=visits,
                                  rho=rho, baseline_correlation=baseline_correlation,
                                  analysis=analysis)
    if n is not None:
        if power is not None:
            raise InputError("option '--power': give either --power (solve for n) or --n "
                             "(compute the power), not both")
        res = power_of(delta, sd, n, n2, ratio=ratio, **common)
    else:
        if n2 is not None:
            raise InputError("option '--n2': only used with --n")
        res = sample_size(delta, sd, power=0.8 if power is None else power, ratio=ratio,
                          **common)
    if json_:
        typer.echo(json.dumps(res.to_dict(), indent=2))
    else:
        typer.echo(res.summary())


# options shared by ``analyze`` and ``import``
TrialFile = Annotated[Path, typer.Argument(help="Long-format CSV: participant, arm, visit, "
                                                "outcome, value, baseline (+ covariates).")]
CovarianceOption = Annotated[str, typer.Option(
    help="MMRM covariance: us, toep, toeph, ar1, ar1h, cs, csh.")]
DfOption = Annotated[str, typer.Option(
    "--df", help="kenward-roger, kenward-roger-linear, satterthwaite, residual, "
                 "between-within.")]
ControlOption = Annotated[str | None, typer.Option(
    help="The control arm (default: the arm named sham/placebo/control).")]
HigherIsBetterOption = Annotated[bool, typer.Option(
    "--higher-is-better", help="The outcome improves upward (default: lower is better, "
                               "as pain).")]


@app.command("analyze")
@fail_on_input_error
def analyze(
    file: TrialFile,
    covariance: CovarianceOption = "us",
    df: DfOption = "kenward-roger",
    mcid: Annotated[float | None, typer.Option(
        help="MCID in outcome units (responders improve by at least this much; the plot's "
             "±MCID lines), e.g. 1.0 for 0-10 pain (Salaffi 2004).")] = None,
    moderator: Annotated[str | None, typer.Option(
        help="A participant-level column (e.g. belief) whose arm interaction is tested.")] = None,
    outcome: Annotated[list[str] | None, typer.Option(
        help="Analyse only this outcome (repeatable).")] = None,
    control: ControlOption = None,
    higher_is_better: HigherIsBetterOption = False,
    plot: Annotated[Path | None, typer.Option(
        help="Write the figure (arm means and difference by visit, per outcome).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the analysis as JSON.")] = False,
) -> None:
    """MMRM, per-visit ANCOVA, SMD, responders, lnVR (and a moderator) for one trial."""
    if plot is not None:
        output_path(plot, "--plot")
    res = _analysis(file, covariance=covariance, df=df, control=control,
                    higher_is_better=higher_is_better, outcome=outcome, mcid=mcid,
                    moderator=moderator)
    if json_:
        typer.echo(json.dumps(res.to_dict(), indent=2))
    else:
        typer.echo(res.summary())
        if mcid is None:
            typer.echo("responders: not computed (give --mcid)")
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        from metaverdict.report.plots.trial import trial_figure

        trial_figure(res, save=plot)
        if not json_:
            typer.echo(f"wrote {plot}")


def _analysis(file: Path, *, covariance: str, df: str, control: str | None,
              higher_is_better: bool, outcome: list[str] | None, mcid: float | None = None,
              moderator: str | None = None) -> Any:
    """Read and analyse the participant data as ``analyze`` does (a TrialAnalysis)."""
    from metaverdict.errors import ConvergenceError
    from metaverdict.trials import analyze_trial, trial_data

    covariates = [moderator] if moderator else []
    data = trial_data(file, control=control, covariates=covariates,
                      lower_is_better=not higher_is_better)
    try:
        return analyze_trial(data, outcome or None, covariance=covariance, df=df, mcid=mcid,
                             moderator=moderator)
    except ConvergenceError as exc:
        raise InputError(f"{exc}; try --covariance cs or ar1h") from None


@app.command("import")
@fail_on_input_error
def import_command(
    file: TrialFile,
    source_id: Annotated[str, typer.Option(
        help="Key of the new source in the store (e.g. mytrial2026); must be new.")],
    citation: Annotated[str, typer.Option(
        help='Citation of the trial ("SIMULATED: " is put in front for simulated data).')],
    treatment: Annotated[str, typer.Option(help='Treatment term, e.g. "dry needling".')],
    comparator: Annotated[str, typer.Option(
        help="Comparator term of the vocabulary: sham, placebo, no-treatment, usual-care or "
             "other.")],
    condition: Annotated[str, typer.Option(
        help='Condition term, e.g. "post-marathon muscle soreness".')],
    doi: Annotated[str | None, typer.Option(help="DOI of the trial's publication.")] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (default: METAVERDICT_DATABASE_URL or the user data "
                     "SQLite file, seeded with the bundled evidence).")] = None,
    covariance: CovarianceOption = "us",
    df: DfOption = "kenward-roger",
    control: ControlOption = None,
    higher_is_better: HigherIsBetterOption = False,
    outcome: Annotated[list[str] | None, typer.Option(
        help="Import only this outcome (repeatable).")] = None,
    outcome_domain: Annotated[str | None, typer.Option(
        help="Outcome domain of every outcome (pain, function, cramping, ...; default: read "
             "from each outcome's name, e.g. soreness -> pain).")] = None,
    visit_unit: Annotated[str, typer.Option(
        help="Unit of numeric visits: day, week or month (visit 1 -> \"day 1\").")] = "day",
    comparator_name: Annotated[str | None, typer.Option(
        help='What the control arm was (e.g. "sham dry needling"; default: the comparator '
             'term).')] = None,
) -> None:
    """Analyse participant data (MMRM, as ``analyze``) and store the study-level results
    (difference treatment - control per outcome and visit, with CI, P and n per arm) as one
    new source, all or nothing. Simulated data make a SIMULATED source, left out of reports
    and answers unless --include-simulated is given."""
    from metaverdict import __version__
    from metaverdict.evidence import bundled_vocabulary, open_store
    from metaverdict.evidence.trial_rows import (
        import_study_results,
        one_line,
        outcome_text,
        study_result_rows,
        timepoint_text,
    )
    from metaverdict.evidence.vocabulary import UnknownTermError

    input_file(file, "FILE")
    vocab = bundled_vocabulary()
    try:
        vocab.comparator_kind(comparator)
    except UnknownTermError as exc:
        raise InputError(f"option '--comparator': {exc}, got {comparator!r}") from None
    for name, value in (("--source-id", source_id), ("--citation", citation),
                        ("--treatment", treatment), ("--condition", condition)):
        if not value.strip():
            raise InputError(f"option {name!r}: must not be empty")
    timepoint_text(1, visit_unit)                       # checks the unit before the analysis
    if outcome_domain is not None:
        outcome_text("outcome", outcome_domain)         # checks the domain before the analysis
    res = _analysis(file, covariance=covariance, df=df, control=control,
                    higher_is_better=higher_is_better, outcome=outcome)
    first = res.outcomes[0].fit
    method = (f"an MMRM (value ~ baseline + arm * visit; {first.model.structure.value} "
              f"covariance, {first.df_method.value} df, {'REML' if first.reml else 'ML'})")
    study = res.to_study_results(source_id)
    rows = study_result_rows(
        study.frame, source_id=source_id, citation=citation, treatment=treatment,
        comparator=comparator, condition=condition, method=method, file_name=file.name,
        doi=doi, simulated=study.simulated, outcome_domain=outcome_domain,
        visit_unit=visit_unit, lower_is_better=not higher_is_better,
        comparator_name=comparator_name, tool=f"metaverdict {__version__}", vocabulary=vocab)
    try:
        with open_store(db) as store:
            n = import_study_results(store, rows)
            where = store.url
    except InputError as exc:
        raise InputError(one_line(str(exc))) from None
    label = " (SIMULATED data)" if study.simulated else ""
    typer.echo(f"imported {n} result(s) of source {source_id!r}{label} from {file.name} into "
               f"{where}: {', '.join(dict.fromkeys(r['outcome'] for r in rows))}; "
               f"{', '.join(dict.fromkeys(r['timepoint'] for r in rows))}")
    if study.simulated:
        typer.echo("simulated sources are left out of reports and answers unless "
                   "--include-simulated is given (then they are labelled SIMULATED)")
