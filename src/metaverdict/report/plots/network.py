"""Network meta-analysis plots: the network graph and the league table.

Both draw a fitted :class:`~metaverdict.network.NetworkMetaAnalysisResult` (from
:func:`metaverdict.network.network_meta_analysis`); the numbers come from its methods, nothing
is fitted here. Text sizes and the figure size follow the number of treatments so that labels
stay legible from 3 to 20 treatments.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon, Rectangle

import metaverdict.report.plots._style as st
from metaverdict.errors import InputError
from metaverdict.network.pairwise import RATIO_MEASURES
from metaverdict.network.results import NetworkMetaAnalysisResult, check_model

EDGE_COLOR = "#2f4b7c"
NODE_COLOR = "#c0392b"
MULTIARM_COLORS = ("#f4d03f", "#85c1e9", "#a9dfbf", "#f5b7b1", "#d7bde2", "#f8c471")
SIGNIFICANT_FILL = "#d6e4f0"
DIRECT_FILL = "#fbf3dc"
DIAGONAL_FILL = "#e6e6e6"


def _label_size(n: int) -> float:
    return 9.0 if n <= 10 else 8.0 if n <= 15 else 7.0


def _wrap(label: str, width: int) -> str:
    """Wrap at spaces, and after ``+`` or ``/`` (combinations such as
    ``"Fluticasone+Salmeterol"``), lines of at most ``width`` characters where possible."""
    pieces = [p for p in re.split(r"(\s+|(?<=[+/]))", label) if p]
    lines: list[str] = []
    line = ""
    for piece in pieces:
        if piece.isspace():
            line += " " if line else ""
            continue
        if line and len(line) + len(piece) > width:
            lines.append(line.rstrip())
            line = piece
        else:
            line += piece
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines) or label


def _fill(text: str, width_in: float, size: float) -> str:
    """Wrap ``text`` into lines no wider than ``width_in`` inches at font ``size``."""
    words = text.split()
    lines: list[str] = []
    line = ""
    for w in words:
        trial = f"{line} {w}".strip()
        if line and st.text_width_in([trial], size=size) > width_in:
            lines.append(line)
            line = w
        else:
            line = trial
    lines.append(line)
    return "\n".join(lines)


def _positions(n: int) -> np.ndarray:
    """Circle, first treatment at 12 o'clock, clockwise."""
    angles = math.pi / 2 - 2 * math.pi * np.arange(n) / n
    return np.column_stack([np.cos(angles), np.sin(angles)])


