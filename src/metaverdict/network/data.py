"""The contrasts of a network meta-analysis, checked and put in netmeta's order.

Input is contrast-level: one row per pairwise comparison (``TE`` = treatment 1 versus
treatment 2, its standard error, both treatments, the study); a multi-arm study gives all its
``a (a - 1) / 2`` contrasts under one study label. What netmeta does, and so does this module:

* every contrast is turned so that its first treatment comes first in R's order (``TE`` and
  the arm-level columns swapped with it);
* contrasts with a missing ``TE`` or standard error (e.g. no events in either arm) are left
  out, with a warning;
* treatments are sorted in R's order (:mod:`metaverdict.network._collation`): the rows and
  columns of every matrix.

What it refuses, naming the row and field (:class:`~metaverdict.errors.InputError`): a
non-positive or infinite standard error, a contrast of a treatment with itself, a study whose
contrasts are not exactly all pairs of its treatments (a repeated treatment or comparison, a
missing contrast), inconsistent contrasts within a multi-arm study, and a disconnected network
(the message lists the sub-networks; :func:`network_connectivity` describes them).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.sparse import csgraph, csr_matrix

from metaverdict._results import ResultMixin, read_only
from metaverdict.errors import InputError
from metaverdict.network._collation import r_less, r_sort_key, r_sorted
from metaverdict.network.pairwise import PairwiseContrasts, treatment_label

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: arm-level columns that travel with a contrast: (first arm, second arm) names
ARM_PAIRS: tuple[tuple[str, str], ...] = (("n1", "n2"), ("event1", "event2"),
                                          ("sd1", "sd2"), ("mean1", "mean2"),
                                          ("time1", "time2"), ("incr1", "incr2"))
#: netmeta's tolerance for the consistency of a multi-arm study's contrasts
TOL_MULTIARM = 0.001


@dataclass(frozen=True)
class Contrasts:
    """Checked contrasts in input order (the rows netmeta keeps), oriented ``treat1 < treat2``.

    ``row`` is the 0-based input row of each contrast; ``dropped`` the input rows left out
    (missing ``TE``/``seTE``); ``arms`` the arm-level columns (``n1``, ``event2``, ...).
    """

    studlab: tuple[str, ...]
    treat1: tuple[str, ...]
    treat2: tuple[str, ...]
    te: FloatArray
    se: FloatArray
    arms: Mapping[str, FloatArray]
    row: IntArray
    dropped: tuple[int, ...]
    treatments: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def m(self) -> int:
        return len(self.te)

    def positions(self) -> tuple[IntArray, IntArray]:
        """0-based treatment indices (in ``treatments``) of ``treat1`` and ``treat2``."""
        index = {t: i for i, t in enumerate(self.treatments)}
        return (np.array([index[t] for t in self.treat1], dtype=np.int64),
                np.array([index[t] for t in self.treat2], dtype=np.int64))

    def subset(self, keep: npt.NDArray[np.bool_]) -> Contrasts:
        """The contrasts where ``keep`` is true (treatments re-derived)."""
        idx = np.flatnonzero(keep)
        t1 = tuple(self.treat1[i] for i in idx)
        t2 = tuple(self.treat2[i] for i in idx)
        return Contrasts(studlab=tuple(self.studlab[i] for i in idx), treat1=t1, treat2=t2,
                         te=self.te[idx], se=self.se[idx],
                         arms={k: v[idx] for k, v in self.arms.items()}, row=self.row[idx],
                         dropped=(), treatments=tuple(r_sorted(t1 + t2)))


def _where(row: int, study: str | None) -> str:
    return f"row {row + 1}" + (f" (study {study!r})" if study is not None else "")


def read_contrasts(data: Any, te: str, se: str, treat1: str, treat2: str, studlab: str | None,
                   arm_columns: Mapping[str, str | None]) -> tuple[dict[str, Any], str | None]:
    """Columns of a contrast table as arrays: ``(columns, sm)`` (``sm`` from a
    :class:`PairwiseContrasts`, else None)."""
    sm = None
    if isinstance(data, PairwiseContrasts):
        sm = data.sm
        frame = data.contrasts
        auto = {name: name for name in data.arm_fields}
        arm_columns = {**auto, **{k: v for k, v in arm_columns.items() if v is not None}}
    elif isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True)
    elif isinstance(data, Mapping):
        frame = pd.DataFrame(dict(data))
    else:
        raise InputError(f"field 'data': expected a pandas DataFrame (one row per contrast) or "
                         f"the result of pairwise(), got {type(data).__name__}")
    out: dict[str, Any] = {}
    for key, col in (("te", te), ("se", se), ("treat1", treat1), ("treat2", treat2),
                     ("studlab", studlab)):
        if col is None:
            continue
        if col not in frame.columns:
            raise InputError(f"field {key!r}: no column {col!r} in the data (columns: "
                             f"{', '.join(map(str, frame.columns))})")
        out[key] = frame[col].to_numpy()
    out["names"] = {"te": te, "se": se, "treat1": treat1, "treat2": treat2,
                    "studlab": studlab}
    arms = {}
    for name, col in arm_columns.items():
        if col is None:
            continue
        if col not in frame.columns:
            raise InputError(f"field {name!r}: no column {col!r} in the data")
        arms[name] = frame[col].to_numpy()
    out["arms"] = arms
    return out, sm


def _numbers(values: Any, field: str, studies: Sequence[str | None]) -> FloatArray:
    out = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            out[i] = np.nan if v is None else float(v)
        except (TypeError, ValueError):
            raise InputError(f"{_where(i, studies[i])}, field {field!r}: not a number: "
                             f"{v!r}") from None
    return out


def prepare_contrasts(columns: Mapping[str, Any], tol_multiarm: float = TOL_MULTIARM
                      ) -> Contrasts:
    """Check the contrast table and orient it as netmeta does (see the module docstring)."""
    names = columns["names"]
    m = len(columns["te"])
    if m == 0:
        raise InputError("field 'data': no contrasts")
    if "studlab" in columns:
        studies: list[str | None] = []
        for i, s in enumerate(columns["studlab"]):
            lab = treatment_label(s)
            if lab is None:
                raise InputError(f"row {i + 1}, field {names['studlab']!r}: missing study "
                                 "label")
            studies.append(lab)
    else:   # netmeta: without labels every contrast is its own (two-arm) study
        studies = [str(i + 1) for i in range(m)]
    t1: list[str] = []
    t2: list[str] = []
    for key, out in (("treat1", t1), ("treat2", t2)):
        for i, v in enumerate(columns[key]):
            lab = treatment_label(v)
            if lab is None:
                raise InputError(f"{_where(i, studies[i])}, field {names[key]!r}: missing "
                                 "treatment")
            out.append(lab)
    te = _numbers(columns["te"], names["te"], studies)
    se = _numbers(columns["se"], names["se"], studies)
    arms = {k: _numbers(v, k, studies) for k, v in columns["arms"].items()}
    for i in range(m):
        if t1[i] == t2[i]:
            raise InputError(f"{_where(i, studies[i])}, fields {names['treat1']!r} / "
                             f"{names['treat2']!r}: a contrast needs two different treatments, "
                             f"got {t1[i]!r} twice")
        if np.isfinite(se[i]) and se[i] <= 0 or np.isinf(se[i]):
            raise InputError(f"{_where(i, studies[i])}, field {names['se']!r}: the standard "
                             f"error must be a finite number > 0, got {se[i]:g}")
        if np.isinf(te[i]):
            raise InputError(f"{_where(i, studies[i])}, field {names['te']!r}: must be finite "
                             f"(or missing), got {te[i]:g}")
    _check_study_contrasts(studies, t1, t2, "")
    keep = np.isfinite(te) & np.isfinite(se)
    warnings = []
    dropped = tuple(int(i) for i in np.flatnonzero(~keep))
    if dropped:
        warnings.append(
            f"{len(dropped)} contrast(s) with missing TE / seTE left out: "
            + "; ".join(f"{_where(i, studies[i])} {t1[i]} vs {t2[i]}" for i in dropped))
        if not keep.any():
            raise InputError("every contrast has a missing TE or standard error: no network "
                             "meta-analysis possible")
    idx = np.flatnonzero(keep)
    studies = [studies[i] for i in idx]
    t1 = [t1[i] for i in idx]
    t2 = [t2[i] for i in idx]
    te, se = te[idx], se[idx]
    arms = {k: v[idx] for k, v in arms.items()}
    if dropped:
        _check_study_contrasts(studies, t1, t2, " after leaving out the contrasts with a "
                               "missing TE / seTE", rows=[int(i) for i in idx])
    check_connected(studies, t1, t2)
    # orient: treat1 first in R's order
    for i in range(len(te)):
        if not r_less(t1[i], t2[i]):
            t1[i], t2[i] = t2[i], t1[i]
            te[i] = -te[i]
            for a, b in ARM_PAIRS:
                if a in arms and b in arms:
                    arms[a][i], arms[b][i] = arms[b][i], arms[a][i]
    contrasts = Contrasts(studlab=tuple(s or "" for s in studies), treat1=tuple(t1),
                          treat2=tuple(t2), te=te, se=se, arms=arms,
                          row=idx.astype(np.int64), dropped=dropped,
                          treatments=tuple(r_sorted(t1 + t2)), warnings=tuple(warnings))
    _check_multiarm_consistency(contrasts, tol_multiarm)
    return contrasts


def _check_study_contrasts(studies: Sequence[str | None], t1: Sequence[str],
                           t2: Sequence[str], when: str,
                           rows: Sequence[int] | None = None) -> None:
    """Each study's contrasts must be exactly all pairs of its treatments, each once."""
    by_study: dict[str | None, list[int]] = {}
    for i, s in enumerate(studies):
        by_study.setdefault(s, []).append(i)
    for s, idx in by_study.items():
        seen: dict[frozenset[str], int] = {}
        for i in idx:
            pair = frozenset((t1[i], t2[i]))
            if pair in seen:
                r1 = seen[pair] if rows is None else rows[seen[pair]]
                r2 = i if rows is None else rows[i]
                raise InputError(f"study {s!r}: rows {r1 + 1} and {r2 + 1} both compare "
                                 f"{t1[i]!r} with {t2[i]!r}; a study compares each pair of its "
                                 "treatments once (give a multi-arm study one row per pair of "
                                 "arms, and distinct studies distinct labels)")
            seen[pair] = i
        trts = {t for p in seen for t in p}
        a = len(trts)
        if len(idx) != a * (a - 1) // 2:
            missing = [f"{x} vs {y}" for x in sorted(trts, key=r_sort_key)
                       for y in sorted(trts, key=r_sort_key)
                       if r_less(x, y) and frozenset((x, y)) not in seen]
            raise InputError(f"study {s!r}{when}: {len(idx)} contrast(s) between {a} treatments "
                             f"({', '.join(sorted(trts, key=r_sort_key))}); a study with {a} arms "
                             f"needs all {a * (a - 1) // 2} pairwise contrasts (missing: "
                             f"{', '.join(missing)})")


