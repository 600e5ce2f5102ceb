r"""Random-effects terms of multivariate/multilevel models and their covariance structures
(metafor ``rma.mv``'s ``random=``, ``struct=`` and ``R=``).

Every term contributes :math:`Z D Z'` to the marginal covariance, where the indicator matrix Z
(k x q) maps the estimates to the term's q levels and D (q x q) is the levels' covariance:

* ``"~ 1 | g"``: one random intercept per level of g, :math:`D = \sigma^2 I`, or
  :math:`D = \sigma^2 R` with a known correlation matrix R (``R={"g": matrix}``, e.g. a
  phylogenetic correlation); ``"~ 1 | a/b"`` is shorthand for ``"~ 1 | a"`` and
  ``"~ 1 | a/b"`` (the levels of a, and the combinations of a and b);
* ``"~ inner | outer"``: one effect per observed (outer, inner) combination, correlated within
  the same outer level by an m x m matrix :math:`\Sigma` over the m inner levels (sorted) and
  independent across outer levels, :math:`D_{ab} = \Sigma_{\iota(a)\iota(b)}\,
  [\text{outer}_a = \text{outer}_b]`, with ``struct``

  ======  =====================================================================  ===========
  struct  :math:`\Sigma_{ij}`                                                    parameters
  ======  =====================================================================  ===========
  ID      :math:`\tau^2[i=j]`                                                    1
  DIAG    :math:`\tau^2_i[i=j]`                                                  m
  CS      :math:`\tau^2(\rho + (1-\rho)[i=j])`                                   2
  HCS     :math:`\tau_i\tau_j(\rho + (1-\rho)[i=j])`                             m + 1
  UN      :math:`\tau_i\tau_j\rho_{ij}` (:math:`\rho_{ii}=1`)                    m(m+1)/2
  AR      :math:`\tau^2\rho^{|i-j|}` (i, j: positions of the sorted inner levels)  2
  HAR     :math:`\tau_i\tau_j\rho^{|i-j|}`                                       m + 1
  CAR     :math:`\tau^2\rho^{|t_a-t_b|}` (t: the numeric inner values)            2
  ======  =====================================================================  ===========

Parameters are optimised on an unconstrained scale: variances as logs, correlations as
:math:`\operatorname{atanh}\rho` (:math:`\operatorname{logit}\rho` for CAR, whose
:math:`\rho\in(0,1)`); the correlations of UN with more than two inner levels as the atanh of
canonical partial correlations, which always give a positive definite matrix (metafor's
optimum can lie on its boundary). Values that make a CS, HCS or UN correlation matrix
indefinite are inadmissible (likelihood :math:`-\infty`). The covariance functions accept
complex parameters, so that derivatives come from complex steps (Squire & Trapp 1998) exactly
to rounding.

References: Viechtbauer (2010), metafor ``rma.mv``; Berkey et al. (1998), *Stat Med*
17:2537-2550; Ishak et al. (2007), *Clin Trials* 4:525-539; Lewandowski, Kurowicka & Joe
(2009), *J Multivar Anal* 100:1989-2001.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metaverdict.errors import InputError

STRUCTS = ("ID", "DIAG", "CS", "HCS", "UN", "AR", "HAR", "CAR")
_TERM = re.compile(r"^\s*~?\s*(?P<inner>[^|]+?)\s*\|\s*(?P<outer>.+?)\s*$")


#: The range of each kind of parameter: variances, correlations, CAR correlations.
PARAMETER_RANGE = {"var": (0.0, np.inf), "cor": (-1.0, 1.0), "car": (0.0, 1.0)}


@dataclass(frozen=True, eq=False)
class RandomTerm:
    """One random-effects term: its levels, indicator matrix and covariance structure.

    ``kinds`` names each parameter's range: ``"var"`` (>= 0), ``"cor"`` (-1, 1) or ``"car"``
    (0, 1); ``names`` are metafor's (``sigma2``; ``tau2``, ``rho`` for the first structured
    term; ``gamma2``, ``phi`` for the second).
    """

    label: str
    struct: str
    Z: np.ndarray                      # (k, q) indicators
    levels: tuple[str, ...]            # the q level names
    inner: np.ndarray | None = None    # (q,) position of each level's inner value (structured)
    outer: np.ndarray | None = None    # (q,) outer code of each level (structured)
    times: np.ndarray | None = None    # (q,) numeric inner values (CAR)
    R: np.ndarray | None = None        # (q, q) known correlation (intercept terms)
    inner_levels: tuple[str, ...] = ()
    prefix: tuple[str, str] = ("sigma2", "")

    @property
    def structured(self) -> bool:
        """True for ``~ inner | outer`` terms (tau²/rho or gamma²/phi in metafor)."""
        return self.inner is not None

    @property
    def m(self) -> int:
        return len(self.inner_levels)

    @property
    def n_variances(self) -> int:
        return self.m if self.struct in ("DIAG", "HCS", "UN", "HAR") else 1

    @property
    def n_correlations(self) -> int:
        if not self.structured or self.struct in ("ID", "DIAG"):
            return 0
        return self.m * (self.m - 1) // 2 if self.struct == "UN" else 1

    @property
    def kinds(self) -> tuple[str, ...]:
        cor = "car" if self.struct == "CAR" else "cor"
        return ("var",) * self.n_variances + (cor,) * self.n_correlations

    @property
    def names(self) -> list[str]:
        var, cor = self.prefix
        nv = self.n_variances
        out = [var] if nv == 1 else [f"{var}.{j + 1}" for j in range(nv)]
        if self.struct == "UN" and self.m > 2:
            out += [f"{cor}.{i + 1}.{j + 1}" for i, j in zip(*_pairs(self.m))]
        elif self.n_correlations:
            out.append(cor)
        return out

    def admissible(self, values: np.ndarray) -> bool:
        """Whether the inner correlation matrix is positive semi-definite (CS, HCS and UN
        correlations can make it indefinite; metafor refuses such values too)."""
        if self.struct not in ("CS", "HCS", "UN"):
            return True
        m = self.m
        cor = np.real(values[self.n_variances:])
        corr = np.eye(m)
        if self.struct == "UN":
            i, j = _pairs(m)
            corr[i, j] = cor
            corr[j, i] = cor
        else:
            corr = cor[0] + (1 - cor[0]) * corr
        return bool(np.linalg.eigvalsh(corr)[0] >= -1e-12)

    def covariance(self, values: np.ndarray) -> np.ndarray:
        """D (q x q) for natural parameter values (variances, then correlations; complex
        values allowed)."""
        nv = self.n_variances
        var, cor = values[:nv], values[nv:]
        if not self.structured:
            base = np.eye(len(self.levels)) if self.R is None else self.R
            plain: np.ndarray = var[0] * base
            return plain
        assert self.inner is not None and self.outer is not None
        same = self.outer[:, None] == self.outer[None, :]
        if self.struct == "CAR":
            assert self.times is not None
            lag = np.abs(self.times[:, None] - self.times[None, :])
            out: np.ndarray = var[0] * np.power(cor[0], lag) * same     # 0^0 = 1 at rho = 0
            return out
        m = self.m
        sd = np.sqrt(var) if nv > 1 else np.full(m, np.sqrt(var[0]))
        if self.struct in ("ID", "DIAG"):
            corr = np.eye(m, dtype=values.dtype)
        elif self.struct in ("CS", "HCS"):
            corr = cor[0] + (1 - cor[0]) * np.eye(m)
        elif self.struct in ("AR", "HAR"):
            powers = np.cumprod(np.concatenate([[1.0 + 0j if np.iscomplexobj(cor) else 1.0],
                                                np.repeat(cor[0], m - 1)]))
            corr = powers[np.abs(np.arange(m)[:, None] - np.arange(m)[None, :])]
        else:                                              # UN
            corr = np.eye(m, dtype=values.dtype)
            i, j = _pairs(m)
            corr[i, j] = cor
            corr[j, i] = cor
        sigma = sd[:, None] * sd[None, :] * corr
        out = sigma[np.ix_(self.inner, self.inner)] * same
        return out


def _pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of an m x m correlation matrix in metafor's order (its lower
    triangle column by column: (1,2), (1,3), ..., (2,3), ...)."""
    i, j = np.triu_indices(m, 1)
    return i, j


