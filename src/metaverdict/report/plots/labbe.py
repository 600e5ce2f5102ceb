"""L'Abbé plot (metafor ``labbe.rma``): each study's outcome in group 1 against group 2."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import metaverdict.report.plots._style as st
from metaverdict.errors import InputError
from metaverdict.models.results import MetaAnalysisResult

# the arm-level measure of each two-group measure (metafor's labbe)
ARM_MEASURES = {"RR": "PLN", "OR": "PLO", "RD": "PR", "AS": "PAS", "IRR": "IRLN", "IRD": "IR",
                "IRSD": "IRS"}
_ARM_LABELS = {"PLN": "Log Proportion", "PLO": "Log Odds", "PR": "Proportion",
               "PAS": "Arcsine Transformed Proportion", "IRLN": "Log Incidence Rate",
               "IR": "Incidence Rate", "IRS": "Square Root Transformed Incidence Rate"}


def labbe_points(res: MetaAnalysisResult, measure: str, *, ai: Any = None, bi: Any = None,
                 ci: Any = None, di: Any = None, x1i: Any = None, t1i: Any = None,
                 x2i: Any = None, t2i: Any = None, add: float = 0.5, to: str = "only0",
                 plim: tuple[float, float] = (0.5, 3.5),
                 transf: Callable[[np.ndarray], Any] | None = None) -> pd.DataFrame:
    """The points of a L'Abbé plot, as metafor's ``labbe()`` returns them.

    Parameters
    ----------
    res : MetaAnalysisResult
        An intercept-only fit of the two-group measure (the line of the plot is its estimate).
    measure : {"RR", "OR", "RD", "AS", "IRR", "IRD", "IRSD"}
        The measure of ``res``; each arm is shown on the matching arm-level scale (log
        proportion, log odds, proportion, arcsine proportion, log rate, rate, square-root rate).
    ai, bi, ci, di : array_like
        The 2x2 counts (events and non-events in group 1, then group 2), for the risk measures.
    x1i, t1i, x2i, t2i : array_like
        Events and person-time per group, for the rate measures.
    add, to : float, str
        The continuity correction of the arm outcomes (``effect_sizes``; metafor's defaults).
    plim : (float, float)
        Point sizes (multiples of the default size) from the least to the most precise study,
        linear in :math:`1/\\sqrt{v_1 + v_2}` of the arm variances (metafor's ``psize``).
    transf : callable, optional
        Applied to both arms' outcomes (metafor ``transf=``), e.g. ``np.exp`` to show log
        proportions as proportions; vectorised, one finite value per outcome.

    Returns
    -------
    pandas.DataFrame
        ``x`` (group 2's outcome), ``y`` (group 1's), ``size`` (relative point size), ``row``
        (0-based study index); studies without both arm outcomes are left out.
    """
    from metaverdict.effects import effect_sizes
    arm = ARM_MEASURES.get(str(measure).upper())
    if arm is None:
        raise InputError(f"field 'measure': a L'Abbé plot needs one of "
                         f"{', '.join(ARM_MEASURES)}, got {measure!r}")
    if res.design is not None and np.asarray(res.design).shape[1] > 1:
        raise InputError("labbe_plot() needs a model without moderators")
    rate = measure.upper().startswith("IR")
    arms = ((x1i, t1i), (x2i, t2i)) if rate else ((ai, bi), (ci, di))
    names = ("x1i", "t1i", "x2i", "t2i") if rate else ("ai", "bi", "ci", "di")
    if any(a is None for pair in arms for a in pair):
        raise InputError(f"labbe_plot() with measure={measure!r} needs {', '.join(names)}")
    out = []
    for xi, other in arms:
        kw = {"xi": xi, "ti": other} if rate else {"xi": xi, "mi": other}
        if np.size(xi) != res.k:
            raise InputError(f"field {names[0]!r}: {res.k} studies expected (as in the fit), "
                             f"got {np.size(xi)}")
        es = effect_sizes(arm, labels=list(range(res.k)), add=add, to=to, **kw)
        out.append(pd.Series(es.vi, index=es.labels, name="v").to_frame().assign(yi=es.yi))
    t, c = out
    rows = t.index.intersection(c.index)
    if rows.empty:
        raise InputError("no study has outcomes in both groups")
    t, c = t.loc[rows], c.loc[rows]
    w = 1 / np.sqrt(t["v"].to_numpy() + c["v"].to_numpy())
    rng = w.max() - w.min()
    size = (np.ones_like(w) if rng <= np.finfo(float).eps ** 0.5
            else plim[0] + (w - w.min()) / rng * (plim[1] - plim[0]))
    return pd.DataFrame({"x": _transformed(c["yi"].to_numpy(), transf),
                         "y": _transformed(t["yi"].to_numpy(), transf), "size": size,
                         "row": np.asarray(rows, dtype=int)})


def _transformed(values: np.ndarray, transf: Callable[[np.ndarray], Any] | None) -> np.ndarray:
    """``transf(values)``, checked: one finite number per value."""
    if transf is None:
        return values
    if not callable(transf):
        raise InputError(f"field 'transf': a function expected, got {transf!r}")
    try:
        with np.errstate(all="ignore"):          # a non-finite result is reported below
            out = np.asarray(transf(np.asarray(values, dtype=float)), dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"field 'transf': it failed on the outcomes ({exc})") from None
    if out.shape != np.shape(values) or not np.all(np.isfinite(out)):
        raise InputError("field 'transf': it must return one finite number per outcome")
    return out


@st.axes_docstring
def labbe_plot(res: MetaAnalysisResult, measure: str, *, ai: Any = None, bi: Any = None,
               ci: Any = None, di: Any = None, x1i: Any = None, t1i: Any = None,
               x2i: Any = None, t2i: Any = None, add: float = 0.5, to: str = "only0",
               transf: Callable[[np.ndarray], Any] | None = None,
               xlabel: str | None = None, ylabel: str | None = None, title: str | None = None,
               ax: Axes | None = None,
               save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw a L'Abbé plot: group 1's outcome (y) against group 2's (x) per study, on the
    arm-level scale of ``measure`` (:func:`labbe_points`), with the line of no effect (solid)
    and the line of the pooled estimate, y = x + estimate (dashed; on the risk-difference
    and other untransformed scales drawn only where both arms lie in their range).

    Points are sized by precision and drawn largest first, so small studies stay visible.

    Parameters
    ----------
    res, measure, ai, bi, ci, di, x1i, t1i, x2i, t2i, add, to
        As :func:`labbe_points`.
    transf : callable, optional
        Applied to the outcomes and to both lines (metafor ``transf=``; a monotone function,
        e.g. ``np.exp`` for proportions instead of log proportions).
    xlabel, ylabel : str, optional
        Axis labels (default: the arm-level measure and the group).
    %(axes)s

    References
    ----------
    L'Abbé KA, Detsky AS, O'Rourke K (1987). Meta-analysis in clinical research. *Annals of
    Internal Medicine* 107:224-233.
    """
    pts = labbe_points(res, measure, ai=ai, bi=bi, ci=ci, di=di, x1i=x1i, t1i=t1i, x2i=x2i,
                       t2i=t2i, add=add, to=to)          # the lines are drawn on this scale
    arm = ARM_MEASURES[measure.upper()]
    lo = float(min(pts["x"].min(), pts["y"].min()))
    hi = float(max(pts["x"].max(), pts["y"].max()))
    b = float(res.estimate)
    line_x = np.linspace(lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo), 200)
    line_y = line_x + b
    if arm in ("PR", "IR", "IRS", "PAS"):        # both arms inside the measure's range
        top = np.pi / 2 if arm == "PAS" else (1.0 if arm == "PR" else np.inf)
        keep = (line_y >= 0) & (line_y <= top)
        line_x, line_y = line_x[keep], line_y[keep]
    created = ax is None
    fig, ax = st.new_figure(ax, 5.0, 5.0)
    if created:
        fig.subplots_adjust(left=0.15, right=0.96, bottom=0.12, top=0.93)
    pad = 0.04 * (hi - lo) if hi > lo else 0.5        # R's default 4% axis extension
    diagonal = np.linspace(lo - pad, hi + pad, 200)
    if transf is not None:
        diagonal = _transformed(diagonal, transf)
        line_x, line_y = _transformed(line_x, transf), _transformed(line_y, transf)
    ax.plot(diagonal, diagonal, color=st.GUIDE_COLOR, lw=1, gid="no-effect-line",
            label="no effect")
    ax.plot(line_x, line_y, color=st.INK, lw=1, ls="--", gid="estimate-line",
            label="pooled estimate")
    order = np.argsort(-pts["size"].to_numpy(), kind="stable")
    px, py = (_transformed(pts[c].to_numpy(), transf) for c in ("x", "y"))
    ax.scatter(px[order], py[order], s=(pts["size"].to_numpy()[order] * 6.0) ** 2,
               color="#c8c8c8", edgecolors=st.STUDY_COLOR, linewidths=0.8, zorder=3,
               gid="study-markers")
    ends = sorted((float(diagonal[0]), float(diagonal[-1])))
    ax.set_xlim(*ends)
    ax.set_ylim(*ends)
    st.style_axes(ax)
    ax.legend(loc="upper left", frameon=False, fontsize=st.SMALL_FONT_SIZE)
    shown = _ARM_LABELS[arm] if transf is None else f"Transformed {_ARM_LABELS[arm].lower()}"
    ax.set_xlabel(xlabel or f"{shown} (Group 2)")
    ax.set_ylabel(ylabel or f"{shown} (Group 1)")
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, fontweight="bold", loc="left")
    return st.finish(fig, save)