def components(treat1: Sequence[str], treat2: Sequence[str],
               treatments: Sequence[str]) -> list[list[str]]:
    """Connected sub-networks: lists of treatments, numbered by their first treatment in
    ``treatments`` order (netconnection's numbering)."""
    index = {t: i for i, t in enumerate(treatments)}
    n = len(treatments)
    rows = [index[t] for t in treat1]
    cols = [index[t] for t in treat2]
    adj = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, labels = csgraph.connected_components(adj, directed=False)
    order: dict[int, int] = {}
    for lab in labels:
        order.setdefault(int(lab), len(order))
    groups: list[list[str]] = [[] for _ in order]
    for t, lab in zip(treatments, labels):
        groups[order[int(lab)]].append(t)
    return groups


def check_connected(studies: Sequence[str | None], t1: Sequence[str], t2: Sequence[str]) -> None:
    """Raise :class:`InputError` naming the sub-networks of a disconnected network."""
    trts = r_sorted(list(t1) + list(t2))
    groups = components(t1, t2, trts)
    if len(groups) > 1:
        parts = "; ".join(f"{i + 1}: {', '.join(g)}" for i, g in enumerate(groups))
        raise InputError(f"the network is disconnected: {len(groups)} sub-networks ({parts}); "
                         "no comparison links them. Fit each sub-network on its own "
                         "(network_connectivity() lists them)")