def spherical_term(term: RandomTerm) -> bool:
    """Whether the term's correlations are optimised as partial correlations (UN, m > 2)."""
    return term.struct == "UN" and term.m > 2


def partial_to_correlation(z: np.ndarray, m: int) -> np.ndarray:
    """Correlations (pair order of :func:`_pairs`) from canonical partial correlations z in
    (-1, 1) (Lewandowski, Kurowicka & Joe 2009): row i of the Cholesky factor L is
    :math:`L_{ij} = z_{ji}\\sqrt{1 - \\sum_{l<j}L_{il}^2}` for j < i and
    :math:`L_{ii} = \\sqrt{1 - \\sum_{l<i}L_{il}^2}`, and :math:`C = LL'`, which is positive
    definite for every z (complex-safe)."""
    i_idx, j_idx = _pairs(m)
    zm = np.zeros((m, m), dtype=z.dtype)
    zm[j_idx, i_idx] = z                                # zm[i, j] = z_(j, i), i > j
    L = np.zeros((m, m), dtype=z.dtype)
    L[0, 0] = 1.0
    for i in range(1, m):
        rest = 1.0 + 0 * z[0]
        for j in range(i):
            L[i, j] = zm[i, j] * np.sqrt(rest)
            rest = rest - L[i, j] ** 2
        L[i, i] = np.sqrt(rest)
    C = L @ L.T
    out: np.ndarray = C[i_idx, j_idx]
    return out


