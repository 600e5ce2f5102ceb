"""Permutation tests for meta-analytic models (metafor ``permutest``).

Meta-regression: the rows of the design matrix are permuted relative to (yi, vi) and the
model is refitted; intercept-only models: the signs of yi are flipped. The two-sided
permutation p-value of coefficient j is the share of permutations with
:math:`|s^*_j| \\ge |s_j|`, where s is the test statistic (z or t; ``stat="test"``, the
default) or the coefficient itself (``stat="coef"``); that of the omnibus test is the share
with :math:`Q_M^* \\ge Q_M` (comparisons with a tolerance of :math:`\\sqrt{\\epsilon}`, as
metafor).

When the number of distinct permutations (k! divided by the factorials of the multiplicities
of identical design rows; 2^k sign vectors) does not exceed ``iterations``, every one is
enumerated (an exact test, the observed one among them). Otherwise ``iterations`` random
permutations are drawn from ``numpy.random.default_rng(seed)``, the first replaced by the
observed data so that p >= 1/iterations. Refits that fail are left out. The permutations are
refitted together, as batches of the kernels of :mod:`.random_effects` and :mod:`.inference`.

Permutation-based confidence intervals (``permci=True``, metafor ``permci=TRUE``) invert the
test: the lower bound of coefficient j is the value :math:`b_0` at which the one-sided
("greater") permutation p-value of the model refitted to :math:`y - b_0 x_j` equals
:math:`\\alpha/2`, searched between :math:`\\hat\\beta_j - 2(\\hat\\beta_j - lb_j)` and
:math:`\\hat\\beta_j` (lb: the model's CI bound), and the upper bound likewise with the "less"
p-value; the same permutations serve every shift, so the p-value is a step function of
:math:`b_0`. Its crossing is searched as metafor's ``uniroot`` does (R's ``zeroin``, tolerance
1e-12, negative differences scaled by 10 as metafor's ``.permci``), so that where the p-value
equals :math:`\\alpha/2` on a whole stretch the same point of it is found; a bound is NaN when
the search interval holds no crossing (``uniroot`` fails there).

Reference: Higgins & Thompson (2004), *Stat Med* 23:1663-1682; Viechtbauer et al. (2015),
*Psychol Methods* 20:360-374.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table, read_only
from metaverdict._validation import choice
from metaverdict.errors import InputError
from metaverdict.models.inference import T_TESTS
from metaverdict.models.random_effects import SolverControl
from metaverdict.models.results import MetaAnalysisResult
from metaverdict.models.univariate import fit_batch, fixed_value
from metaverdict.models.zeroin import zeroin

_TOL = float(np.sqrt(np.finfo(float).eps))
#: Permutations refitted per batch.
_BLOCK = 4096
STATS = ("test", "coef")
#: Refits check other maxima of ML/REML likelihoods only where screening suggests one (the
#: many refits of a permutation test stay cheap; metafor itself checks tau² = 0 only).
_CONTROL = SolverControl(global_search="screened", scale_free=True)


@dataclass(frozen=True, eq=False, repr=False)
class PermutationResult(ResultMixin):
    """Permutation p-values of each coefficient and of the omnibus test.

    ``coefficients`` (a new DataFrame on each access): estimate, statistic, pvalue of the
    model, permutation_pvalue, and ci_lower / ci_upper (the permutation-based CI when
    ``permci``, else the model's CI). ``statistics`` and ``estimates`` hold the permuted test
    statistics and coefficients, one row per permutation (NaN: a refit that failed); arrays
    are read-only.
    """

    iterations: int
    exact: bool
    seed: int | None
    stat: str
    permci: bool
    _coefficients: pd.DataFrame
    qm: float
    qm_pvalue: float
    qm_permutation_pvalue: float
    statistics: np.ndarray              # (iterations, p) permuted z/t statistics
    estimates: np.ndarray               # (iterations, p) permuted coefficients
    qm_statistics: np.ndarray           # (iterations,)
    _repr_fields = ("iterations", "exact", "stat", "qm", "qm_permutation_pvalue")
    _dict_properties = ("coefficients",)

    @property
    def coefficients(self) -> pd.DataFrame:
        """estimate, statistic, pvalue (model), permutation_pvalue, ci_lower, ci_upper per
        coefficient (a copy)."""
        return self._coefficients.copy()

    @property
    def pvalue(self) -> np.ndarray:
        """Permutation p-values, one per coefficient."""
        out: np.ndarray = self._coefficients["permutation_pvalue"].to_numpy(copy=True)
        return out

    def summary(self) -> str:
        kind = "exact" if self.exact else f"approximate (seed {self.seed})"
        lines = [f"Permutation test: {self.iterations} permutations, {kind}, "
                 f"statistic: {'coefficient' if self.stat == 'coef' else 'test statistic'}", "",
                 f"Omnibus test: QM = {fmt(self.qm)}, p (model) = {fmt_p(self.qm_pvalue)}, "
                 f"p (permutation) = {fmt_p(self.qm_permutation_pvalue)}", ""]
        rows = [[str(n), fmt(r.estimate), fmt(r.statistic), fmt_p(r.pvalue),
                 fmt_p(r.permutation_pvalue), fmt(r.ci_lower), fmt(r.ci_upper)]
                for n, r in self._coefficients.iterrows()]
        ci = "perm. ci" if self.permci else "ci"
        lines.append(format_table(["", "estimate", "statistic", "p (model)", "p (perm.)",
                                   f"{ci}.lb", f"{ci}.ub"], rows))
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


class _Refitter:
    """Refits of ``res`` (its method, test, level, user weights and any fixed tau²) to the
    permuted data, in batches: ``signs`` (m, k) flip the effects of an intercept-only model,
    ``orders`` (m, k) rearrange the design rows of a meta-regression."""

    def __init__(self, res: MetaAnalysisResult, draws: np.ndarray) -> None:
        self.res, self.draws = res, draws
        self.X = None if res.design is None else np.asarray(res.design, dtype=float)
        self.qm_terms = [j for j, n in enumerate(res.terms) if n != "intrcpt"]
        self.tau2 = fixed_value(res)

    def __call__(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(statistics (m, p), coefficients (m, p), QM (m,)) of every permutation of the data
        ``y`` (the model's effects, possibly shifted); NaN rows for failed refits."""
        parts = [self._block(y, self.draws[i:i + _BLOCK])
                 for i in range(0, len(self.draws), _BLOCK)]
        stat, beta, qm = (np.concatenate([part[j] for part in parts]) for j in range(3))
        bad = ~(np.all(np.isfinite(stat), axis=1) & np.isfinite(qm))
        stat[bad], beta[bad], qm[bad] = np.nan, np.nan, np.nan
        return stat, beta, qm

    def observed(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(statistics, coefficients) of the model refitted to the unpermuted ``y``."""
        keep = self.draws
        self.draws = np.ones((1, self.res.k)) if self.X is None else np.arange(self.res.k)[None]
        try:
            stat, beta, _ = self(y)
        finally:
            self.draws = keep
        return stat[0], beta[0]

    def _block(self, y: np.ndarray, draws: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        res, m = self.res, len(draws)
        v = np.broadcast_to(res.vi, (m, res.k))
        a = None if res.user_weights is None else np.broadcast_to(res.user_weights, (m, res.k))
        if self.X is None:
            yb, X = draws * y, None
        else:
            yb, X = np.broadcast_to(y, (m, res.k)), self.X[draws]
        t2, po = fit_batch(res.method, res.test, res.level, np.ascontiguousarray(yb), v, X, a,
                           _CONTROL, None if self.tau2 is None else np.full(m, self.tau2))
        stat, beta = np.asarray(po.statistic), np.asarray(po.beta)
        converged = np.asarray(t2.converged)
        stat = np.where(converged[:, None], stat, np.nan)
        if X is None:
            qm = stat[:, 0] ** 2
        else:
            idx = self.qm_terms
            b = beta[:, idx]
            vb = np.asarray(po.vb)[:, idx][:, :, idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                try:
                    qm = np.einsum("mi,mi->m", b, np.linalg.solve(vb, b[..., None])[..., 0])
                except np.linalg.LinAlgError:
                    qm = np.array([_wald(bi, vi) for bi, vi in zip(b, vb)])
            if res.test in T_TESTS:
                qm = qm / len(idx)
        return stat, beta, qm


def _wald(b: np.ndarray, vb: np.ndarray) -> float:
    try:
        return float(b @ np.linalg.solve(vb, b))
    except np.linalg.LinAlgError:
        return float("nan")


def permutation_test(res: MetaAnalysisResult, iterations: int = 1000, seed: int | None = None,
                     exact: bool | None = None, *, stat: str = "test",
                     permci: bool = False) -> PermutationResult:
    """Permutation test of the coefficients and of the omnibus test (see module docstring).

    Parameters
    ----------
    res : MetaAnalysisResult
        A fitted model; refits use its method, test, level, user weights and (if given)
        fixed tau².
    iterations : int
        Number of random permutations (>= 2).
    seed : int, optional
        Seed of the random permutations (ignored for exact tests).
    exact : bool, optional
        Force (True) or forbid (False) complete enumeration; default: enumerate when the
        number of distinct permutations is at most ``iterations``.
    stat : {"test", "coef"}
        Compare the test statistics (default) or the coefficients themselves (metafor
        ``control=list(stat="coef")``).
    permci : bool
        Also compute permutation-based confidence intervals (metafor ``permci=TRUE``); needs
        at least ``2 / (1 - level)`` permutations (a warning and the model's CI otherwise).

    Returns
    -------
    PermutationResult

    Raises
    ------
    InputError
        ``iterations`` not an integer >= 2, an unknown ``stat``, an exact test with more than
        10^6 permutations, or ``res`` not a :class:`MetaAnalysisResult`.

    Examples
    --------
    >>> import metaverdict as mv
    >>> res = mv.meta_analysis([0.1, 0.3, 0.5, 0.2, 0.6], [0.01, 0.02, 0.015, 0.01, 0.03])
    >>> perm = mv.permutation_test(res)
    >>> perm.exact, perm.iterations, float(perm.pvalue[0])
    (True, 32, 0.0625)
    """
    if not isinstance(res, MetaAnalysisResult):
        raise InputError(f"permutation_test applies to meta_analysis fits "
                         f"(MetaAnalysisResult), not {type(res).__name__}")
    if not isinstance(iterations, (int, np.integer)) or iterations < 2:
        raise InputError(f"field 'iterations': must be an integer >= 2, got {iterations!r}")
    stat = choice(stat, STATS, "stat")
    n_exact = exact_count(res)
    use_exact = n_exact <= iterations if exact is None else bool(exact)
    if use_exact and n_exact > 10 ** 6:
        raise InputError(f"an exact test needs {n_exact} permutations; use exact=False")
    k = res.k
    intercept_only = res.design is None
    if use_exact:
        gen: Iterator[np.ndarray] = (
            (np.asarray(s) for s in itertools.product((1.0, -1.0), repeat=k)) if intercept_only
            else _unique_row_orders(np.asarray(res.design)))
        draws = np.array(list(gen))
    else:
        rng = np.random.default_rng(seed)
        draws = (rng.choice([-1.0, 1.0], size=(iterations, k)) if intercept_only
                 else np.array([rng.permutation(k) for _ in range(iterations)]))
        draws[0] = 1.0 if intercept_only else np.arange(k)    # the observed data come first
    refit = _Refitter(res, draws)
    y = np.asarray(res.yi, dtype=float)
    stats_perm, beta_perm, qm_perm = refit(y)
    stat_obs, beta_obs = res.coefficient("statistic"), res.beta
    if not use_exact:           # the observed data exactly as fitted
        stats_perm[0], beta_perm[0] = stat_obs, beta_obs
        qm_perm[0] = _qm(res)
    obs, dist = (stat_obs, stats_perm) if stat == "test" else (beta_obs, beta_perm)
    pvals = np.minimum(_share(dist, np.abs(dist) >= np.abs(obs) - _TOL), 1.0)
    qm_obs = _qm(res)
    qm_p = float(np.mean(qm_perm[~np.isnan(qm_perm)] >= qm_obs - _TOL))
    lo, hi = res.coefficient("ci_lower"), res.coefficient("ci_upper")
    if permci:
        alpha = 1 - res.level
        alpha = round(alpha, 12)    # 0.05, not 1 - 0.95 = 0.05000000000000004, as metafor
        if 1 / len(draws) > alpha / 2:
            warnings.warn(f"cannot obtain a {100 * res.level:g}% permutation-based CI: "
                          f"{len(draws)} permutations are too few; the model's CI is shown",
                          UserWarning, stacklevel=2)
            permci = False
        else:
            lo, hi = _permutation_ci(res, refit, y, stat, alpha)
    coef = pd.DataFrame({"estimate": res.beta, "statistic": stat_obs,
                         "pvalue": res.coefficient("pvalue"), "permutation_pvalue": pvals,
                         "ci_lower": lo, "ci_upper": hi},
                        index=pd.Index(list(res.terms), name="term"))
    model_qm_p = float(res.pvalue) if intercept_only else float(res.qm_pvalue or np.nan)
    return PermutationResult(iterations=len(draws), exact=use_exact,
                             seed=None if use_exact else seed, stat=stat, permci=permci,
                             _coefficients=coef, qm=qm_obs, qm_pvalue=model_qm_p,
                             qm_permutation_pvalue=qm_p, statistics=read_only(stats_perm),
                             estimates=read_only(beta_perm), qm_statistics=read_only(qm_perm))


def _qm(res: MetaAnalysisResult) -> float:
    """The observed omnibus statistic: z² (or t²) of an intercept-only model, else QM."""
    return float(res.statistic ** 2 if res.design is None else (res.qm or np.nan))


def _share(dist: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """Per column, the share of permutations meeting ``hit`` among those whose refit gave a
    value (NaN entries of ``dist`` left out, as metafor's ``na.rm=TRUE``)."""
    valid = ~np.isnan(dist)
    out: np.ndarray = (np.sum(hit & valid, axis=0) / np.sum(valid, axis=0))
    return out


def _permutation_ci(res: MetaAnalysisResult, refit: _Refitter, y: np.ndarray, stat: str,
                    alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Permutation-based CI bounds of every coefficient (see module docstring)."""
    X = np.ones((res.k, 1)) if res.design is None else np.asarray(res.design, dtype=float)
    beta, lb, ub = res.beta, res.coefficient("ci_lower"), res.coefficient("ci_upper")
    lower, upper = np.full(res.p, np.nan), np.full(res.p, np.nan)
    column = 0 if stat == "test" else 1
    for j in range(res.p):
        def p_one_sided(b0: float, greater: bool, j: int = j) -> float:
            ys = y - b0 * X[:, j]
            obs = refit.observed(ys)[column][j]
            dist = refit(ys)[column][:, j]
            hit = dist >= obs - _TOL if greater else dist <= obs + _TOL
            return float(_share(dist, hit))

        def excess(b0: float, greater: bool, j: int = j) -> float:
            d = p_one_sided(b0, greater, j) - alpha / 2
            return d * 10 if d < 0 else d            # as metafor's .permci

        lower[j] = _crossing(lambda b: excess(b, True), lb[j] - (beta[j] - lb[j]), beta[j])
        upper[j] = _crossing(lambda b: excess(b, False), beta[j], ub[j] + (ub[j] - beta[j]))
    return lower, upper


def _crossing(f: Callable[[float], float], a: float, b: float) -> float:
    """Root of ``f`` in [a, b] as metafor finds it (``uniroot``, tolerance 1e-12): NaN when
    ``f`` has the same sign at both ends (``uniroot`` fails there). ``f`` is a step function
    that can be exactly 0 on a plateau, so which root is found depends on the path of the
    search; :func:`~metaverdict.models.zeroin.zeroin` follows R's exactly."""
    fa, fb = f(a), f(b)
    if not (np.isfinite(fa) and np.isfinite(fb)) or fa * fb > 0:
        return float("nan")
    return zeroin(f, a, b, fa, fb, 1e-12, 1000)[0]


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