def _check_multiarm_consistency(c: Contrasts, tol: float) -> None:
    """The contrasts of a multi-arm study must agree (``TE_AC = TE_AB + TE_BC``) to ``tol``."""
    by_study: dict[str, list[int]] = {}
    for i, s in enumerate(c.studlab):
        by_study.setdefault(s, []).append(i)
    for s, idx in by_study.items():
        if len(idx) < 3:
            continue
        trts = r_sorted([c.treat1[i] for i in idx] + [c.treat2[i] for i in idx])
        pos = {t: k for k, t in enumerate(trts)}
        b = np.zeros((len(idx), len(trts)))
        for r, i in enumerate(idx):
            b[r, pos[c.treat1[i]]] = 1
            b[r, pos[c.treat2[i]]] = -1
        y = c.te[idx]
        theta = np.linalg.lstsq(b, y, rcond=None)[0]
        resid = y - b @ theta
        worst = int(np.argmax(np.abs(resid)))
        if abs(resid[worst]) > tol:
            i = idx[worst]
            raise InputError(f"study {s!r}: the contrasts of this multi-arm study are "
                             f"inconsistent (row {c.row[i] + 1}, {c.treat1[i]} vs {c.treat2[i]}, "
                             f"is off by {abs(resid[worst]):.4g} > {tol:g}); the contrasts of "
                             "one study must come from the same arms")


