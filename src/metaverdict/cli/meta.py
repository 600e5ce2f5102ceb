"""``metaverdict meta``: effect sizes and a meta-analysis from a CSV file."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from metaverdict.cli.common import decode_error, fail_on_input_error, output_path
from metaverdict.errors import InputError

if TYPE_CHECKING:                                          # pragma: no cover
    import pandas as pd

# numpy, pandas, the models and the plots are imported inside the functions that use them, so
# that "metaverdict --help" starts without them.

ESCALC_COLUMNS = ("ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "x2i", "t1i", "t2i", "m1i", "m2i",
                  "sd1i", "sd2i", "xi", "mi", "ri", "ti", "ni")
RATIO_MEASURES = ("OR", "RR", "IRR", "ROM", "PETO")
#: File types matplotlib writes (without importing matplotlib to find out).
PLOT_SUFFIXES = (".png", ".svg", ".svgz", ".pdf", ".eps", ".ps", ".jpg", ".jpeg", ".tif",
                 ".tiff", ".webp", ".gif")
Col = Annotated[Optional[str], typer.Option(help="column name", show_default=False)]


@fail_on_input_error
def meta(
    file: Annotated[Optional[Path], typer.Argument(help="CSV file, one row per study")] = None,
    example: Annotated[Optional[str], typer.Option(
        help="use a bundled dataset, e.g. dat.bcg")] = None,
    measure: Annotated[Optional[str], typer.Option(
        help="effect size (SMD, MD, ROM, OR, RR, RD, "
             "PETO, IRR, ZCOR, COR, ZPCOR, PLO, PR, PFT)")] = None,
    yi: Col = None, vi: Col = None, sei: Col = None,
    ai: Col = None, bi: Col = None, ci: Col = None, di: Col = None,
    n1i: Col = None, n2i: Col = None,
    x1i: Col = None, x2i: Col = None, t1i: Col = None, t2i: Col = None, m1i: Col = None,
    m2i: Col = None, sd1i: Col = None, sd2i: Col = None, xi: Col = None, mi: Col = None,
    ri: Col = None, ti: Col = None, ni: Col = None,
    label: Col = None,
    method: Annotated[str, typer.Option(help="tau² estimator or EE")] = "REML",
    test: Annotated[str, typer.Option(help="z or knha (Hartung-Knapp)")] = "z",
    level: Annotated[float, typer.Option(help="confidence level")] = 0.95,
    mods: Annotated[Optional[str], typer.Option(
        help="moderator formula, e.g. 'ablat + C(alloc)'")] = None,
    subgroup: Annotated[Optional[str], typer.Option(help="column defining subgroups")] = None,
    bias: Annotated[bool, typer.Option(
        "--bias", help="small-study / publication-bias tests")] = False,
    influence: Annotated[bool, typer.Option(
        "--influence", help="influence and leave-one-out")] = False,
    plot: Annotated[Optional[Path], typer.Option(
        help="write a forest plot (.png/.svg/.pdf)")] = None,
    funnel: Annotated[Optional[Path], typer.Option(
        help="write a funnel plot (.png/.svg/.pdf)")] = None,
    bayes: Annotated[bool, typer.Option(
        "--bayes", help="exact Bayesian random-effects fit (bayesmeta) instead")] = False,
    tau_prior: Annotated[str, typer.Option(
        help="with --bayes: prior for tau, NAME or NAME:SCALE, e.g. half-normal:0.5, "
             "half-cauchy:0.5, uniform:2, jeffreys")] = "half-normal:0.5",
    mcid: Annotated[Optional[float], typer.Option(
        help="with --bayes: MCID (effect units) for P(benefit beyond it)")] = None,
    higher_is_better: Annotated[bool, typer.Option(
        "--higher-is-better", help="with --bayes --mcid: benefit is a positive effect "
                                   "(default: negative, as pain)")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="print JSON instead of the summary")] = False,
) -> None:
    """Compute effect sizes (or read yi/vi) and fit a meta-analysis; print a metafor-style
    summary."""
    import pandas as pd

    from metaverdict._results import to_builtin
    from metaverdict.effects import effect_sizes
    from metaverdict.models import meta_analysis, subgroup_analysis

    for option, path in (("--plot", plot), ("--funnel", funnel)):
        if path is not None:
            _check_plot_path(path, option)
    data = _read(file, example)
    if label is not None:
        if label not in data.columns:
            raise InputError(f"--label: no column {label!r} in the data")
        data.index = data[label].astype(str)
    elif file is not None:
        # Without --label, studies are named by data row (1 = the first line after the
        # header), in messages and tables alike, not by pandas' 0-based position.
        data.index = pd.RangeIndex(1, len(data) + 1)
    counts = {name: value for name, value in locals().items() if name in ESCALC_COLUMNS and value}
    if measure is not None:
        es = effect_sizes(measure, data=data, **counts)
        y, v = es.yi, es.vi
    elif yi is not None and (vi is not None or sei is not None):
        y, v = yi, vi
    else:
        raise InputError("give --measure with its columns (e.g. --ai ... --di), "
                         "or --yi with --vi/--sei")
    if bayes:
        _bayes(y, v, sei if measure is None else None, data, tau_prior, level, mcid,
               not higher_is_better, as_json)
        return
    res = meta_analysis(y, v, sei=sei if measure is None else None, data=data, method=method,
                        test=test, level=level, mods=mods)
    extras = _extras(res, bias, influence)
    if subgroup is not None:
        extras["subgroups"] = subgroup_analysis(res.yi, res.vi, groups=subgroup, data=data,
                                                method=method, test=test, level=level)
    _plots(res, measure, plot, funnel)
    if as_json:
        typer.echo(json.dumps({**res.to_dict(), **{k: to_builtin(v) for k, v in extras.items()}},
                              indent=2))
        return
    typer.echo(res.summary())
    if measure is not None and measure.upper() in RATIO_MEASURES and res.p == 1:
        name = "ratio of means" if measure.upper() == "ROM" else measure.upper()
        typer.echo(f"\n{name} (exponentiated): {math.exp(res.estimate):.4f} "
                   f"[{math.exp(res.ci_lower):.4f}, {math.exp(res.ci_upper):.4f}], "
                   f"prediction interval [{math.exp(res.pi_lower):.4f}, "
                   f"{math.exp(res.pi_upper):.4f}]")
    for name, value in extras.items():
        text = (value.to_string(float_format=lambda x: f"{x:.4f}")
                if isinstance(value, pd.DataFrame) else value.summary())
        typer.echo(f"\n== {name.replace('_', ' ')}\n{text}")


def _bayes(y: object, v: object, sei: str | None, data: pd.DataFrame, tau_prior: str,
           level: float, mcid: float | None, lower_is_better: bool, as_json: bool) -> None:
    """The exact Bayesian fit (``--bayes``) with the prior given as NAME[:SCALE]."""
    from metaverdict.models.bayes import bayesian_meta_analysis

    name, _, scale_text = tau_prior.partition(":")
    scale = None
    if scale_text:
        try:
            scale = float(scale_text)
        except ValueError:
            raise InputError(f"--tau-prior: scale {scale_text!r} is not a number "
                             "(use NAME:SCALE, e.g. half-normal:0.5)") from None
    res = bayesian_meta_analysis(y, v, sei=sei, data=data, tau_prior=name.strip(),
                                 tau_scale=scale, level=level, mcid=mcid,
                                 lower_is_better=lower_is_better)
    typer.echo(json.dumps(res.to_dict(), indent=2) if as_json else res.summary())


def _read(file: Path | None, example: str | None) -> pd.DataFrame:
    import pandas as pd

    from metaverdict.datasets import load_example
    if (file is None) == (example is None):
        raise InputError("give a CSV FILE or --example NAME (one of them)")
    if example is not None:
        return load_example(example)
    if not file.exists():
        raise InputError(f"file {str(file)!r} does not exist")
    if file.is_dir():
        raise InputError(f"{str(file)!r} is a folder, not a CSV file")
    try:
        data = pd.read_csv(file)
    except pd.errors.EmptyDataError:
        raise InputError(f"file {str(file)!r} is empty: it needs a header row and one row "
                         "per study") from None
    except UnicodeDecodeError as exc:
        raise decode_error(exc, file, "file") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot read {str(file)!r} as CSV: {exc}") from None
    _check_header(file)
    return data


def _check_header(file: Path) -> None:
    """Every column name once (pandas would silently rename a second 'yi' to 'yi.1')."""
    import csv
    with file.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        header = next(csv.reader(fh), [])
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        key = name.strip()
        if key in seen:
            raise InputError(f"file {str(file)!r}: column {key!r} appears twice in the header "
                             f"(columns {seen[key]} and {i})")
        seen[key] = i


def _check_plot_path(path: Path, option: str) -> None:
    if path.suffix.lower() not in PLOT_SUFFIXES:
        got = repr(path.suffix) if path.suffix else "no suffix"
        raise InputError(f"option '{option}': cannot write a plot file with {got}; end the "
                         f"name in one of {', '.join(PLOT_SUFFIXES)}")
    output_path(path, option)


def _extras(res, bias: bool, influence: bool) -> dict:
    """Diagnostics requested on the command line, by section name."""
    from metaverdict import diagnostics
    out: dict = {}
    if bias:
        out["egger_test"] = diagnostics.egger_test(res)
        out["rank_test"] = diagnostics.rank_test(res)
        out["trim_and_fill"] = diagnostics.trim_and_fill(res)
        out["fail_safe_n"] = diagnostics.fail_safe_n(res.yi, res.vi)
    if influence:
        out["influence"] = diagnostics.influence(res)
        out["leave_one_out"] = diagnostics.leave_one_out(res)
    return out


def _plots(res, measure: str | None, forest: Path | None, funnel: Path | None) -> None:
    import numpy as np

    from metaverdict.report.plots import forest_plot, funnel_plot
    ratio = measure is not None and measure.upper() in RATIO_MEASURES
    if forest is not None:
        forest_plot(res, transform=np.exp if ratio else None, save=forest)
        typer.echo(f"forest plot written to {forest}", err=True)
    if funnel is not None:
        funnel_plot(res, save=funnel)
        typer.echo(f"funnel plot written to {funnel}", err=True)
