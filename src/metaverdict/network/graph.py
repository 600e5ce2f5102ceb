"""The graph-theoretical network meta-analysis of Rücker (2012): one weighted least-squares fit
of all contrasts, written with the incidence matrix and the Laplacian's pseudoinverse.

For ``m`` contrasts between ``n`` treatments, ``B`` is the ``m x n`` edge-vertex incidence
matrix (row ``e``: ``+1`` at the first treatment of contrast ``e``, ``-1`` at the second) and
``W = diag(w)`` the weights. Then

.. math::

    L = B^\\top W B, \\qquad \\hat\\theta = L^+ B^\\top W y, \\qquad
    \\widehat{TE}_{ij} = \\hat\\theta_i - \\hat\\theta_j, \\qquad
    \\operatorname{Var}(\\widehat{TE}_{ij}) = L^+_{ii} + L^+_{jj} - 2 L^+_{ij},

the hat matrix is :math:`H = B L^+ B^\\top W` and Cochran's
:math:`Q = (y - Hy)^\\top W (y - Hy)` with :math:`\\sum_s (a_s - 1) - (n - 1)` degrees of
freedom (``a_s`` arms in study ``s``). Multi-arm studies enter with all their contrasts and
reduced weights (:func:`multiarm_variances`), which make the diagonal ``W`` reproduce the
exact within-study covariance (Rücker & Schwarzer 2014).

References
----------
Rücker, G. (2012). Network meta-analysis, electrical networks and graph theory. Research
Synthesis Methods, 3(4), 312-324.
Rücker, G., & Schwarzer, G. (2014). Reduce dimension or reduce weights? Comparing two
approaches to multi-arm studies in network meta-analysis. Statistics in Medicine, 33(25),
4353-4369.
Jackson, D., White, I. R., & Riley, R. D. (2012). Quantifying the impact of between-study
heterogeneity in multivariate meta-analyses. Statistics in Medicine, 31(29), 3805-3820.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import linalg, stats

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: netmeta sets entries of L+ below this to exactly zero (``is.zero()``: 10 machine epsilons)
PINV_ZERO = 10 * np.finfo(float).eps
#: a negative reduced weight of a multi-arm study below this share of the study's total
#: absolute weight is set to zero (netmeta's ``multiarm()``: "contributes less than 0.1%")
NEGLIGIBLE_WEIGHT_SHARE = 0.001


def incidence(first: IntArray, second: IntArray, n: int) -> FloatArray:
    """Edge-vertex incidence matrix: row ``e`` has ``+1`` at ``first[e]``, ``-1`` at
    ``second[e]``."""
    b = np.zeros((len(first), n))
    rows = np.arange(len(first))
    b[rows, first] = 1.0
    b[rows, second] = -1.0
    return b


def all_pairs(n: int) -> list[tuple[int, int]]:
    """The ``n (n - 1) / 2`` pairs ``(i, j)``, ``i < j``, in the order ``(0, 1), (0, 2), ...``."""
    return [(i, j) for i in range(n - 1) for j in range(i + 1, n)]


def full_incidence(n: int) -> FloatArray:
    """Incidence matrix of the complete graph on ``n`` vertices, rows in :func:`all_pairs`
    order."""
    pairs = all_pairs(n)
    return incidence(np.array([p[0] for p in pairs], dtype=np.int64),
                     np.array([p[1] for p in pairs], dtype=np.int64), n)


def laplacian_pinv(lap: FloatArray) -> FloatArray:
    """Moore-Penrose pseudoinverse of a Laplacian (SciPy), tiny entries set to zero as netmeta
    does."""
    lp: FloatArray = linalg.pinv(lap)
    lp[np.abs(lp) < PINV_ZERO] = 0.0
    return lp


def multiarm_variances(pair_var: FloatArray) -> tuple[FloatArray, bool]:
    """Reduced (effective) variances of the contrasts of one multi-arm study.

    ``pair_var`` is the ``a x a`` symmetric matrix of the observed variances of the study's
    pairwise contrasts (zero diagonal). With ``C = aI - J`` the study's Laplacian
    pseudoinverse is :math:`\\tilde L = -\\tfrac{1}{2a^2} C R C` (Gutman & Xiao, Rücker 2012),
    its pseudoinverse ``L`` the study's Laplacian, whose off-diagonal ``-L_{ij}`` are the
    reduced weights; the reduced variances are their inverses. Negative weights that carry
    less than 0.1% of the study's absolute weight are set to zero (variance ``inf``), as in
    netmeta. Returns the ``a x a`` matrix of reduced variances and whether a (non-negligible)
    negative weight remained.
    """
    a = pair_var.shape[0]
    c = a * np.eye(a) - np.ones((a, a))
    lt = -0.5 * c @ pair_var @ c / a**2
    lap = linalg.pinv(lt)
    w = np.diag(np.diag(lap)) - lap
    total = np.abs(w[np.tril_indices(a, -1)]).sum()
    w[(w < 0) & (np.abs(w) / total < NEGLIGIBLE_WEIGHT_SHARE)] = 0.0
    negative = bool((w < 0).any())
    with np.errstate(divide="ignore"):
        v = 1.0 / w
    np.fill_diagonal(v, 0.0)
    return v, negative


@dataclass(frozen=True)
class GraphFit:
    """One weighted least-squares network fit (common effects, or random effects with tau²
    already in the weights).

    ``te[i, j]`` is the estimate of treatment ``i`` versus ``j``; ``edge_te`` / ``edge_se`` the
    fitted (consistent) value of each contrast; ``hat`` the ``m x m`` hat matrix.
    """

    te: FloatArray
    se: FloatArray
    laplacian: FloatArray
    laplacian_pinv: FloatArray
    hat: FloatArray
    edge_te: FloatArray
    edge_se: FloatArray
    q: float
    q_contributions: FloatArray


def fit_graph(y: FloatArray, w: FloatArray, b: FloatArray) -> GraphFit:
    """Fit contrasts ``y`` with weights ``w`` on incidence matrix ``b`` (Rücker 2012)."""
    lap = b.T @ (w[:, None] * b)
    lp = laplacian_pinv(lap)
    d = np.diag(lp)
    var = d[:, None] + d[None, :] - 2 * lp
    var[np.abs(var) < PINV_ZERO] = 0.0
    np.fill_diagonal(var, 0.0)
    theta = lp @ (b.T @ (w * y))
    te = theta[:, None] - theta[None, :]
    np.fill_diagonal(te, 0.0)
    g = b @ lp @ b.T
    hat = g * w[None, :]
    fitted = b @ theta
    resid2 = w * (y - fitted) ** 2
    return GraphFit(te=te, se=np.sqrt(np.maximum(var, 0.0)), laplacian=lap,
                    laplacian_pinv=lp, hat=hat, edge_te=fitted,
                    edge_se=np.sqrt(np.maximum(np.diag(g), 0.0)), q=float(resid2.sum()),
                    q_contributions=resid2)


def dl_tau2(fit: GraphFit, w: FloatArray, b: FloatArray, same_study: npt.NDArray[np.bool_],
            df: int) -> float:
    """Generalised DerSimonian-Laird estimate of tau² (Jackson et al. 2012, netmeta):

    .. math:: \\hat\\tau^2 = \\max\\{0, (Q - df) / \\operatorname{tr}[(I - H)
              (B B^\\top \\circ E / 2) W]\\},

    ``E`` the same-study indicator; NaN without degrees of freedom."""
    if df == 0:
        return math.nan
    m = len(w)
    structure = (b @ b.T) * same_study / 2
    denom = float(np.sum((np.eye(m) - fit.hat) * (structure * w[None, :]).T))
    return max(0.0, (fit.q - df) / denom)


def isquared(q: float, df: int, level: float) -> tuple[float, float, float]:
    """I² (a fraction) with its confidence interval, as meta's ``isquared()``.

    ``H = sqrt(Q / df)``; the CI is ``exp(log(max(H, 1)) ± z se(log H))`` with the
    Higgins-Thompson (2002) standard error (``Q > df + 1``: ``(log Q - log df) /
    (2 (sqrt(2Q) - sqrt(2 df - 1)))``, else ``sqrt(1 / (2 (df - 1)) (1 - 1 / (3 (df -
    1)^2)))``), bounds floored at ``H = 1``; ``I² = (H² - 1) / H²``.
    """
    if df < 1 or not math.isfinite(q):
        return math.nan, math.nan, math.nan
    h = math.sqrt(q / df)
    if q > df + 1:
        se = 0.5 * (math.log(q) - math.log(df)) / (math.sqrt(2 * q) - math.sqrt(2 * df - 1))
    elif df > 1:
        se = math.sqrt(1 / (2 * (df - 1)) * (1 - 1 / (3 * (df - 1) ** 2)))
    else:
        se = math.inf
    z = float(stats.norm.ppf(0.5 + level / 2))
    centre = math.log(max(h, 1.0))
    lower = max(math.exp(centre - z * se), 1.0)
    upper = max(math.exp(centre + z * se), 1.0) if math.isfinite(se) else math.inf

    def i2(x: float) -> float:
        return (x * x - 1) / (x * x) if math.isfinite(x) else math.nan
    return i2(max(h, 1.0)), i2(lower), i2(upper)


def chi2_pvalue(q: float, df: float) -> float:
    """Upper-tail chi-square probability; NaN for ``df <= 0`` (netmeta's NA)."""
    if not df > 0 or not math.isfinite(q):
        return math.nan
    return float(stats.chi2.sf(q, df))


def wald(te: FloatArray, se: FloatArray, level: float, df: float | None = None
         ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(lower, upper, statistic, pvalue)`` of normal (or t with ``df``) Wald intervals and
    tests (meta's ``ci()``)."""
    te = np.asarray(te, dtype=float)
    se = np.asarray(se, dtype=float)
    if df is None:
        crit = float(stats.norm.ppf(0.5 + level / 2))
    else:
        crit = float(stats.t.ppf(0.5 + level / 2, df))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = te / se
        p = 2 * (stats.norm.sf(np.abs(stat)) if df is None else stats.t.sf(np.abs(stat), df))
    return te - crit * se, te + crit * se, stat, p
