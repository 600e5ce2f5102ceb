"""``metaverdict trial ...``: one randomized trial's design (``power``) and its randomization
list (``randomize``).

The commands call :mod:`metaverdict.trials.design` and :mod:`metaverdict.trials.randomization`
(imported inside the commands, so that ``metaverdict --help`` stays light). Bad input prints
``error: ...`` (naming the field) and exits with status 2.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from metaverdict.cli.common import fail_on_input_error, output_path
from metaverdict.errors import InputError

app = typer.Typer(help="One randomized trial: sample size / power and randomization lists.",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def _trial() -> None:
    """One randomized trial: sample size / power and randomization lists."""


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


@app.command("analyze")
@fail_on_input_error
def analyze(
    file: Annotated[Path, typer.Argument(help="Long-format CSV: participant, arm, visit, "
                                              "outcome, value, baseline (+ covariates).")],
    covariance: Annotated[str, typer.Option(
        help="MMRM covariance: us, toep, toeph, ar1, ar1h, cs, csh.")] = "us",
    df: Annotated[str, typer.Option(
        "--df", help="kenward-roger, kenward-roger-linear, satterthwaite, residual, "
                     "between-within.")] = "kenward-roger",
    mcid: Annotated[float | None, typer.Option(
        help="MCID in outcome units (responders improve by at least this much; the plot's "
             "±MCID lines), e.g. 1.0 for 0-10 pain (Salaffi 2004).")] = None,
    moderator: Annotated[str | None, typer.Option(
        help="A participant-level column (e.g. belief) whose arm interaction is tested.")] = None,
    outcome: Annotated[list[str] | None, typer.Option(
        help="Analyse only this outcome (repeatable).")] = None,
    control: Annotated[str | None, typer.Option(
        help="The control arm (default: the arm named sham/placebo/control).")] = None,
    higher_is_better: Annotated[bool, typer.Option(
        "--higher-is-better", help="The outcome improves upward (default: lower is better, "
                                   "as pain).")] = False,
    plot: Annotated[Path | None, typer.Option(
        help="Write the figure (arm means and difference by visit, per outcome).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the analysis as JSON.")] = False,
) -> None:
    """MMRM, per-visit ANCOVA, SMD, responders, lnVR (and a moderator) for one trial."""
    from metaverdict.errors import ConvergenceError
    from metaverdict.trials import analyze_trial, trial_data

    if plot is not None:
        output_path(plot, "--plot")
    covariates = [moderator] if moderator else []
    data = trial_data(file, control=control, covariates=covariates,
                      lower_is_better=not higher_is_better)
    try:
        res = analyze_trial(data, outcome or None, covariance=covariance, df=df, mcid=mcid,
                            moderator=moderator)
    except ConvergenceError as exc:
        raise InputError(f"{exc}; try --covariance cs or ar1h") from None
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