# --- netconnection ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class NetworkConnectivity(ResultMixin):
    """How the treatments of a set of contrasts are linked (R netmeta's ``netconnection``).

    ``subnetwork`` gives each treatment's sub-network (1, 2, ...; numbered by the first
    treatment in R's order); ``distance`` the number of edges on a shortest path between two
    treatments (``inf`` between sub-networks); ``adjacency`` the number of contrasts per pair
    and ``laplacian`` the unweighted Laplacian (degree minus adjacency).
    """

    treatments: tuple[str, ...]
    subnetwork: tuple[int, ...]
    k: int
    m: int
    d: int
    studies_by_subnetwork: tuple[tuple[str, ...], ...]
    _adjacency: FloatArray = field(repr=False)
    _distance: FloatArray = field(repr=False)

    _repr_fields = ("n", "n_subnets", "k", "m")
    _dict_properties = ("n", "n_subnets", "adjacency", "distance", "laplacian")

    @property
    def n(self) -> int:
        """Number of treatments."""
        return len(self.treatments)

    @property
    def n_subnets(self) -> int:
        """Number of sub-networks (1: connected)."""
        return max(self.subnetwork)

    @property
    def is_connected(self) -> bool:
        return self.n_subnets == 1

    def _frame(self, a: FloatArray) -> pd.DataFrame:
        return pd.DataFrame(np.array(a, copy=True), index=list(self.treatments),
                            columns=list(self.treatments))

    @property
    def adjacency(self) -> pd.DataFrame:
        """Number of contrasts between each pair of treatments."""
        return self._frame(self._adjacency)

    @property
    def laplacian(self) -> pd.DataFrame:
        """Unweighted Laplacian: number of contrasts of a treatment on the diagonal, minus the
        adjacency elsewhere."""
        a = self._adjacency
        return self._frame(np.diag(a.sum(axis=1)) - a)

    @property
    def distance(self) -> pd.DataFrame:
        """Shortest-path distance (number of comparisons) between treatments; ``inf`` between
        sub-networks."""
        return self._frame(self._distance)

    def subnetworks(self) -> list[list[str]]:
        """The treatments of each sub-network."""
        return [[t for t, s in zip(self.treatments, self.subnetwork) if s == k]
                for k in range(1, self.n_subnets + 1)]

    def summary(self) -> str:
        """The sub-networks and their studies."""
        lines = [f"{self.n} treatments, {self.k} studies, {self.m} contrasts, {self.d} designs: "
                 f"{'connected' if self.is_connected else f'{self.n_subnets} sub-networks'}"]
        for i, (trts, studs) in enumerate(zip(self.subnetworks(), self.studies_by_subnetwork)):
            lines.append(f"  sub-network {i + 1}: {len(trts)} treatments ({', '.join(trts)}), "
                         f"{len(studs)} studies")
        return "\n".join(lines)


