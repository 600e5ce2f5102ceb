"""``metaverdict network FILE.csv``: a network meta-analysis (R netmeta) from a CSV file.

Contrast-level files have one row per pairwise comparison (columns ``TE``, ``seTE``,
``treat1``, ``treat2``, ``studlab`` by default; a multi-arm study gives all its pairs under
one label). Arm-level files are turned into contrasts first (:func:`metaverdict.network.pairwise`)
when ``--treat`` is given: one column (one row per arm, with ``--studlab``) or a
comma-separated list of columns (one row per study, e.g. ``--treat t1,t2,t3 --event e1,e2,e3
--n n1,n2,n3``). numpy, pandas and the models are imported inside the command, so that
``metaverdict --help`` stays light; bad input prints ``error: ...`` (naming the row and field)
and exits with status 2.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from metaverdict.cli.common import decode_error, fail_on_input_error, input_file, output_path
from metaverdict.errors import InputError

Col = Annotated[Optional[str], typer.Option(show_default=False)]


def _columns(value: str | None) -> str | list[str] | None:
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


@fail_on_input_error
def network(
    file: Annotated[Path, typer.Argument(help="CSV file: one row per contrast, or arm-level "
                                              "data with --treat")],
    te: Annotated[str, typer.Option(help="column of the estimates (treat1 vs treat2)")] = "TE",
    se: Annotated[str, typer.Option(help="column of their standard errors")] = "seTE",
    treat1: Annotated[str, typer.Option(help="column of the first treatment")] = "treat1",
    treat2: Annotated[str, typer.Option(help="column of the second treatment")] = "treat2",
    studlab: Annotated[str, typer.Option(help="column of the study labels")] = "studlab",
    treat: Annotated[Optional[str], typer.Option(
        help="arm-level data: the treatment column (one row per arm) or columns a,b,c (one "
             "row per study)", show_default=False)] = None,
    event: Col = None, n: Col = None, mean: Col = None, sd: Col = None, time: Col = None,
    sm: Annotated[Optional[str], typer.Option(
        help="summary measure: OR, RR, RD, IRR, MD, SMD (needed with --treat)",
        show_default=False)] = None,
    reference: Annotated[Optional[str], typer.Option(
        help="reference treatment (default: the first in sort order)",
        show_default=False)] = None,
    method_tau: Annotated[str, typer.Option(help="tau² estimator: REML, DL or ML")] = "REML",
    small_values: Annotated[Optional[str], typer.Option(
        help="'good' if small effects are beneficial (pain, deaths), 'bad' if large ones are; "
             "prints P-scores", show_default=False)] = None,
    league: Annotated[bool, typer.Option("--league", help="print the league table")] = False,
    netsplit: Annotated[bool, typer.Option(
        "--netsplit", help="print direct vs indirect evidence per comparison")] = False,
    graph: Annotated[Optional[Path], typer.Option(
        help="write the network graph (.png/.svg/.pdf)", show_default=False)] = None,
    league_plot: Annotated[Optional[Path], typer.Option(
        help="write the league table as a figure (.png/.svg/.pdf)", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of text")] = False,
) -> None:
    """Frequentist network meta-analysis (graph-theoretical method, R netmeta)."""
    import pandas as pd

    from metaverdict.network import network_meta_analysis, pairwise

    input_file(file, "FILE")
    for path, option in ((graph, "--graph"), (league_plot, "--league-plot")):
        if path is not None:
            output_path(path, option)
    try:
        frame = pd.read_csv(file)
    except UnicodeDecodeError as exc:
        raise decode_error(exc, file, "network: file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"FILE {str(file)!r}: not a readable CSV file ({exc})") from None
    data: Any = frame
    if treat is not None:
        if sm is None:
            raise InputError("option '--sm': arm-level data (--treat) need a summary measure, "
                             "e.g. --sm OR")
        data = pairwise(frame, treat=_columns(treat) or treat, sm=sm,
                        studlab=studlab if studlab in frame.columns else None,
                        event=_columns(event), n=_columns(n), mean=_columns(mean),
                        sd=_columns(sd), time=_columns(time))
    if treat is not None:      # the contrasts of pairwise() have their standard columns
        te, se, treat1, treat2, studlab = "TE", "seTE", "treat1", "treat2", "studlab"
    net = network_meta_analysis(data, te=te, se=se, treat1=treat1, treat2=treat2,
                                studlab=studlab if treat or studlab in frame.columns else None,
                                reference=reference, method_tau=method_tau, sm=sm,
                                small_values=small_values)
    if graph is not None:
        from metaverdict.report.plots.network import network_graph_plot
        network_graph_plot(net, save=graph)
    if league_plot is not None:
        from metaverdict.report.plots.network import league_table_plot
        league_table_plot(net, save=league_plot)
    if as_json:
        out: dict[str, Any] = {"network": net.to_dict()}
        if small_values is not None:
            out["p_scores"] = net.p_scores().to_dict()
        if league:
            out["league"] = net.league().to_dict()
        if netsplit:
            out["netsplit"] = net.netsplit().to_dict()
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    parts = [net.summary()]
    if net.design_decomposition is not None:
        parts.append(net.decomposition().summary())
    if small_values is not None:
        parts.append(net.p_scores().summary())
    if league:
        parts.append(net.league().summary())
    if netsplit:
        parts.append(net.netsplit().summary())
    for path in (graph, league_plot):
        if path is not None:
            parts.append(f"wrote {path}")
    typer.echo("\n\n".join(parts))


app = typer.Typer(help="Network meta-analysis from a CSV file.", add_completion=False)
app.command(help="Network meta-analysis (R netmeta) from a CSV file.")(network)