def network_graph_plot(net: NetworkMetaAnalysisResult, *, order: Any = None,
                       thickness: Literal["studies", "equal"] = "studies",
                       edge_labels: bool | None = None,
                       node_size: Literal["studies", "equal"] = "studies",
                       multiarm: bool = True, title: str | None = None,
                       ax: Axes | None = None,
                       save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw the network: treatments on a circle, one line per directly compared pair.

    Line width grows with the number of studies of the pair (labelled at its middle); node
    area with the number of studies of the treatment; each multi-arm study is a shaded
    polygon joining its arms (as netmeta's ``netgraph(multiarm = TRUE)``).

    Parameters
    ----------
    net : NetworkMetaAnalysisResult
        The fitted network.
    order : sequence of str, optional
        Treatments clockwise from 12 o'clock (default: the fit's ``seq``).
    thickness : {"studies", "equal"}
        Line width by number of studies, or all equal.
    edge_labels : bool, optional
        Write the number of studies on each line (default: when there are at most 30
        lines, beyond which the labels would crowd the centre).
    node_size : {"studies", "equal"}
        Node area by number of studies with the treatment, or all equal.
    multiarm : bool
        Shade the multi-arm studies.
    title : str, optional
        Axes title.
    ax : Axes, optional
        Draw here (default: a new figure, sized for the number of treatments).
    save : path, optional
        Also write the figure (``.png``, ``.svg``, ``.pdf``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> import metaverdict as mv
    >>> from metaverdict.report.plots.network import network_graph_plot
    >>> df = pd.DataFrame({"studlab": ["s1", "s2", "s3", "s3", "s3"],
    ...                    "treat1": ["A", "A", "A", "A", "B"],
    ...                    "treat2": ["B", "C", "B", "C", "C"],
    ...                    "TE": [0.2, 0.5, 0.1, 0.4, 0.3], "seTE": [0.2, 0.2, 0.3, 0.3, 0.3]})
    >>> net = mv.network.network_meta_analysis(df, method_tau="DL")
    >>> fig = network_graph_plot(net, save="network.png")
    >>> len(fig.axes)
    1
    """
    trts = list(net.seq if order is None else [str(t) for t in order])
    if sorted(trts) != sorted(net.treatments):
        raise InputError(f"field 'order': must list every treatment once "
                         f"({', '.join(net.treatments)})")
    n = len(trts)
    size = 4.2 + 0.14 * n
    fig, ax = st.new_figure(ax, size, size)
    pos = dict(zip(trts, _positions(n)))
    adjacency = net.adjacency
    counts = adjacency.to_numpy(dtype=float)
    index = {t: i for i, t in enumerate(net.treatments)}
    kmax = float(counts.max()) or 1.0
    font = _label_size(n)
    n_edges = int((np.triu(counts, 1) > 0).sum())
    if edge_labels is None:
        edge_labels = n_edges <= 30
    shrink = math.sqrt(min(1.0, 8.0 / n))      # thinner lines, smaller nodes for big networks

    if multiarm:
        studies: dict[str, set[str]] = {}
        c = net.contrasts
        for s, a, b in zip(c.studlab, c.treat1, c.treat2):
            studies.setdefault(s, set()).update((a, b))
        arms = [sorted(t, key=trts.index) for t in studies.values() if len(t) > 2]
        for shade, members in enumerate(sorted({tuple(m) for m in arms})):
            ax.add_patch(Polygon([pos[t] for t in members], closed=True, zorder=1,
                                 facecolor=MULTIARM_COLORS[shade % len(MULTIARM_COLORS)],
                                 alpha=0.35, edgecolor="none", gid="multiarm"))
    for i, a in enumerate(trts):
        for b in trts[i + 1:]:
            k = float(counts[index[a], index[b]])
            if k <= 0:
                continue
            (x0, y0), (x1, y1) = pos[a], pos[b]
            width = (1.0 + 6.0 * k / max(kmax, 4.0)) if thickness == "studies" else 2.0
            width *= shrink
            ax.plot([x0, x1], [y0, y1], color=EDGE_COLOR, lw=width, solid_capstyle="round",
                    zorder=2, gid="edge")
            if edge_labels:
                ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{int(k)}", ha="center", va="center",
                        fontsize=font - 1, color=st.INK, zorder=4, gid="edge-label",
                        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                              "edgecolor": "none", "alpha": 0.9})
    k_trts = dict(zip(net.treatments, net.k_trts))
    kt_max = max(k_trts.values())
    for t in trts:
        r = shrink * (0.03 + (0.045 * math.sqrt(k_trts[t] / kt_max) if node_size == "studies"
                              else 0.025))
        ax.add_patch(Circle(tuple(pos[t]), r, facecolor=NODE_COLOR, edgecolor="white", lw=1.0,
                            zorder=3, gid="node"))
    width = 14 if n > 12 else 18
    for t in trts:
        x, y = pos[t]
        ha = "center" if abs(x) < 0.2 else ("left" if x > 0 else "right")
        va = "center" if abs(y) >= 0.2 and ha != "center" else ("bottom" if y > 0 else "top")
        if ha == "center":
            va = "bottom" if y > 0 else "top"
        ax.text(1.13 * x, 1.13 * y, _wrap(t, width), ha=ha, va=va, fontsize=font,
                color=st.INK, zorder=5, gid="treatment-label", linespacing=1.0,
                multialignment={"left": "left", "right": "right"}.get(ha, "center"))
    ax.set_aspect("equal")
    ax.axis("off")
    label_w = st.text_width_in([line for t in trts for line in _wrap(t, width).split("\n")],
                               size=font)
    pad = 1.25 + label_w / (size / 2.6)
    ys = np.array([pos[t][1] for t in trts])
    ax.set_xlim(-pad, pad)
    ax.set_ylim(float(ys.min()) - 0.32, float(ys.max()) + 0.32)
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, color=st.INK)
    return st.finish(fig, save)


def league_table_plot(net: NetworkMetaAnalysisResult, *, model: str = "random",
                      order: Any = None, digits: int = 2, backtransform: bool | None = None,
                      title: str | None = None, ax: Axes | None = None,
                      save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw the league table (netmeta's ``netleague``) as a grid of cells.

    Below the diagonal: the network estimate of the **column** treatment versus the **row**
    treatment; above it: the direct estimate of the **row** versus the **column** treatment
    (tinted; blank without direct evidence). Each cell shows the estimate and its confidence
    interval; cells whose interval excludes no effect (0, or 1 for ratio measures) are shaded
    blue. Ratio measures are back-transformed unless ``backtransform=False``.

    Parameters
    ----------
    net : NetworkMetaAnalysisResult
        The fitted network.
    model : {"random", "common"}
        Which model's estimates.
    order : sequence of str, optional
        Treatment order (default: the fit's ``seq``).
    digits : int
        Decimals.
    backtransform : bool, optional
        Show ratios (``exp``) for ratio measures (default: True for OR, RR, IRR).
    title : str, optional
        Figure title.
    ax : Axes, optional
        Draw here (default: a new figure sized for the number of treatments).
    save : path, optional
        Also write the figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> import metaverdict as mv
    >>> from metaverdict.report.plots.network import league_table_plot
    >>> df = pd.DataFrame({"studlab": ["s1", "s2", "s3"], "treat1": ["A", "A", "B"],
    ...                    "treat2": ["B", "C", "C"], "TE": [0.2, 0.5, 0.3],
    ...                    "seTE": [0.2, 0.2, 0.3]})
    >>> net = mv.network.network_meta_analysis(df, method_tau="DL")
    >>> fig = league_table_plot(net, model="common", save="league.png")
    >>> fig.get_size_inches().round(2).tolist()
    [3.76, 1.8]
    """
    model = check_model(model)
    lt = net.league(model, order)
    n = len(lt.seq)
    back = net.sm in RATIO_MEASURES if backtransform is None else backtransform
    null = 1.0 if back else 0.0
    font = 7.5 if n <= 10 else 6.5 if n <= 15 else 6.0
    cell_w = 0.55 + 0.075 * font * (digits + 3) / 4
    wrap_chars = max(8, int(cell_w * 72 / (0.62 * font)))
    names = [_wrap(t, wrap_chars) for t in lt.seq]
    lines = max(2, max(name.count("\n") + 1 for name in names))
    cell_h = max(0.40 if n <= 15 else 0.36, lines * font * 1.2 / 72 + 0.1)
    top = 0.35 if title else 0.1
    bottom = 0.5
    fig, ax = st.new_figure(ax, n * cell_w, n * cell_h + top + bottom)
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.axis("off")

    def show(x: float) -> str:
        v = math.exp(x) if back else x
        return st.format_number(v, digits)

    for i in range(n):
        for j in range(n):
            est = lt.estimate[i, j]
            lo, hi = lt.ci_lower[i, j], lt.ci_upper[i, j]
            if i == j:
                fill = DIAGONAL_FILL
            elif not math.isfinite(est):
                fill = "white"
            elif (lo > 0 or hi < 0):
                fill = SIGNIFICANT_FILL
            else:
                fill = DIRECT_FILL if i < j else "white"
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=fill, edgecolor="#bfbfbf", lw=0.6,
                                   gid="cell"))
            if i == j:
                ax.text(j + 0.5, i + 0.5, names[i], ha="center", va="center",
                        fontsize=font, weight="bold", color=st.INK, linespacing=1.0)
            elif math.isfinite(est):
                ax.text(j + 0.5, i + 0.5, f"{show(est)}\n[{show(lo)}; {show(hi)}]",
                        ha="center", va="center", fontsize=font, color=st.INK,
                        linespacing=1.15)
    scale = "ratio" if back else "difference"
    note = (f"Below the diagonal: network estimate, column vs row; above: direct estimate, row "
            f"vs column ({model} effects, {st.level_percent(lt.level)} CI). Shaded blue: CI "
            f"excludes no effect ({scale} {st.format_number(null, 0)}).")
    ax.text(0, n + 0.12, _fill(note, n * cell_w * 0.88, st.SMALL_FONT_SIZE - 1),
            ha="left", va="top", fontsize=st.SMALL_FONT_SIZE - 1, color=st.INK,
            transform=ax.transData)
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, color=st.INK)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - top / fig.get_size_inches()[1],
                        bottom=bottom / fig.get_size_inches()[1])
    return st.finish(fig, save)
