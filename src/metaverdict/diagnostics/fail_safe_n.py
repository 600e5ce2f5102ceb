"""Fail-safe N: how many unpublished null studies would overturn a result (metafor ``fsn``,
as in metafor 5.0-1: Orwin's approach uses the inverse-variance weighted mean by default)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from metaverdict._results import ResultMixin, fmt, fmt_p
from metaverdict._validation import as_float_array, check_bounds, check_same_length, choice
from metaverdict.errors import InputError

KINDS = ("Rosenthal", "Orwin", "Rosenberg", "Binomial", "General")
POOLS = ("stouffer", "fisher")
#: the largest fail-safe N searched by the Rosenthal-Fisher and General approaches (metafor's
#: ``maxint``); beyond it ``n`` is ``inf``
MAX_N = 10**7


@dataclass(frozen=True, repr=False)
class FailSafeN(ResultMixin):
    """Fail-safe N (``n``; ``inf`` when no number of null studies reaches the target), with the
    p-value of the observed studies (Rosenthal: one-sided Stouffer; Rosenberg: two-sided
    common-effect z test; NaN for Orwin), the mean effect (Orwin: inverse-variance weighted,
    or unweighted with ``weighted=False``; Rosenberg: weighted; NaN for Rosenthal), Orwin's
    ``target`` and whether Orwin's mean was ``weighted`` (None for the other approaches).

    The General approach also has the random-effects fit's ``method`` and ``tau2`` (its
    estimate is ``mean_effect``, its p-value ``pvalue``) and the estimate, tau² and p-value
    after adding the ``n`` studies (``estimate_after``, ``tau2_after``, ``pvalue_after``)."""

    kind: str
    n: float
    pvalue: float
    mean_effect: float
    target: float
    alpha: float
    weighted: bool | None = None
    method: str | None = None
    tau2: float = float("nan")
    estimate_after: float = float("nan")
    tau2_after: float = float("nan")
    pvalue_after: float = float("nan")
    _repr_fields = ("kind", "n", "pvalue")

    def summary(self) -> str:
        extra = {"Rosenthal": f"observed significance level p = {fmt_p(self.pvalue)} "
                              f"(alpha = {self.alpha})",
                 "Orwin": f"{'weighted' if self.weighted else 'unweighted'} average effect "
                          f"{fmt(self.mean_effect)}, target {fmt(self.target)}",
                 "Rosenberg": f"weighted mean effect {fmt(self.mean_effect)}, "
                              f"p = {fmt_p(self.pvalue)} (alpha = {self.alpha})",
                 "Binomial": f"sign test p = {fmt_p(self.pvalue)} (alpha = {self.alpha})",
                 "General": f"{self.method} estimate {fmt(self.mean_effect)} (tau^2 = "
                            f"{fmt(self.tau2)}, p = {fmt_p(self.pvalue)}); after adding the "
                            f"studies: {fmt(self.estimate_after)} (tau^2 = "
                            f"{fmt(self.tau2_after)}, p = {fmt_p(self.pvalue_after)})",
                 }[self.kind]
        n = "inf" if np.isinf(self.n) else str(int(self.n))
        return f"Fail-safe N ({self.kind} approach): {n}\n{extra}"


def fail_safe_n(yi: Any, vi: Any, kind: str = "Rosenthal", alpha: float = 0.05,
                target: float | None = None, weighted: bool = True, pool: str = "stouffer",
                method: str = "REML", mumiss: float = 0.0) -> FailSafeN:
    """Fail-safe N by the approaches of Rosenthal, Orwin, Rosenberg, the binomial (sign) test or
    the general random-effects approach of metafor 4+ (``fsn``).

    * Rosenthal (1979): with :math:`z_i = y_i/\\sqrt{v_i}` and :math:`Z = |\\sum z_i|/\\sqrt k`
      (Stouffer), the number of null studies that brings the combined one-sided p-value to
      ``alpha``: :math:`N = \\lceil k (Z/z_{1-\\alpha})^2 - k \\rceil`; p-value :math:`1-\\Phi(Z)`.
    * Orwin (1983): with the mean :math:`\\bar y` (inverse-variance weighted,
      :math:`\\sum y_i/v_i / \\sum 1/v_i`, as metafor 5.0-1; the plain mean with
      ``weighted=False``, as metafor 3.8-1), the number of null studies (of average weight)
      that reduces the mean to ``target`` (default :math:`\\bar y/2`):
      :math:`N = \\lceil k(\\bar y - \\text{target})/\\text{target} \\rceil` (infinite when the
      target is 0 or of the other sign, which null studies cannot reach; metafor 5.0-1 flips
      the sign of such a target instead).
    * Rosenthal with ``pool="fisher"``: the (real) N at which Fisher's combination
      :math:`-2[\\sum \\log p_i + N \\log(1/2)] \\sim \\chi^2_{2(k+N)}` of the one-sided
      :math:`p_i = 1 - \\Phi(|z_i|)` and N studies with p = 1/2 reaches ``alpha``.
    * Binomial: with :math:`k_+` positive effects, the two-sided exact binomial (sign) test
      of :math:`k_+` out of k; N is the smallest even number such that :math:`k_+ + N/2` out
      of :math:`k + N` is no longer significant (0 when the test is not significant).
    * General (metafor 4.0-0, approximate version ``exact=FALSE``): the random-effects model
      (``method``) of the observed studies has estimate :math:`\\hat\\mu`, :math:`\\hat\\tau^2`
      and p-value; N studies with variance :math:`v_t = k/\\sum 1/v_i` and effects averaging
      ``mumiss`` (:math:`m`) are added, with the pooled estimate recomputed from
      :math:`\\tilde\\tau^2 = [(k + N - 2)\\hat\\tau^2 + k(\\hat\\mu - \\bar\\mu)^2 +
      N(m - \\bar\\mu)^2]/(k + N - 1)`, :math:`\\bar\\mu = (k\\hat\\mu + Nm)/(k+N)`, by inverse
      variance weights :math:`1/(v + \\tilde\\tau^2)` (or unweighted, ``weighted=False``)
      and its z test. N is the smallest number making the test non-significant at
      ``alpha`` (with ``target``: bringing the estimate to ``target``); metafor finds it by
      ``uniroot`` on the real line, which can give one more.
    * Rosenberg (2005): with the common-effect estimate :math:`\\hat\\mu = \\sum w_i y_i/\\sum w_i`
      (:math:`w_i = 1/v_i`), the number of null studies of average weight that makes the
      two-sided z test non-significant at ``alpha``:
      :math:`N = \\lceil k\\,[(\\sum w_i y_i / z_{1-\\alpha/2})^2 - \\sum w_i] / \\sum w_i \\rceil`.

    All are truncated at 0 and rounded up, except that a value within
    :math:`\\sqrt{\\epsilon}` of a whole number is rounded to it (metafor 5.0-1).

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and sampling variances.
    kind : {"Rosenthal", "Orwin", "Rosenberg"}
    alpha : float
        Significance level (Rosenthal, Rosenberg).
    target : float, optional
        Orwin's target mean effect.
    weighted : bool
        Orwin: the inverse-variance weighted mean (default, metafor 5.0-1) or the unweighted
        one (``False``, metafor 3.8-1 and Orwin 1983); General: the pooled estimate likewise.
    pool : {"stouffer", "fisher"}
        Rosenthal: how the p-values are combined.
    method : str
        General: the tau² estimator of the random-effects model (default REML).
    mumiss : float
        General: the mean effect of the missing studies (default 0).

    References
    ----------
    Rosenthal R (1979). The file drawer problem and tolerance for null results. *Psychological
    Bulletin* 86:638-641. Orwin RG (1983). A fail-safe N for effect size in meta-analysis.
    *Journal of Educational Statistics* 8:157-159. Rosenberg MS (2005). The file-drawer problem
    revisited. *Evolution* 59:464-468. Viechtbauer W (2024). metafor ``fsn`` (General
    approach), https://wviechtb.github.io/metafor/reference/fsn.html.
    """
    kind = choice(kind, KINDS, "kind")
    pool = choice(pool, POOLS, "pool")
    y, v = as_float_array(yi, "yi"), as_float_array(vi, "vi")
    k = check_same_length({"yi": y, "vi": v})
    if k == 0:
        raise InputError("fail-safe N needs at least one study (yi is empty)")
    check_bounds(y, "yi")
    check_bounds(v, "vi", lower=0, lower_strict=True)
    if not isinstance(weighted, (bool, np.bool_)):
        raise InputError(f"field 'weighted': must be True or False, got {weighted!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise InputError(f"field 'alpha': must be in (0, 1), got {alpha!r}")
    nan = float("nan")
    if kind == "Rosenthal" and pool == "fisher":
        return _rosenthal_fisher(y, v, alpha)
    if kind == "Binomial":
        return _binomial(y, alpha)
    if kind == "General":
        if k < 2:
            raise InputError("the General fail-safe N needs at least 2 studies")
        return _general(y, v, alpha, target, weighted, method, float(mumiss))
    if kind == "Rosenthal":
        z = abs(np.sum(y / np.sqrt(v)) / np.sqrt(k))
        n = k * (z / stats.norm.isf(alpha)) ** 2 - k
        return FailSafeN(kind, _whole(n), float(stats.norm.sf(z)), nan, nan, alpha)
    w = 1 / v
    sw, swy = float(np.sum(w)), float(np.sum(w * y))
    if kind == "Orwin":
        mean = swy / sw if weighted else float(np.mean(y))
        target = mean / 2 if target is None else float(target)
        if target == 0 or np.sign(target) != np.sign(mean):
            n = np.inf
        else:
            n = k * (mean - target) / target
        return FailSafeN(kind, _whole(n), nan, mean, target, alpha, bool(weighted))
    mean = swy / sw
    pval = 2 * stats.norm.sf(abs(mean * np.sqrt(sw)))
    extra_weight = (swy / stats.norm.isf(alpha / 2)) ** 2 - sw
    return FailSafeN(kind, _whole(k * extra_weight / sw), float(pval), float(mean), nan, alpha)


def _rosenthal_fisher(y: np.ndarray, v: np.ndarray, alpha: float) -> FailSafeN:
    """Rosenthal's N with Fisher's combination of the one-sided p-values (docstring above)."""
    logp = float(np.sum(stats.norm.logsf(np.abs(y) / np.sqrt(v))))
    k = y.size

    def excess(n: float) -> float:     # combined p-value with n null studies, minus alpha
        return float(stats.chi2.sf(-2 * (logp + n * np.log(0.5)), 2 * (k + n))) - alpha

    pval = excess(0.0) + alpha
    n = 0.0
    if pval < alpha:
        hi = 50.0 * k
        while excess(hi) < 0 and hi < MAX_N:
            hi *= 4
        n = (np.inf if excess(min(hi, MAX_N)) < 0
             else optimize.brentq(excess, 0.0, min(hi, MAX_N), xtol=1e-10))
    nan = float("nan")
    return FailSafeN("Rosenthal", _whole(n), pval, nan, nan, alpha)


def _binomial(y: np.ndarray, alpha: float) -> FailSafeN:
    """The sign-test fail-safe N (docstring above)."""
    k, kpos = y.size, int(np.sum(y > 0))
    pval = float(stats.binomtest(kpos, k).pvalue)
    nan = float("nan")
    # with success probability 1/2 the two-sided exact p-value (binomtest's and R's, which
    # sum the outcomes no more likely than the observed one) is 2 Pr(X <= min(x, n - x))
    for start in range(0, MAX_N, 8192):
        added = np.arange(start, start + 8192, 2)
        x, total = kpos + added // 2, k + added
        p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(x, total - x), total, 0.5))
        hit = np.flatnonzero(p >= alpha)
        if hit.size:
            return FailSafeN("Binomial", float(added[hit[0]]), pval, nan, nan, alpha)
    return FailSafeN("Binomial", float("inf"), pval, nan, nan, alpha)  # pragma: no cover


def _general(y: np.ndarray, v: np.ndarray, alpha: float, target: float | None,
             weighted: bool, method: str, mumiss: float) -> FailSafeN:
    """The general (random-effects) fail-safe N, metafor's approximate version."""
    from metaverdict.models.univariate import meta_analysis

    res = meta_analysis(y, v, method=method, weights=None if weighted else np.ones_like(y))
    k, est, tau2, pval = y.size, res.estimate, res.tau2, res.pvalue
    vt = 1 / float(np.mean(1 / v))
    common = res.is_common_effect

    def after(n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Estimate, tau² and p-value with n added studies (arrays over n)."""
        n = np.asarray(n, dtype=float)
        mean = (k * est + n * mumiss) / (k + n)
        spread = ((k - 1) * tau2 + np.maximum(0, n - 1) * tau2 + k * (est - mean) ** 2
                  + n * (mumiss - mean) ** 2) / np.maximum(k + n - 1, 1)
        t2 = np.zeros_like(n) if common else np.maximum(0.0, spread)
        if weighted:
            w, wt = 1 / (v[None, :] + t2[:, None]), 1 / (vt + t2)
            total = np.sum(w, axis=1) + n * wt
            new = (w @ y + n * wt * mumiss) / total
            z = new * np.sqrt(total)
        else:
            new = (float(np.sum(y)) + n * mumiss) / (k + n)
            z = (k + n) * new / np.sqrt(float(np.sum(v)) + k * t2 + n * (vt + t2))
        p = 2 * stats.norm.sf(np.abs(z))
        zero = n == 0
        return (np.where(zero, est, new), np.where(zero, tau2, t2), np.where(zero, pval, p))

    def reached(n: np.ndarray) -> np.ndarray:
        if target is None:
            return np.asarray(after(n)[2] >= alpha)
        return np.asarray(np.abs(after(n)[0]) <= abs(float(target)))

    n = np.inf if target is not None and target == 0 else _smallest(reached)
    out = ([float(a[0]) for a in after(np.array([n]))] if np.isfinite(n)
           else [np.nan, np.nan, np.nan])
    return FailSafeN("General", n, pval, est, np.nan if target is None else float(target),
                     alpha, bool(weighted), str(res.method), tau2, *out)


#: the General search scans every n below this (the criterion need not be monotone when the
#: missing studies' mean has the other sign), then assumes monotonicity up to MAX_N
_SCAN = 1 << 16


def _smallest(reached: Callable[[np.ndarray], np.ndarray]) -> float:
    """The smallest whole n in [0, MAX_N] with ``reached(n)``, else inf."""
    for start in range(0, _SCAN, 4096):
        hit = np.flatnonzero(reached(np.arange(start, start + 4096)))
        if hit.size:
            return float(start + hit[0])

    def ok(m: int) -> bool:
        return bool(reached(np.array([m]))[0])

    lo, hi = _SCAN - 1, _SCAN
    while not ok(hi):
        if hi >= MAX_N:
            return float("inf")
        lo, hi = hi, min(4 * hi, MAX_N)
    while hi - lo > 1:                    # ok(hi), not ok(lo)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return float(hi)


def _whole(n: float) -> float:
    """max(0, n) rounded up, or to the nearest whole number when within sqrt(eps) of it."""
    n = max(0.0, float(n))
    if not np.isfinite(n):
        return n
    near = round(n)
    return float(near if abs(n - near) < np.sqrt(np.finfo(float).eps) else np.ceil(n))