def correlation_to_partial(r: np.ndarray, m: int) -> np.ndarray:
    """Inverse of :func:`partial_to_correlation` (r must give a positive definite matrix)."""
    i_idx, j_idx = _pairs(m)
    C = np.eye(m)
    C[i_idx, j_idx] = r
    C[j_idx, i_idx] = r
    L = np.linalg.cholesky(C)
    z = np.zeros((m, m))
    for i in range(1, m):
        rest = 1.0
        for j in range(i):
            z[i, j] = L[i, j] / np.sqrt(rest)
            rest -= L[i, j] ** 2
    out: np.ndarray = np.clip(z[j_idx, i_idx], -1 + 1e-12, 1 - 1e-12)
    return out


def term_natural(term: RandomTerm, theta: np.ndarray, spherical: bool) -> np.ndarray:
    """A term's natural values from its unconstrained parameters (UN correlations through
    partial correlations when ``spherical``); complex-safe."""
    out = natural(theta, term.kinds)
    if spherical and spherical_term(term):
        nv = term.n_variances
        out[nv:] = partial_to_correlation(out[nv:], term.m)
    return out


def term_unconstrained(term: RandomTerm, values: np.ndarray, spherical: bool) -> np.ndarray:
    """Inverse of :func:`term_natural`."""
    vals = np.array(values, dtype=float)
    if spherical and spherical_term(term):
        nv = term.n_variances
        try:
            vals[nv:] = correlation_to_partial(vals[nv:], term.m)
        except np.linalg.LinAlgError:
            vals[nv:] = 0.0
    return unconstrained(vals, term.kinds)


def natural(theta: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
    """Unconstrained parameters -> variances and correlations (complex-safe)."""
    out = np.empty_like(theta)
    for n, (t, kind) in enumerate(zip(theta, kinds)):
        if kind == "var":
            out[n] = np.exp(t)
        else:
            out[n] = np.tanh(t) if kind == "cor" else 1 / (1 + np.exp(-t))
    return out


def unconstrained(values: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
    """Inverse of :func:`natural`, with values on the boundary moved just inside it."""
    out = np.empty(len(values))
    for n, (v, kind) in enumerate(zip(values, kinds)):
        if kind == "var":
            out[n] = np.log(max(v, 1e-300))
        elif kind == "cor":
            out[n] = np.arctanh(np.clip(v, -1 + 1e-15, 1 - 1e-15))
        else:
            c = float(np.clip(v, 1e-15, 1 - 1e-15))
            out[n] = np.log(c / (1 - c))
    return out


# ----------------------------------------------------------------------------- parsing

def _labels(frame: pd.DataFrame) -> np.ndarray:
    """One string label per row for the combination of the columns (``a/b``)."""
    parts = [frame[c].astype(str).to_numpy(dtype=str) for c in frame.columns]
    out: np.ndarray = parts[0]
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, "/"), p)
    return np.asarray(out, dtype=str)


