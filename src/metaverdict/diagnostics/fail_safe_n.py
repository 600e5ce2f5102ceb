"""Fail-safe N: how many unpublished null studies would overturn a result (metafor ``fsn``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from metaverdict._results import ResultMixin, fmt, fmt_p
from metaverdict._validation import as_float_array, check_bounds, check_same_length, choice
from metaverdict.errors import InputError

KINDS = ("Rosenthal", "Orwin", "Rosenberg")


@dataclass(frozen=True, repr=False)
class FailSafeN(ResultMixin):
    """Fail-safe N (``n``; ``inf`` when no number of null studies reaches the target), with the
    p-value of the observed studies (Rosenthal: one-sided Stouffer; Rosenberg: two-sided
    common-effect z test; NaN for Orwin), the mean effect (Orwin: unweighted; Rosenberg:
    inverse-variance weighted; NaN for Rosenthal) and Orwin's ``target``."""

    kind: str
    n: float
    pvalue: float
    mean_effect: float
    target: float
    alpha: float
    _repr_fields = ("kind", "n", "pvalue")

    def summary(self) -> str:
        extra = {"Rosenthal": f"observed significance level p = {fmt_p(self.pvalue)} "
                              f"(alpha = {self.alpha})",
                 "Orwin": f"average effect {fmt(self.mean_effect)}, target {fmt(self.target)}",
                 "Rosenberg": f"weighted mean effect {fmt(self.mean_effect)}, "
                              f"p = {fmt_p(self.pvalue)} (alpha = {self.alpha})"}[self.kind]
        n = "inf" if np.isinf(self.n) else str(int(self.n))
        return f"Fail-safe N ({self.kind} approach): {n}\n{extra}"


def fail_safe_n(yi: Any, vi: Any, kind: str = "Rosenthal", alpha: float = 0.05,
                target: float | None = None) -> FailSafeN:
    """Fail-safe N by the approaches of Rosenthal, Orwin or Rosenberg.

    * Rosenthal (1979): with :math:`z_i = y_i/\\sqrt{v_i}` and :math:`Z = |\\sum z_i|/\\sqrt k`
      (Stouffer), the number of null studies that brings the combined one-sided p-value to
      ``alpha``: :math:`N = \\lceil k (Z/z_{1-\\alpha})^2 - k \\rceil`; p-value :math:`1-\\Phi(Z)`.
    * Orwin (1983): with the unweighted mean :math:`\\bar y`, the number of null studies that
      reduces the mean to ``target`` (default :math:`\\bar y/2`):
      :math:`N = \\lceil k(\\bar y - \\text{target})/\\text{target} \\rceil` (infinite when the
      target is 0 or of the other sign).
    * Rosenberg (2005): with the common-effect estimate :math:`\\hat\\mu = \\sum w_i y_i/\\sum w_i`
      (:math:`w_i = 1/v_i`), the number of null studies of average weight that makes the
      two-sided z test non-significant at ``alpha``:
      :math:`N = \\lceil k\\,[(\\sum w_i y_i / z_{1-\\alpha/2})^2 - \\sum w_i] / \\sum w_i \\rceil`.

    All are truncated at 0.

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and sampling variances.
    kind : {"Rosenthal", "Orwin", "Rosenberg"}
    alpha : float
        Significance level (Rosenthal, Rosenberg).
    target : float, optional
        Orwin's target mean effect.

    References
    ----------
    Rosenthal R (1979). The file drawer problem and tolerance for null results. *Psychological
    Bulletin* 86:638-641. Orwin RG (1983). A fail-safe N for effect size in meta-analysis.
    *Journal of Educational Statistics* 8:157-159. Rosenberg MS (2005). The file-drawer problem
    revisited. *Evolution* 59:464-468.
    """
    kind = choice(kind, KINDS, "kind")
    y, v = as_float_array(yi, "yi"), as_float_array(vi, "vi")
    k = check_same_length({"yi": y, "vi": v})
    if k == 0:
        raise InputError("fail-safe N needs at least one study (yi is empty)")
    check_bounds(y, "yi")
    check_bounds(v, "vi", lower=0, lower_strict=True)
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise InputError(f"field 'alpha': must be in (0, 1), got {alpha!r}")
    nan = float("nan")
    if kind == "Rosenthal":
        z = abs(np.sum(y / np.sqrt(v)) / np.sqrt(k))
        n = np.ceil(max(0.0, k * (z / stats.norm.isf(alpha)) ** 2 - k))
        return FailSafeN(kind, float(n), float(stats.norm.sf(z)), nan, nan, alpha)
    if kind == "Orwin":
        mean = float(np.mean(y))
        target = mean / 2 if target is None else float(target)
        if target == 0 or np.sign(target) != np.sign(mean):
            n = np.inf
        else:
            n = np.ceil(max(0.0, k * (mean - target) / target))
        return FailSafeN(kind, float(n), nan, mean, target, alpha)
    w = 1 / v
    sw, swy = np.sum(w), np.sum(w * y)
    mean = swy / sw
    pval = 2 * stats.norm.sf(abs(mean * np.sqrt(sw)))
    extra_weight = (swy / stats.norm.isf(alpha / 2)) ** 2 - sw
    n = np.ceil(max(0.0, k * extra_weight / sw))
    return FailSafeN(kind, float(n), float(pval), float(mean), nan, alpha)
