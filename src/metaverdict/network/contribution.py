"""Contribution of each direct comparison to each network estimate (netmeta's ``netcontrib``).

Both methods start from the aggregate hat matrix (Davies et al. 2022): the direct comparisons
are the edges, each with the summed weight of its contrasts (``1 / seTE_adj²``), and row ``c``
of :math:`H = B_{full} L^+ B^\\top W` gives how the edges' direct estimates combine into the
network estimate of comparison ``c``; read as a flow of evidence from the first treatment of
``c`` to the second.

* ``"shortestpath"`` (Papakonstantinou et al. 2018): repeatedly take a shortest path (fewest
  edges, breadth-first in igraph's vertex order) in the direction of the flow, move the
  smallest flow on it, credit each of its ``l`` edges with ``flow / l``, and delete the edges
  that carry no flow any more; the credits are the contributions. Among equally short paths
  the choice follows igraph's breadth-first search, so results match netmeta's exactly only
  with the same path order.
* ``"pseudoinverse"`` (Rücker et al. 2024): with ``Z`` the path-by-edge matrix of all simple
  paths of a random walk along the flow (Davies et al. 2022), path flows ``phi = h Z⁺``
  (least squares, minimum norm) and contributions ``(phi / l) |Z|``.

Rows sum to 1.

References
----------
Papakonstantinou, T., Nikolakopoulou, A., Rücker, G., Chaimani, A., Schwarzer, G., Egger, M.,
& Salanti, G. (2018). Estimating the contribution of studies in network meta-analysis: paths,
flows and streams. F1000Research, 7, 610.
Davies, A. L., Papakonstantinou, T., Nikolakopoulou, A., Rücker, G., & Galla, T. (2022).
Network meta-analysis and random walks. Statistics in Medicine, 41(12), 2091-2114.
Rücker, G., Nikolakopoulou, A., Papakonstantinou, T., Salanti, G., Riley, R. D., &
Schwarzer, G. (2024). Paths, flows and contributions in network meta-analysis.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import linalg

from metaverdict._results import ResultMixin, read_only
from metaverdict.errors import InputError
from metaverdict.network.graph import all_pairs, full_incidence, incidence, laplacian_pinv

if TYPE_CHECKING:
    from metaverdict.network.results import NetworkMetaAnalysisResult

FloatArray = npt.NDArray[np.float64]
METHODS = ("shortestpath", "pseudoinverse")
_EPS = np.finfo(float).eps


@dataclass(frozen=True, eq=False, repr=False)
class ContributionMatrix(ResultMixin):
    """``weights[r, c]``: share of direct comparison ``columns[c]`` in the network estimate
    of ``rows[r]`` (all pairs in treatment order); rows sum to 1."""

    method: str
    model: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    weights: FloatArray

    _repr_fields = ("method", "model")

    def frame(self) -> pd.DataFrame:
        """The matrix as a DataFrame (network estimates x direct comparisons)."""
        return pd.DataFrame(np.array(self.weights, copy=True),
                            index=pd.Index(list(self.rows), name="network estimate"),
                            columns=pd.Index(list(self.columns), name="direct comparison"))

    def summary(self) -> str:
        """The matrix in percent."""
        return (f"Contributions of direct comparisons ({self.method}, {self.model} effects, "
                f"%):\n" + (100 * self.frame()).round(1).to_string())


def aggregate_hat(net: NetworkMetaAnalysisResult, model: str
                  ) -> tuple[FloatArray, list[tuple[int, int]]]:
    """The aggregate hat matrix (all pairs x direct edges) and the edges ``(i, j)``, ``i < j``."""
    fit = net.contrast_fit(model)
    p1, p2 = net.contrasts.positions()
    n = net.n
    edges = sorted({(int(a), int(b)) for a, b in zip(p1, p2)})
    w = np.zeros(len(edges))
    index = {e: k for k, e in enumerate(edges)}
    for a, b, wt in zip(p1, p2, fit.weight):
        w[index[(int(a), int(b))]] += wt
    b_agg = incidence(np.array([e[0] for e in edges]), np.array([e[1] for e in edges]), n)
    lp = laplacian_pinv(b_agg.T @ (w[:, None] * b_agg))
    return full_incidence(n) @ lp @ b_agg.T * w[None, :], edges


def _shortest_path_row(h: FloatArray, edges: list[tuple[int, int]], source: int,
                       target: int) -> FloatArray:
    # igraph graph_from_edgelist: vertex ids by first appearance, row by row
    directed = [(a, b) if h[k] > 0 else (b, a) for k, (a, b) in enumerate(edges)]
    vid: dict[int, int] = {}
    for a, b in directed:
        vid.setdefault(a, len(vid))
        vid.setdefault(b, len(vid))
    flow = {k: abs(float(h[k])) for k in range(len(edges))}
    alive = set(flow)
    weights = np.zeros(len(edges))
    if source not in vid or target not in vid:
        return weights
    src, dst = vid[source], vid[target]
    ends = {k: (vid[a], vid[b]) for k, (a, b) in enumerate(directed)}
    while True:
        out: dict[int, list[tuple[int, int]]] = {}
        for k in sorted(alive):
            out.setdefault(ends[k][0], []).append((ends[k][1], k))
        for v in out:
            out[v].sort()
        parent: dict[int, int] = {src: -1}
        queue = deque([src])
        while queue and dst not in parent:
            v = queue.popleft()
            for to, k in out.get(v, []):
                if to not in parent:
                    parent[to] = k
                    queue.append(to)
        if dst not in parent:
            break
        path = []
        v = dst
        while v != src:
            k = parent[v]
            path.append(k)
            v = ends[k][0]
        path.reverse()
        move = min(flow[k] for k in path)
        for k in path:
            flow[k] = flow[k] - move
            weights[k] += move / len(path)
        for k in path:
            if flow[k] == 0:
                alive.discard(k)
    return weights


def _simple_paths(adj: FloatArray, source: int, target: int) -> list[list[int]]:
    paths: list[list[int]] = []
    stack = [(source, [source])]
    while stack:
        v, path = stack.pop()
        if v == target:
            paths.append(path)
            continue
        for w in np.flatnonzero(adj[v] > 0):
            if int(w) not in path:
                stack.append((int(w), path + [int(w)]))
    return paths


def _pseudoinverse_row(h_full: FloatArray, n: int, t1: int, t2: int) -> FloatArray:
    pairs = all_pairs(n)
    q = np.zeros((n, n))
    for idx, (i, j) in enumerate(pairs):
        q[i, j] = h_full[idx]
        q[j, i] = -h_full[idx]
    q[q <= 0] = 0.0
    np.fill_diagonal(q, 0.0)
    sums = q.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(sums[:, None] != 0, q / sums[:, None], 0.0)
    p[t2, :] = 0.0
    p[t2, t2] = 1.0
    p[np.abs(p) < 1000 * _EPS] = 0.0
    np.fill_diagonal(p, 0.0)
    paths = _simple_paths(p, t1, t2)
    col = {pr: k for k, pr in enumerate(pairs)}
    z = np.zeros((len(paths), len(pairs)))
    for r, path in enumerate(paths):
        for a, b in zip(path[:-1], path[1:]):
            if a < b:
                z[r, col[(a, b)]] = 1.0
            else:
                z[r, col[(b, a)]] = -1.0
    length = np.abs(z).sum(axis=1)
    phi = h_full @ linalg.pinv(z)
    return (phi / length) @ np.abs(z)


def contribution_matrix(net: NetworkMetaAnalysisResult, method: str, model: str
                        ) -> ContributionMatrix:
    """Contribution matrix of ``net`` (see the module docstring)."""
    if method not in METHODS:
        raise InputError(f"field 'method': unknown {method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    h, edges = aggregate_hat(net, model)
    n = net.n
    pairs = all_pairs(n)
    trts = net.treatments
    rows = tuple(f"{trts[i]}:{trts[j]}" for i, j in pairs)
    if method == "shortestpath":
        weights = np.array([_shortest_path_row(h[r], edges, i, j)
                            for r, (i, j) in enumerate(pairs)])
        cols = tuple(f"{trts[i]}:{trts[j]}" for i, j in edges)
    else:
        h_full = np.zeros((len(pairs), len(pairs)))
        col = {pr: k for k, pr in enumerate(pairs)}
        for k, e in enumerate(edges):
            h_full[:, col[e]] = h[:, k]
        weights = np.array([_pseudoinverse_row(h_full[r], n, i, j)
                            for r, (i, j) in enumerate(pairs)])
        keep = weights.sum(axis=0) > 0
        cols = tuple(r for r, k in zip(rows, keep) if k)
        weights = weights[:, keep]
    weights[np.abs(weights) < 10 * _EPS] = 0.0
    return ContributionMatrix(method=method, model=model, rows=rows, columns=cols,
                              weights=read_only(weights))
