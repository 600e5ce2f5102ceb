"""Duval and Tweedie's trim-and-fill method (metafor ``trimfill``)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from metaverdict._results import ResultMixin, fmt, read_only
from metaverdict._validation import choice
from metaverdict.diagnostics._refit import (
    pool_batch,
    refit,
    require_intercept_only,
    require_result,
    require_studies,
)
from metaverdict.diagnostics.publication_bias import sei_regression
from metaverdict.errors import InputError
from metaverdict.models.random_effects import SolverControl
from metaverdict.models.results import MetaAnalysisResult


class Estimator(StrEnum):
    """Duval and Tweedie's estimators of the number of missing studies."""

    L0 = "L0"
    R0 = "R0"


class Side(StrEnum):
    """The side of the funnel plot where studies are missing."""

    LEFT = "left"
    RIGHT = "right"


ESTIMATORS = {e.value: e for e in Estimator}
SIDES = {s.value: s for s in Side}


@dataclass(frozen=True, eq=False, repr=False)
class TrimAndFill(ResultMixin):
    """Result of trim-and-fill.

    ``k0``: estimated number of missing studies on ``side`` ("left" or "right"), ``se_k0`` its
    standard error, ``p_k0`` the p-value of H0: k0 = 0 (R0 only, NaN for L0); ``filled``: the
    model refitted to the augmented data ``yi_augmented``/``vi_augmented`` (the original
    studies in their order, then the ``k0`` imputed ones, flagged by ``is_filled``); when
    k0 = 0 it is the original model.
    """

    estimator: str
    side: str
    k0: int
    se_k0: float
    p_k0: float
    filled: MetaAnalysisResult
    yi_augmented: np.ndarray
    vi_augmented: np.ndarray
    is_filled: np.ndarray
    _repr_fields = ("estimator", "side", "k0", "filled")

    def summary(self) -> str:
        head = (f"Trim-and-fill ({self.estimator}): estimated {self.k0} missing "
                f"stud{'y' if self.k0 == 1 else 'ies'} on the {self.side} side "
                f"(SE = {fmt(self.se_k0)}"
                + (f", p = {fmt(self.p_k0)})" if not np.isnan(self.p_k0) else ")"))
        return head + "\n\n" + self.filled.summary()