def network_connectivity(data: Any, te: str = "TE", se: str = "seTE", treat1: str = "treat1",
                         treat2: str = "treat2", studlab: str | None = "studlab"
                         ) -> NetworkConnectivity:
    """Sub-networks, distances and adjacency of a contrast table (R's ``netconnection``).

    Works on disconnected networks (which :func:`network_meta_analysis` refuses); only the
    treatment and study columns are used (contrasts with a missing ``TE`` count too).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"studlab": ["s1", "s2", "s3"], "treat1": ["A", "B", "D"],
    ...                    "treat2": ["B", "C", "E"], "TE": [0.1, 0.2, 0.3],
    ...                    "seTE": [0.1, 0.1, 0.1]})
    >>> con = network_connectivity(df)
    >>> con.n_subnets, con.subnetworks()
    (2, [['A', 'B', 'C'], ['D', 'E']])
    >>> float(con.distance.loc["A", "C"]), float(con.distance.loc["A", "D"])
    (2.0, inf)
    """
    columns, _ = read_contrasts(data, te, se, treat1, treat2, studlab, {})
    m = len(columns["treat1"])
    studs = ([treatment_label(s) or "" for s in columns["studlab"]] if "studlab" in columns
             else [str(i + 1) for i in range(m)])
    t1 = [treatment_label(v) for v in columns["treat1"]]
    t2 = [treatment_label(v) for v in columns["treat2"]]
    for i in range(m):
        if t1[i] is None or t2[i] is None:
            raise InputError(f"{_where(i, studs[i])}: missing treatment")
    trts = r_sorted([t for t in t1 + t2 if t is not None])
    groups = components(t1, t2, trts)   # type: ignore[arg-type]
    sub = {t: g + 1 for g, members in enumerate(groups) for t in members}
    index = {t: i for i, t in enumerate(trts)}
    n = len(trts)
    adj = np.zeros((n, n))
    for a, b in zip(t1, t2):
        adj[index[a], index[b]] += 1    # type: ignore[index]
        adj[index[b], index[a]] += 1    # type: ignore[index]
    dist = csgraph.shortest_path(csr_matrix((adj > 0).astype(float)), unweighted=True,
                                 directed=False)
    designs = {frozenset(t for i in range(m) if studs[i] == s for t in (t1[i], t2[i]))
               for s in set(studs)}
    by_sub: list[list[str]] = [[] for _ in groups]
    for s in dict.fromkeys(studs):
        i = studs.index(s)
        by_sub[sub[t1[i]] - 1].append(s)   # type: ignore[index]
    return NetworkConnectivity(treatments=tuple(trts), subnetwork=tuple(sub[t] for t in trts),
                               k=len(set(studs)), m=m, d=len(designs),
                               studies_by_subnetwork=tuple(tuple(b) for b in by_sub),
                               _adjacency=read_only(adj), _distance=read_only(dist))
