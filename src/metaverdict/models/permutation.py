"""Permutation tests for meta-analytic models (metafor ``permutest``).

Meta-regression: the rows of the design matrix are permuted relative to (yi, vi) and the
model is refitted; intercept-only models: the signs of yi are flipped. The two-sided
permutation p-value of coefficient j is the share of permutations with
:math:`|z^*_j| \\ge |z_j|` (z or t statistics), that of the omnibus test the share with
:math:`Q_M^* \\ge Q_M` (comparisons with a tolerance of :math:`\\sqrt{\\epsilon}`, as metafor).

When the number of distinct permutations (k! divided by the factorials of the multiplicities
of identical design rows; 2^k sign vectors) does not exceed ``iterations``, every one is
enumerated (an exact test, the observed one among them). Otherwise ``iterations`` random
permutations are drawn from ``numpy.random.default_rng(seed)``, the first replaced by the
observed data so that p >= 1/iterations. Refits that fail are left out.

Reference: Higgins & Thompson (2004), *Stat Med* 23:1663-1682; Viechtbauer et al. (2015),
*Psychol Methods* 20:360-374.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table, read_only
from metaverdict.errors import InputError
from metaverdict.models.results import MetaAnalysisResult
from metaverdict.models.univariate import fit

_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True, eq=False, repr=False)
class PermutationResult(ResultMixin):
    """Permutation p-values of each coefficient (``coefficients``: estimate, statistic, pvalue
    of the model, permutation_pvalue; a new DataFrame on each access) and of the omnibus
    test. Arrays are read-only."""

    iterations: int
    exact: bool
    seed: int | None
    _coefficients: pd.DataFrame
    qm: float
    qm_pvalue: float
    qm_permutation_pvalue: float
    statistics: np.ndarray              # (iterations, p) permuted z/t statistics
    qm_statistics: np.ndarray           # (iterations,)
    _repr_fields = ("iterations", "exact", "qm", "qm_permutation_pvalue")
    _dict_properties = ("coefficients",)

    @property
    def coefficients(self) -> pd.DataFrame:
        """estimate, statistic, pvalue (model) and permutation_pvalue per coefficient (a copy)."""
        return self._coefficients.copy()

    @property
    def pvalue(self) -> np.ndarray:
        """Permutation p-values, one per coefficient."""
        out: np.ndarray = self._coefficients["permutation_pvalue"].to_numpy(copy=True)
        return out

    def summary(self) -> str:
        kind = "exact" if self.exact else f"approximate (seed {self.seed})"
        lines = [f"Permutation test: {self.iterations} permutations, {kind}", "",
                 f"Omnibus test: QM = {fmt(self.qm)}, p (model) = {fmt_p(self.qm_pvalue)}, "
                 f"p (permutation) = {fmt_p(self.qm_permutation_pvalue)}", ""]
        rows = [[str(n), fmt(r.estimate), fmt(r.statistic), fmt_p(r.pvalue),
                 fmt_p(r.permutation_pvalue)] for n, r in self._coefficients.iterrows()]
        lines.append(format_table(["", "estimate", "statistic", "p (model)", "p (perm.)"], rows))
        return "\n".join(lines)


def exact_count(res: MetaAnalysisResult) -> int:
    """Number of distinct permutations: 2^k sign vectors (intercept only), or the multinomial
    k! / prod(m_r!) over groups of identical design rows."""
    if res.design is None:
        n_signs: int = 2 ** res.k
        return n_signs
    counts = Counter(map(tuple, np.asarray(res.design)))
    n = math.factorial(res.k)
    for m in counts.values():
        n //= math.factorial(m)
    return n


def permutation_test(res: MetaAnalysisResult, iterations: int = 1000, seed: int | None = None,
                     exact: bool | None = None) -> PermutationResult:
    """Permutation test of the coefficients and of the omnibus test (see module docstring).

    Parameters
    ----------
    res : MetaAnalysisResult
        A fitted model; refits use its method, test, level and user weights.
    iterations : int
        Number of random permutations (>= 2).
    seed : int, optional
        Seed of the random permutations (ignored for exact tests).
    exact : bool, optional
        Force (True) or forbid (False) complete enumeration; default: enumerate when the
        number of distinct permutations is at most ``iterations``.

    Returns
    -------
    PermutationResult
    """
    if not isinstance(iterations, (int, np.integer)) or iterations < 2:
        raise InputError(f"field 'iterations': must be an integer >= 2, got {iterations!r}")
    n_exact = exact_count(res)
    use_exact = n_exact <= iterations if exact is None else bool(exact)
    if use_exact and n_exact > 10 ** 6:
        raise InputError(f"an exact test needs {n_exact} permutations; use exact=False")
    y, v = np.asarray(res.yi), np.asarray(res.vi)
    names = list(res.terms)
    X = res.design
    intercept_only = X is None

    def refit(yp: np.ndarray, Xp: np.ndarray | None) -> tuple[np.ndarray, float]:
        r = fit(yp, v, method=res.method, test=res.test, level=res.level, X=Xp, names=names,
                weights=res.user_weights, skip_r2=True)
        stat = r.coefficient("statistic")
        # a meta-regression (Xp given) always has QM
        return stat, (stat[0] ** 2 if intercept_only else float(cast(float, r.qm)))

    qm_obs = res.statistic ** 2 if intercept_only else float(cast(float, res.qm))
    stat_obs = res.coefficient("statistic")
    if use_exact:
        draws: Iterator[np.ndarray] = (
            (_signs(s) for s in itertools.product((1.0, -1.0), repeat=res.k)) if X is None
            else _unique_row_orders(X))
        count = n_exact
    else:
        rng = np.random.default_rng(seed)
        draws = (rng.choice([-1.0, 1.0], size=res.k) if intercept_only else rng.permutation(res.k)
                 for _ in range(iterations))
        count = iterations
    stats_perm = np.full((count, len(names)), np.nan)
    qm_perm = np.full(count, np.nan)
    for i, draw in enumerate(draws):
        if not use_exact and i == 0:
            stats_perm[0], qm_perm[0] = stat_obs, qm_obs      # the observed data come first
            continue
        try:
            if X is None:                                     # intercept only
                stats_perm[i], qm_perm[i] = refit(draw * y, None)
            else:
                stats_perm[i], qm_perm[i] = refit(y, X[draw])
        except (InputError, np.linalg.LinAlgError, FloatingPointError):
            continue
    valid = ~np.isnan(stats_perm).any(axis=1)
    pvals = np.mean(np.abs(stats_perm[valid]) >= np.abs(stat_obs) - _TOL, axis=0)
    qm_p = float(np.mean(qm_perm[~np.isnan(qm_perm)] >= qm_obs - _TOL))
    coef = pd.DataFrame({"estimate": res.beta, "statistic": stat_obs,
                         "pvalue": res.coefficient("pvalue"),
                         "permutation_pvalue": np.minimum(pvals, 1.0)},
                        index=pd.Index(names, name="term"))
    model_qm_p = (float(res.pvalue) if intercept_only else float(cast(float, res.qm_pvalue)))
    return PermutationResult(iterations=count, exact=use_exact, seed=None if use_exact else seed,
                             _coefficients=coef, qm=float(qm_obs), qm_pvalue=model_qm_p,
                             qm_permutation_pvalue=qm_p, statistics=read_only(stats_perm),
                             qm_statistics=read_only(qm_perm))


def _signs(s: tuple[float, ...]) -> np.ndarray:
    return np.asarray(s)


def _unique_row_orders(X: np.ndarray) -> Iterator[np.ndarray]:
    """Every distinct arrangement of the rows of X (rows that are identical are interchangeable),
    as index arrays into X; the identity arrangement comes first."""
    rows = [tuple(r) for r in np.asarray(X)]
    first: dict[tuple[Any, ...], int] = {}
    labels = [first.setdefault(r, i) for i, r in enumerate(rows)]
    remaining = Counter(labels)
    k = len(labels)
    out = [0] * k

    def place(pos: int) -> Iterator[np.ndarray]:
        if pos == k:
            yield np.asarray(out)
            return
        for lab in sorted(remaining, key=lambda x: (x != labels[pos], x)):
            if remaining[lab]:
                remaining[lab] -= 1
                out[pos] = lab
                yield from place(pos + 1)
                remaining[lab] += 1

    return place(0)