def trim_and_fill(res: MetaAnalysisResult, estimator: str = "L0", side: str | None = None,
                  max_iter: int = 100, control: SolverControl | None = None) -> TrimAndFill:
    """Estimate and impute studies missing from one side of the funnel plot.

    Algorithm (Duval & Tweedie 2000; metafor's implementation): if ``side`` is not given, it
    is "right" when the slope of Egger's meta-regression on the standard errors (fitted with
    the estimator of ``res``) is negative and "left" otherwise. The effects are mirrored for
    the right side and sorted; then, starting from :math:`k_0 = 0`, the model is fitted to the
    :math:`k - k_0` smallest effects, the effects are centred at its estimate, their absolute
    values ranked (ties by order), and

    * L0: :math:`k_0 = (4 S_r - k(k+1))/(2k-1)` with :math:`S_r` the sum of the positive signed
      ranks, :math:`\\operatorname{SE}(k_0) = 4\\sqrt{\\operatorname{Var}(S_r)}/(2k-1)`;
    * R0: :math:`k_0 = \\gamma^* - 1` with :math:`\\gamma^*` the length of the rightmost run of
      positive ranks (k minus the largest rank of a negative centred value),
      :math:`\\operatorname{SE}(k_0) = \\sqrt{2\\max(0, k_0) + 2}`, :math:`p = 0.5^{k_0+1}`;

    rounded (half to even) and truncated at 0, until :math:`k_0` no longer changes. The
    :math:`k_0` most extreme studies are mirrored about the last estimate and the model is
    refitted to the augmented data with the estimator and test of ``res`` (metafor refits
    with a z test whatever the original test).

    Parameters
    ----------
    res : MetaAnalysisResult
        An intercept-only model.
    estimator : {"L0", "R0"}
    side : {"left", "right"}, optional
        Side of the funnel plot where studies are missing (default: estimated as above).
    max_iter : int
        Maximum number of iterations.
    control : SolverControl, optional
        Convergence settings of the refits (default: the engine's, i.e. exact solutions).
        metafor 3.8's ``trimfill`` refits with its default settings whatever the model's, so
        its REML/ML/EB/PM values carry errors up to ~1e-5 in tau²;
        ``SolverControl(tol=1e-5, global_search=False, scale_free=False)`` mimics that
        stopping rule.

    Raises
    ------
    InputError
        Moderators, k < 2 (or too few studies to estimate the side), unknown estimator or
        side, or no convergence within ``max_iter`` iterations.

    Examples
    --------
    >>> import metaverdict as mv
    >>> res = mv.meta_analysis([0.1, 0.3, 0.5, 0.2, 0.6], [0.01, 0.02, 0.015, 0.01, 0.03])
    >>> tf = mv.trim_and_fill(res)
    >>> tf.k0, tf.side == "left", round(tf.filled.estimate, 4)
    (0, True, 0.3153)

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based method of testing and
    adjusting for publication bias in meta-analysis. *Biometrics* 56:455-463. Duval S,
    Tweedie R (2000). A nonparametric "trim and fill" method of accounting for publication
    bias in meta-analysis. *JASA* 95:89-98.
    """
    require_result(res, "trim_and_fill")
    require_intercept_only(res, "trim-and-fill")
    estimator = choice(estimator, ESTIMATORS, "estimator")
    if res.k < 2:
        raise InputError(f"trim-and-fill needs at least 2 studies, got k = {res.k}")
    a = res.user_weights
    control = control or SolverControl()
    side = _side(res, control) if side is None else choice(side, SIDES, "side")
    sign = -1.0 if side == Side.RIGHT else 1.0
    order = np.argsort(sign * res.yi, kind="stable")
    y, v = sign * res.yi[order], res.vi[order]
    w = None if a is None else np.asarray(a)[order]
    k = res.k
    k0, previous, beta, se_k0 = 0, -1, np.nan, np.nan
    for _ in range(max_iter):
        if k0 == previous:
            break
        previous = k0
        n = k - k0
        _, po = pool_batch(res.method, "z", res.level, y[None, :n], v[None, :n], None,
                           None if w is None else w[None, :n], control)
        beta = float(po.beta[0, 0])
        k0_raw, se_k0 = _estimate_k0(estimator, y - beta, k)
        k0 = int(max(0, np.round(k0_raw)))
        se_k0 = max(0.0, se_k0) if not np.isnan(se_k0) else se_k0
    else:
        if k0 != previous:
            raise InputError(f"trim-and-fill did not converge in {max_iter} iterations")
    p_k0 = 0.5 ** (k0 + 1) if estimator == Estimator.R0 else np.nan
    if k0 == 0:
        return TrimAndFill(estimator, side, 0, float(se_k0), p_k0, res, res.yi, res.vi,
                           read_only(np.zeros(k, dtype=bool)))
    # mirror the k0 most extreme studies about the estimate (in the original direction)
    y_fill = sign * (2 * beta - y[k - k0:])
    yi = np.concatenate([res.yi, y_fill])
    vi = np.concatenate([res.vi, v[k - k0:]])
    wi = None if w is None else np.concatenate([np.asarray(a), w[k - k0:]])
    labels = (list(res.labels) if res.labels is not None else [f"Study {i + 1}" for i in range(k)])
    labels += [f"Filled {j + 1}" for j in range(k0)]
    filled = refit(res, yi, vi, weights=wi, labels=labels, control=control)
    return TrimAndFill(estimator, side, k0, float(se_k0), p_k0, filled, filled.yi, filled.vi,
                       read_only(np.r_[np.zeros(k, dtype=bool), np.ones(k0, dtype=bool)]))


def _side(res: MetaAnalysisResult, control: SolverControl) -> Side:
    """"right" if the Egger slope on sqrt(vi) is negative (missing studies then lie right)."""
    require_studies(res.k, 2, res.method,
                    "estimating the side of missing studies for trim-and-fill")
    if np.linalg.matrix_rank(np.column_stack([np.ones(res.k), np.sqrt(res.vi)])) < 2:
        raise InputError("trim-and-fill cannot estimate the side when all studies have the same "
                         "variance; give side='left' or side='right'")
    po = sei_regression(res, "z", control)
    return Side.RIGHT if po.beta[0, 1] < 0 else Side.LEFT


def _estimate_k0(estimator: str, centred: np.ndarray, k: int) -> tuple[float, float]:
    """Unrounded k0 and its standard error from the centred, sorted effects."""
    ranks = np.empty(k)
    ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
    signed = np.sign(centred) * ranks
    if estimator == Estimator.R0:
        neg = -signed[signed < 0]
        k0 = k - (neg.max() if neg.size else 0.0) - 1
        return k0, float(np.sqrt(2 * max(0.0, k0) + 2))
    sr = signed[signed > 0].sum()
    k0 = (4 * sr - k * (k + 1)) / (2 * k - 1)
    var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0 ** 3 + 27 * k0 ** 2 + 17 * k0
              - 18 * k * k0 ** 2 - 18 * k * k0 + 6 * k ** 2 * k0) / 24
    # the variance polynomial is negative for the most negative k0 (no positive centred
    # effect, e.g. identical effects): truncated at 0, as metafor truncates se.k0 at 0
    return k0, float(4 * np.sqrt(max(var_sr, 0.0)) / (2 * k - 1))