def _sort(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by every column (numbers numerically; mixed columns as text)."""
    try:
        return frame.sort_values(list(frame.columns), kind="mergesort")
    except TypeError:
        return frame.sort_values(list(frame.columns), kind="mergesort",
                                 key=lambda c: c.astype(str))


def _sorted_levels(frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Unique combinations sorted as R's factor() sorts each column (numbers numerically),
    and each row's level index."""
    uniq = _sort(frame.drop_duplicates())
    names = list(_labels(uniq))
    index = {n: i for i, n in enumerate(names)}
    codes = np.array([index[n] for n in _labels(frame)], dtype=int)
    return names, codes


def _check_columns(data: pd.DataFrame, cols: list[str], formula: str,
                   labels: list[Any]) -> None:
    for c in cols:
        if c not in data.columns:
            raise InputError(f"field 'random': no column {c!r} in data for the term {formula!r} "
                             f"(columns: {list(data.columns)})")
        bad = np.flatnonzero(data[c].isna().to_numpy())
        if bad.size:
            raise InputError(f"study {labels[bad[0]]!r}, field {c!r}: missing value in a "
                             f"random-effects variable")


def _indicator(codes: np.ndarray, q: int) -> np.ndarray:
    z: np.ndarray = (codes[:, None] == np.arange(q)[None, :]).astype(float)
    return z


def _known_correlation(R: Any, levels: list[str], name: str) -> np.ndarray:
    """The known matrix of term ``name`` restricted to and ordered by ``levels``, scaled to a
    correlation matrix (metafor's default ``Rscale="cor"``)."""
    if isinstance(R, pd.DataFrame):
        idx = [str(i) for i in R.index]
        cols = [str(c) for c in R.columns]
        if idx != cols:
            raise InputError(f"field 'R': the matrix for {name!r} needs the same row and "
                             "column labels")
        missing = [lv for lv in levels if lv not in idx]
        if missing:
            raise InputError(f"field 'R': level {missing[0]!r} of {name!r} has no row in the "
                             "known correlation matrix")
        pos = [idx.index(lv) for lv in levels]
        mat = R.to_numpy(dtype=float)[np.ix_(pos, pos)]
    else:
        mat = np.asarray(R, dtype=float)
        if mat.shape != (len(levels), len(levels)):
            raise InputError(f"field 'R': the matrix for {name!r} must be a labelled DataFrame "
                             f"or {len(levels)} x {len(levels)} in the sorted order of its "
                             f"levels, got shape {mat.shape}")
    if not np.allclose(mat, mat.T, rtol=1e-10, atol=1e-12) or np.any(np.diag(mat) <= 0):
        raise InputError(f"field 'R': the matrix for {name!r} must be symmetric with a "
                         "positive diagonal")
    d = np.sqrt(np.diag(mat))
    out: np.ndarray = mat / d[:, None] / d[None, :]
    return out


def parse_random(random: Any, struct: Any, data: pd.DataFrame, R: dict[str, Any] | None,
                 labels: list[Any]) -> list[RandomTerm]:
    """Parse metafor-style formulas (``"~ 1 | a/b"``, ``"~ inner | outer"``) into terms;
    ``struct`` is one name for every structured term or a list, one per structured term."""
    if random is None:
        return []
    formulas = [random] if isinstance(random, str) else list(random)
    structured = [f for f in formulas if _split(f)[0] != "1"]
    structs = [struct] * len(structured) if isinstance(struct, str) else list(struct)
    if len(structs) < len(structured):
        raise InputError(f"field 'struct': {len(structured)} structured terms need as many "
                         f"structures, got {structs}")
    R = dict(R or {})
    terms: list[RandomTerm] = []
    n_struct = 0
    for f in formulas:
        inner, outer = _split(f)
        if inner == "1":
            cols = [c.strip() for c in outer.split("/")]
            _check_columns(data, cols, f, labels)
            for depth in range(1, len(cols) + 1):
                sub = cols[:depth]
                name = "/".join(sub)
                levels, codes = _sorted_levels(data[sub].reset_index(drop=True))
                known = None
                if depth == 1 and name in R:
                    known = _known_correlation(R.pop(name), levels, name)
                terms.append(RandomTerm(label=name, struct="ID",
                                        Z=_indicator(codes, len(levels)),
                                        levels=tuple(levels), R=known))
            continue
        s = str(structs[n_struct]).upper()
        if s not in STRUCTS:
            raise InputError(f"field 'struct': unknown structure {structs[n_struct]!r} "
                             f"(options: {', '.join(STRUCTS)})")
        prefix = ("tau2", "rho") if n_struct == 0 else ("gamma2", "phi")
        n_struct += 1
        _check_columns(data, [inner, outer], f, labels)
        frame = data[[outer, inner]].reset_index(drop=True)
        levels, codes = _sorted_levels(frame)
        uniq = _sort(frame.drop_duplicates())
        inner_names, inner_pos = _sorted_levels(uniq[[inner]])
        _, outer_pos = _sorted_levels(uniq[[outer]])
        times = None
        if s == "CAR":
            times = pd.to_numeric(uniq[inner], errors="coerce").to_numpy(dtype=float)
            if not np.isfinite(times).all():
                raise InputError(f"field {inner!r}: struct='CAR' needs a numeric time variable")
        terms.append(RandomTerm(label=f"{inner} | {outer}", struct=s,
                                Z=_indicator(codes, len(levels)),
                                levels=tuple(f"{a} | {b}" for b, a in uniq.to_numpy()),
                                inner=inner_pos, outer=outer_pos, times=times,
                                inner_levels=tuple(inner_names), prefix=prefix))
    if R:
        raise InputError(f"field 'R': {sorted(R)[0]!r} is not the grouping variable of a "
                         "'~ 1 | g' term")
    return terms


def _split(formula: str) -> tuple[str, str]:
    m = _TERM.match(str(formula))
    if not m:
        raise InputError(f"field 'random': cannot read {formula!r}; write '~ 1 | group' or "
                         "'~ inner | outer'")
    return m.group("inner").strip(), m.group("outer").strip()
