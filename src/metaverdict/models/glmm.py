"""Generalized linear mixed models for 2x2 tables, incidence data and single proportions or
rates: the equivalent of R metafor's ``rma.glmm()`` (3.8) with its defaults.

Models (Stijnen, Hamza & Ozdemir 2010; Jackson et al. 2018), for measure ``"OR"``:

* ``"UM.FS"`` unconditional model with fixed study effects: the arms' events are binomial
  with ``logit p_i1 = alpha_i + x_i'beta + u_i/2`` and ``logit p_i2 = alpha_i - u_i/2``,
  ``u_i ~ N(0, tau^2)`` (``coding=1/2``; ``coding=1``/``0`` puts ``u_i`` in arm 1/arm 2 only);
* ``"UM.RS"`` the same with random study effects: ``alpha`` becomes ``alpha + w_i``,
  ``w_i ~ N(0, sigma^2)``, independent of ``u_i`` or (``cor=True``) correlated with it;
* ``"CM.EL"`` conditional model, exact likelihood: given the tables' margins, ``a_i`` follows
  Fisher's non-central hypergeometric distribution with log odds ratio
  ``theta_i = x_i'beta + u_i``;
* ``"CM.AL"`` conditional model, approximate likelihood: ``a_i`` given ``a_i + c_i`` is binomial
  with ``logit = theta_i + log(n1_i / n2_i)``.

``"IRR"`` uses Poisson counts with log person-time offsets (``"UM.FS"``, ``"UM.RS"``) or the exact
conditional binomial of ``x1_i`` given ``x1_i + x2_i`` (``"CM.EL"``, also used for ``"CM.AL"``);
``"PLO"`` (logit-normal, single proportions) and ``"IRLN"`` (log-normal, single rates) have one
observation per study with a random intercept.

The models metafor fits with ``lme4::glmer`` are integrated the same way: adaptive Gauss-Hermite
quadrature with ``nagq`` nodes around each study's conditional mode (metafor's default 7;
``nagq=1`` is Laplace's approximation; ``"UM.RS"`` always uses Laplace, as ``glmer`` must for two
random effects per study). The ``"CM.EL"`` integral over the normal random effect, which metafor
computes with ``integrate()``, uses adaptive quadrature with :data:`EXACT_NODES` nodes
(accurate to about 1e-10 for these log-concave integrands).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from metaverdict._results import ResultMixin, fmt, fmt_p, read_only
from metaverdict._validation import check_bounds, check_level, choice
from metaverdict.effects import EffectSizes, effect_sizes
from metaverdict.errors import ConvergenceError, InputError, row_error
from metaverdict.models._glmm_fit import (
    Array,
    Binomial,
    Family,
    GlmFit,
    MixedFit,
    MixedProblem,
    NoncentralHypergeometric,
    Poisson,
    glm_fit,
    maximise,
    wald_in_span,
)
from metaverdict.models._tables import _read, read_rates, read_tables
from metaverdict.models.design import design_matrix
from metaverdict.models.inference import FitStatistics, critical_value, information_criteria
from metaverdict.models.intervals import (
    CoefficientTable,
    PooledFit,
    coefficient_table,
    coefficient_values,
)

__all__ = ["GLMMResult", "meta_analysis_glmm", "MODELS", "GLMM_MEASURES", "EXACT_NODES"]

MODELS = ("UM.FS", "UM.RS", "CM.EL", "CM.AL")
GLMM_MEASURES = ("OR", "IRR", "PLO", "IRLN")
#: Quadrature nodes for the "CM.EL" integral (metafor: ``integrate()``).
EXACT_NODES = 21
_TAU_START = 0.5

_MODEL_NAMES = {"UM.FS": "unconditional model, fixed study effects",
                "UM.RS": "unconditional model, random study effects",
                "CM.EL": "conditional model, exact likelihood",
                "CM.AL": "conditional model, approximate likelihood"}
_OUTCOME_NAMES = {"OR": "log odds ratio", "IRR": "log incidence-rate ratio",
                  "PLO": "logit proportion", "IRLN": "log incidence rate"}


# --------------------------------------------------------------------------------------------
# result

def _p(p: float | None) -> str:
    text = fmt_p(p)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


@dataclass(frozen=True, eq=False, repr=False)
class GLMMResult(PooledFit, CoefficientTable, ResultMixin):
    """A fitted binomial/Poisson-normal GLMM (metafor ``rma.glmm``).

    Scalars ``estimate`` ... ``ci_upper`` describe the first coefficient (the pooled effect of
    an intercept-only model); :attr:`coefficients` has them all. Effects are on the model's
    scale (log odds ratio, log rate ratio, logit proportion or log rate).

    Attributes
    ----------
    measure, model, method, test : str
        ``"OR"``/``"IRR"``/``"PLO"``/``"IRLN"``; ``"UM.FS"``, ``"UM.RS"``, ``"CM.EL"``, ``"CM.AL"``
        (``"UM.FS"`` for the single-group measures); ``"ML"`` or ``"EE"`` (common effect,
        ``tau2 = 0``); ``"z"`` or ``"t"``.
    k : int
        Studies fitted (for OR and IRR, studies without events, or only events, in both groups
        are left out, metafor's ``drop00``).
    tau2, tau2_se : float
        Variance of the random treatment effect (of the log odds ratio etc.); its standard error
        is given for ``"CM.EL"`` only (delta method on the observed information), as in metafor.
    sigma2, rho : float
        ``"UM.RS"``: variance of the random study effects and (``cor=True``) their correlation
        with the treatment effects; NaN otherwise.
    i2, h2 : float
        ``I^2 = 100 tau^2 / (tau^2 + v~)`` (percent) and ``H^2 = 1 + tau^2 / v~`` with the typical
        within-study variance ``v~ = (k_yi - p) / tr(P)``, ``P = W - W X (X'WX)^-1 X'W``,
        ``W = diag(1/v_i)`` from the studies' escalc outcomes (``add=1/2``, ``to="only0"``).
    q_wald, q_wald_pvalue, q_lrt, q_lrt_pvalue, q_df : float
        Tests of heterogeneity on ``k - p`` df: Wald test of the study-specific effects of the
        saturated model, and the likelihood-ratio test of the fixed-effects model against it.
    qm, qm_df, qm_pvalue : float or None
        Omnibus Wald test of the moderators (all coefficients but the intercept).
    fit_statistics : FitStatistics
        ``ll``, deviance (``-2 (ll - ll_saturated)``), AIC, BIC, AICc as metafor's ``fit.stats``
        (ML column; the REML fields are NaN). Like metafor, the log-likelihood of the models
        fitted with ``glmer`` except ``"UM.RS"`` is ``ll_saturated - D/2`` with ``D`` lme4's
        conditional deviance.
    vcov : numpy.ndarray
        Covariance of the coefficients (inverse observed information of the marginal
        likelihood, all parameters estimated).
    converged : bool
        Whether the optimiser reported convergence.
    nagq : int
        Quadrature nodes used (1: Laplace).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"xi": [16, 10, 4, 9, 19], "ni": [17, 12, 8, 14, 20]})
    >>> res = meta_analysis_glmm("PLO", data=df, xi="xi", ni="ni")
    >>> res.k, round(res.estimate, 3), round(res.tau2, 3)
    (5, 1.551, 0.802)
    """

    measure: str
    model: str
    tau2: float
    tau2_se: float
    sigma2: float
    rho: float
    i2: float
    h2: float
    typical_vi: float
    q_wald: float
    q_wald_pvalue: float
    q_lrt: float
    q_lrt_pvalue: float
    q_df: int
    terms: tuple[str, ...]
    vcov: np.ndarray
    fit_statistics: FitStatistics
    converged: bool
    nagq: int
    df: float
    qm: float | None = None
    qm_df: int | None = None
    qm_pvalue: float | None = None
    _coefficients: np.ndarray = field(kw_only=True, repr=False)
    labels: list[Any] | None = field(default=None, repr=False)
    _repr_fields = ("measure", "model", "k", "estimate", "se", "tau2", "pvalue")
    _dict_properties = ("coefficients",)

    def summary(self) -> str:
        """Journal-style summary: model, heterogeneity and its tests, coefficients."""
        pct = int(round(self.level * 100))
        kind = "Common-effect" if self.method == "EE" else "Random-effects"
        model = {"PLO": "binomial-normal", "IRLN": "Poisson-normal"}.get(
            self.measure, _MODEL_NAMES[self.model])
        lines = [f"{kind} GLMM, {_OUTCOME_NAMES[self.measure]} (k = {self.k}; {model}; "
                 f"{'Laplace' if self.nagq == 1 else f'{self.nagq}-node quadrature'})", ""]
        if self.method != "EE":
            lines.append(f"tau^2 = {fmt(self.tau2)}, tau = {fmt(math.sqrt(self.tau2))}, "
                         f"I^2 = {fmt(self.i2, 2)}%, H^2 = {fmt(self.h2)}")
        if not math.isnan(self.sigma2):
            lines.append(f"sigma^2 (study effects) = {fmt(self.sigma2)}")
        lines.append(f"Wald test of heterogeneity: Q({self.q_df}) = {fmt(self.q_wald)}, "
                     f"{_p(self.q_wald_pvalue)}")
        lines.append(f"Likelihood-ratio test: Q({self.q_df}) = {fmt(self.q_lrt)}, "
                     f"{_p(self.q_lrt_pvalue)}")
        if self.qm is not None:
            lines.append(f"Test of moderators: QM({self.qm_df}) = {fmt(self.qm)}, "
                         f"{_p(self.qm_pvalue)}")
        lines.append("")
        lines.append(coefficient_table(self._coefficients, self.terms, self.test, pct))
        if not self.converged:
            lines.append("WARNING: the optimiser did not report convergence")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# fitting the pieces of one model

@dataclass(frozen=True)
class _Parts:
    """What every model produces before the shared inference."""

    beta: Array
    vb: Array
    tau2: float
    ll_fe: float
    ll_qe: float
    q_wald: float
    ll_ml: float
    parms: int
    k_eff: int
    converged: bool
    tau2_se: float = float("nan")
    sigma2: float = float("nan")
    rho: float = float("nan")


def _mixed(problem: MixedProblem, x0: Array, what: str) -> MixedFit:
    fit = maximise(problem, x0)
    if not np.all(np.isfinite(fit.x)):
        raise ConvergenceError(f"the {what} could not be fitted (non-finite estimates)")
    return fit


def _glm(family: Family, design: Array, offset: Array) -> GlmFit:
    """R's glm.fit of the family's counts on ``design`` (k, r, m), observations flattened."""
    n = family.n.ravel() if isinstance(family, Binomial) else None
    return glm_fit(family.y.ravel(), n, design.reshape(family.y.size, -1), offset.ravel())


_ARM1 = np.array([1.0, 0.0])


def _two_arm(family: Family, offset: Array, X: Array, group: Array, nagq: int,
             method: str) -> _Parts:
    """UM.FS: study intercepts fixed, random treatment effect with loading ``group``;
    metafor's log-likelihood ``ll_QE - D/2`` (lme4's conditional deviance D)."""
    k, p = X.shape
    study = np.repeat(np.eye(k)[:, None, :], 2, axis=1)
    treat = _ARM1[None, :, None] * X[:, None, :]
    fe = _glm(family, np.concatenate([treat, study], axis=2), offset)
    qe = _glm(family, np.concatenate([study, _ARM1[None, :, None] * study], axis=2), offset)
    q_wald = wald_in_span(qe.coef[k:], qe.vcov[k:, k:], X)
    if method == "EE":
        return _Parts(fe.coef[:p], fe.vcov[:p, :p], 0.0, fe.loglik, qe.loglik, q_wald,
                      fe.loglik, p + k, 2 * k, True)
    loading = np.broadcast_to(group[None, :, None], (k, 2, 1)).copy()
    problem = MixedProblem(family, offset, treat, loading, nagq, alpha_loading=np.ones(2))
    x0 = np.concatenate([fe.coef[:p], [_TAU_START], fe.coef[p:]])
    fit = _mixed(problem, x0, "random-effects model")
    ll = qe.loglik - problem.conditional_deviance(fit.x) / 2
    return _Parts(fit.x[:p], fit.vcov[:p, :p], float(fit.x[p] ** 2), fe.loglik, qe.loglik,
                  q_wald, ll, p + k + 1, 2 * k, fit.converged)


def _random_study(family: Family, offset: Array, X: Array, group: Array, method: str,
                  correlated: bool) -> _Parts:
    """UM.RS: random study intercepts; every model (fixed-effects, saturated, random-effects)
    is a glmer fit by Laplace's method, as metafor must for two random effects per study."""
    k, p = X.shape
    treat = _ARM1[None, :, None] * X[:, None, :]
    const = np.ones((k, 2, 1))
    pooled = _glm(family, np.concatenate([treat, const], axis=2), offset)
    fe_problem = MixedProblem(family, offset, np.concatenate([treat, const], axis=2), const, 1)
    fe = _mixed(fe_problem, np.concatenate([pooled.coef, [1.0]]), "fixed-effects model")
    sigma_fe = abs(float(fe.x[p + 1]))
    qe_problem = MixedProblem(family, offset, const, const, 1, alpha_loading=_ARM1)
    qe_start = np.concatenate([[fe.x[p]], [max(sigma_fe, 0.1)],
                               X @ fe.x[:p]])
    qe = _mixed(qe_problem, qe_start, "saturated model")
    q_wald = wald_in_span(qe.x[2:], qe.vcov[2:, 2:], X)
    if method == "EE":
        return _Parts(fe.x[:p], fe.vcov[:p, :p], 0.0, fe.loglik, qe.loglik, q_wald, fe.loglik,
                      p + 2, 2 * k, fe.converged, sigma2=sigma_fe**2)
    z = np.concatenate([const, np.broadcast_to(group[None, :, None], (k, 2, 1))], axis=2)
    problem = MixedProblem(family, offset, np.concatenate([treat, const], axis=2), z, 1,
                           correlated=correlated)
    theta0 = [max(sigma_fe, 0.1), 0.0, _TAU_START] if correlated else [max(sigma_fe, 0.1),
                                                                        _TAU_START]
    fit = _mixed(problem, np.concatenate([fe.x[:p + 1], theta0]), "random-effects model")
    _, lam, _ = problem.unpack(fit.x)
    cov = lam @ lam.T
    rho = (float(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])) if correlated and cov[1, 1] > 0
           else float("nan"))
    return _Parts(fit.x[:p], fit.vcov[:p, :p], float(cov[1, 1]), fe.loglik, qe.loglik, q_wald,
                  fit.loglik, p + 3, 2 * k, fit.converged, sigma2=float(cov[0, 0]), rho=rho)


def _one_observation(family: Family, offset: Array, X: Array, nagq: int,
                     method: str) -> _Parts:
    """CM.AL, conditional IRR, PLO, IRLN: one observation per study, random intercept;
    metafor's log-likelihood ``ll_QE - D/2`` (lme4's conditional deviance D)."""
    k, p = X.shape
    fe = _glm(family, X[:, None, :], offset)
    qe = _glm(family, np.eye(k)[:, None, :], offset)
    q_wald = wald_in_span(qe.coef, qe.vcov, X)
    if method == "EE":
        return _Parts(fe.coef, fe.vcov, 0.0, fe.loglik, qe.loglik, q_wald, fe.loglik, p, k,
                      True)
    problem = MixedProblem(family, offset, X[:, None, :], np.ones((k, 1, 1)), nagq)
    fit = _mixed(problem, np.concatenate([fe.coef, [_TAU_START]]), "random-effects model")
    ll = qe.loglik - problem.conditional_deviance(fit.x) / 2
    return _Parts(fit.x[:p], fit.vcov[:p, :p], float(fit.x[p] ** 2), fe.loglik, qe.loglik,
                  q_wald, ll, p + 1, k, fit.converged)


def _newton(derivs: Callable[[Array], tuple[Array, Array, Array]], X: Array,
            what: str) -> tuple[Array, Array, float]:
    """Maximise ``sum loglik(X beta)`` by Newton's method with step halving (concave
    likelihoods)."""
    beta = np.zeros(X.shape[1])
    ll, d1, d2 = derivs(X @ beta)
    for _ in range(200):
        info = (X * -d2[:, None]).T @ X
        try:
            step = np.linalg.solve(info, X.T @ d1)
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError(f"the {what}: singular information matrix") from exc
        total = float(np.sum(ll))
        for _ in range(50):
            ll, d1, d2 = derivs(X @ (beta + step))
            if float(np.sum(ll)) >= total - 1e-12 * abs(total):
                break
            step = step / 2
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    else:
        raise ConvergenceError(f"the {what} did not converge")
    ll, _, d2 = derivs(X @ beta)
    vcov = np.asarray(np.linalg.inv((X * -d2[:, None]).T @ X), dtype=float)
    return beta, vcov, float(np.sum(ll))


def _exact_conditional(tables: tuple[Array, Array, Array, Array], X: Array,
                       method: str) -> _Parts:
    """CM.EL for odds ratios: non-central hypergeometric likelihood."""
    ai, bi, ci, di = tables
    k, p = X.shape
    fam = NoncentralHypergeometric(ai, ai + bi, ci + di, ai + ci)

    def derivs(eta: Array) -> tuple[Array, Array, Array]:
        ll, d1, d2 = fam.derivs(eta[:, None])
        return ll[:, 0], d1[:, 0], d2[:, 0]

    beta_fe, vb_fe, ll_fe = _newton(derivs, X, "fixed-effects conditional model")
    lo = np.maximum(0, ai + ci - ci - di)
    hi = np.minimum(ai + bi, ai + ci)
    inner = (ai > lo) & (ai < hi)           # conditional MLE finite (else the supremum is 0)
    theta = np.zeros(k)
    info = np.zeros(k)
    for i in np.flatnonzero(inner):
        one = NoncentralHypergeometric(ai[i:i + 1], (ai + bi)[i:i + 1], (ci + di)[i:i + 1],
                                       (ai + ci)[i:i + 1])

        def d_one(eta: Array, fam_i: NoncentralHypergeometric = one) -> tuple[Array, Array,
                                                                                   Array]:
            ll_, d1_, d2_ = fam_i.derivs(eta[:, None])
            return ll_[:, 0], d1_[:, 0], d2_[:, 0]

        b, v, _ = _newton(d_one, np.ones((1, 1)), "saturated conditional model")
        theta[i], info[i] = b[0], 1 / v[0, 0]
    ll_qe = float(np.sum(fam.derivs(theta[:, None])[0][inner]))
    q_wald = wald_in_span(theta[inner], np.diag(1 / info[inner]), X[inner])
    if method == "EE":
        return _Parts(beta_fe, vb_fe, 0.0, ll_fe, ll_qe, q_wald, ll_fe, p, k, True)
    problem = MixedProblem(fam, np.zeros((k, 1)), X[:, None, :], np.ones((k, 1, 1)),
                           EXACT_NODES)
    fit = _mixed(problem, np.concatenate([beta_fe, [_TAU_START]]), "random-effects model")
    tau = abs(float(fit.x[p]))
    tau_var = float(fit.vcov[p, p])
    tau2_se = 2 * tau * math.sqrt(tau_var) if tau_var >= 0 else float("nan")
    return _Parts(fit.x[:p], fit.vcov[:p, :p], tau**2, ll_fe, ll_qe, q_wald, fit.loglik, p + 1,
                  k, fit.converged, tau2_se=tau2_se)


# --------------------------------------------------------------------------------------------
# inputs

def _read_single(data: pd.DataFrame | None, measure: str, xi: Any, ni: Any, mi: Any, ti: Any,
                 labels: Any) -> tuple[dict[str, Array], list[Any] | None]:
    if xi is None:
        raise InputError(f"field 'xi': required for measure {measure}")
    if measure == "PLO":
        if (ni is None) == (mi is None):
            raise InputError("fields 'ni', 'mi': give exactly one of them for measure PLO")
        given = {"xi": xi, "ni" if ni is not None else "mi": ni if ni is not None else mi}
    else:
        if ti is None:
            raise InputError("field 'ti': required for measure IRLN (person-time)")
        given = {"xi": xi, "ti": ti}
    arr, lab = _read(data, given, labels)
    check_bounds(arr["xi"], "xi", lab, lower=0, integer=True)
    if "mi" in arr:
        check_bounds(arr["mi"], "mi", lab, lower=0, integer=True)
        arr["ni"] = arr["xi"] + arr["mi"]
    if measure == "PLO":
        check_bounds(arr["ni"], "ni", lab, lower=0, lower_strict=True, integer=True)
        over = np.flatnonzero(arr["xi"] > arr["ni"])
        if over.size:
            i = int(over[0])
            raise row_error(lab, i, "xi", f"{arr['xi'][i]:g} events exceed ni = "
                            f"{arr['ni'][i]:g}")
    else:
        check_bounds(arr["ti"], "ti", lab, lower=0, lower_strict=True)
    return arr, lab


_EMPTY = {"ai": "events in group 1", "ci": "events in group 2", "bi": "non-events in group 1",
          "di": "non-events in group 2", "x1i": "events in group 1", "x2i": "events in group 2",
          "xi": "events"}


def _check_estimable(measure: str, c: dict[str, Array]) -> None:
    """Raise when a whole group has no events (or no non-events): the maximum-likelihood
    estimate is then infinite."""
    fields = {"OR": ("ai", "bi", "ci", "di"), "IRR": ("x1i", "x2i"), "PLO": ("xi",),
              "IRLN": ("xi",)}[measure]
    checks = [(f, _EMPTY[f], c[f]) for f in fields]
    if measure == "PLO":
        checks.append(("xi", "non-events (xi < ni)", c["ni"] - c["xi"]))
    for name, what, values in checks:
        if not np.any(values > 0):
            raise InputError(f"field {name!r}: no {what} in any of the {values.size} studies "
                             "fitted; the model's estimate is infinite (no maximum-likelihood "
                             "estimate exists)")


def _scaling(X: Array, names: list[str]) -> tuple[Array, Array]:
    """Standardise the non-dummy moderators (metafor's ``scaleX``) -> (scaled X, back-transform
    matrix M with ``beta = M beta_scaled``)."""
    p = X.shape[1]
    M = np.eye(p)
    if p == 1 or names[0] != "intrcpt":
        return X, M
    Xs = X.copy()
    for j in range(1, p):
        col = X[:, j]
        if np.all(np.isin(col, (0.0, 1.0))):
            continue
        mean, sd = float(col.mean()), float(col.std(ddof=1))
        Xs[:, j] = (col - mean) / sd
        M[0, j] = -mean / sd
        M[j, j] = 1 / sd
    return Xs, M


def _typical_variance(yi: Array, vi: Array, X: Array) -> float:
    keep = np.isfinite(yi) & np.isfinite(vi)
    w = 1 / vi[keep]
    Xk = X[keep]
    xtwx = (Xk * w[:, None]).T @ Xk
    tr_p = float(np.sum(w) - np.trace(np.linalg.solve(xtwx, (Xk * w[:, None] ** 2).T @ Xk)))
    return float((int(keep.sum()) - X.shape[1]) / tr_p)


# --------------------------------------------------------------------------------------------
# public function

def meta_analysis_glmm(measure: str, data: pd.DataFrame | None = None, *,
                       ai: Any = None, bi: Any = None, ci: Any = None, di: Any = None,
                       n1i: Any = None, n2i: Any = None,
                       x1i: Any = None, t1i: Any = None, x2i: Any = None, t2i: Any = None,
                       xi: Any = None, ni: Any = None, mi: Any = None, ti: Any = None,
                       mods: Any = None, model: str = "UM.FS", method: str = "ML",
                       nagq: int = 7, coding: float = 0.5, cor: bool = False,
                       test: str = "z", level: float = 0.95,
                       labels: Any = None) -> GLMMResult:
    """Fit a binomial-normal or Poisson-normal GLMM by maximum likelihood (metafor
    ``rma.glmm``).

    Parameters
    ----------
    measure : {"OR", "IRR", "PLO", "IRLN"}
        Log odds ratio (2x2 tables), log incidence-rate ratio (two-group person-time), logit of
        a proportion (``xi`` events of ``ni``) or log of an incidence rate (``xi`` events in
        person-time ``ti``).
    data : pandas.DataFrame, optional
        When given, count arguments, ``labels`` and a formula ``mods`` refer to its columns.
    ai, bi, ci, di, n1i, n2i : column name or array-like
        OR: events / non-events in group 1 and group 2 (or group sizes ``n1i``, ``n2i``).
    x1i, t1i, x2i, t2i : column name or array-like
        IRR: events and person-time in groups 1 and 2.
    xi, ni, mi, ti : column name or array-like
        PLO: events ``xi`` and sample sizes ``ni`` (or non-events ``mi``); IRLN: ``xi``, ``ti``.
    mods : str, DataFrame or array, optional
        Moderators, as :func:`~metaverdict.meta_analysis` takes them (formula or columns).
    model : {"UM.FS", "UM.RS", "CM.EL", "CM.AL"}
        See the module docstring; ignored for PLO and IRLN.
    method : {"ML", "EE"}
        Random-effects (maximum likelihood) or common-effect model.
    nagq : int
        Gauss-Hermite nodes of the adaptive quadrature of the glmer-type models (metafor's
        ``nAGQ``, default 7; 1 = Laplace). ``"UM.RS"`` always uses 1.
    coding : {0.5, 1, 0}
        UM models: the random treatment effect enters arm 1 with weight ``coding`` and arm 2
        with ``coding - 1`` (metafor's ``coding``).
    cor : bool
        UM.RS: let the study and treatment random effects correlate.
    test : {"z", "t"}
        Normal or t (``k - p`` df) tests and intervals for the coefficients.
    level : float
        Confidence level, a fraction.
    labels : column name or sequence, optional
        Study labels (error messages, kept on the result).

    Returns
    -------
    GLMMResult

    Raises
    ------
    InputError
        Unknown measure / model / method; missing, negative or fractional counts; events above
        group sizes; no studies left after dropping uninformative ones; more coefficients than
        the studies allow.
    ConvergenceError
        The likelihood could not be maximised.

    Notes
    -----
    The marginal likelihood is ``prod_i int prod_j f(y_ij | eta_ij(u)) phi(u; 0, tau^2) du``;
    metafor's standard errors (lme4: the finite-difference Hessian of the deviance in all fixed
    effects and variance parameters; CM.EL: numDeriv's Hessian) are reproduced by the
    inverse of the numerical Hessian of the same approximation. Values agree with metafor to
    about 1e-4 relative (lme4's Nelder-Mead stops at that accuracy).

    References
    ----------
    Stijnen T, Hamza TH, Ozdemir P (2010). Random effects meta-analysis of event outcome in the
    framework of the generalized linear mixed model with applications in sparse data.
    Statistics in Medicine 29:3046-3067.
    Jackson D, Law M, Stijnen T, Viechtbauer W, White IR (2018). A comparison of seven
    random-effects models for meta-analyses that estimate the summary odds ratio.
    Statistics in Medicine 37:1059-1085.
    Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using
    lme4. Journal of Statistical Software 67(1):1-48.
    """
    measure = choice(measure, GLMM_MEASURES, "measure")
    model = choice(model, MODELS, "model")
    method = choice(method, {"ML": "ML", "EE": "EE", "FE": "EE", "CE": "EE"}, "method")
    test = choice(test, ("z", "t"), "test")
    level = check_level(level)
    if isinstance(nagq, bool) or not isinstance(nagq, (int, np.integer)) or not 1 <= nagq <= 100:
        raise InputError(f"field 'nagq': quadrature nodes must be an integer in 1..100, "
                         f"got {nagq!r}")
    if coding not in (0.5, 1, 0):
        raise InputError(f"field 'coding': must be 1/2, 1 or 0, got {coding!r}")
    args = {"ai": ai, "bi": bi, "ci": ci, "di": di, "n1i": n1i, "n2i": n2i,
            "x1i": x1i, "t1i": t1i, "x2i": x2i, "t2i": t2i}
    if measure in ("PLO", "IRLN"):
        model = "UM.FS"
        arr, lab = _read_single(data, measure, xi, ni, mi, ti, labels)
        keep = np.ones(arr["xi"].size, dtype=bool)
    elif measure == "OR":
        arr, lab = read_tables(data, args, labels, measure)
        keep = ~(((arr["ai"] == 0) & (arr["ci"] == 0)) | ((arr["bi"] == 0) & (arr["di"] == 0)))
    else:
        arr, lab = read_rates(data, args, labels, measure)
        keep = ~((arr["x1i"] == 0) & (arr["x2i"] == 0))
        if model == "CM.AL":
            model = "CM.EL"                  # for counts the conditional binomial is exact
    k_all = keep.size
    if mods is None:
        X_all, names = np.ones((k_all, 1)), ["intrcpt"]
    else:
        X_all, names = design_matrix(mods, data, k_all, lab)
    k = int(keep.sum())
    p = X_all.shape[1]
    if k < p + (1 if method == "ML" else 0):
        raise InputError(f"{k} informative studies are too few for {p} coefficients"
                         + (" and tau^2" if method == "ML" else ""))
    c = {name: a[keep] for name, a in arr.items()}
    _check_estimable(measure, c)
    X = X_all[keep]
    Xs, M = _scaling(X, names)
    parts, es = _fit(measure, model, method, c, Xs, int(nagq), coding, cor)
    nodes = 1 if model == "UM.RS" else EXACT_NODES if (measure, model) == ("OR", "CM.EL") \
        else int(nagq)
    return _assemble(parts, M, names, X, np.asarray(es.yi, float), np.asarray(es.vi, float),
                     measure, model, method, test, level, nodes, lab)


def _fit(measure: str, model: str, method: str, c: dict[str, Array], Xs: Array, nodes: int,
         coding: float, cor: bool) -> tuple[_Parts, EffectSizes]:
    """The model's fits for one measure, and the studies' escalc outcomes (for I^2)."""
    k = Xs.shape[0]
    group = np.array([coding, coding - 1.0])
    if measure == "OR":
        tables = (c["ai"], c["bi"], c["ci"], c["di"])
        n1, n2 = c["ai"] + c["bi"], c["ci"] + c["di"]
        es = effect_sizes("OR", ai=c["ai"], bi=c["bi"], ci=c["ci"], di=c["di"], add=0.5,
                          to="only0", drop00=True)
        if model in ("UM.FS", "UM.RS"):
            fam: Family = Binomial(np.column_stack([c["ai"], c["ci"]]), np.column_stack([n1, n2]))
            off = np.zeros((k, 2))
            parts = (_two_arm(fam, off, Xs, group, nodes, method) if model == "UM.FS"
                     else _random_study(fam, off, Xs, group, method, cor))
        elif model == "CM.EL":
            parts = _exact_conditional(tables, Xs, method)
        else:
            m1 = c["ai"] + c["ci"]
            fam = Binomial(c["ai"][:, None], m1[:, None])
            parts = _one_observation(fam, np.log(n1 / n2)[:, None], Xs, nodes, method)
    elif measure == "IRR":
        es = effect_sizes("IRR", x1i=c["x1i"], t1i=c["t1i"], x2i=c["x2i"], t2i=c["t2i"],
                          add=0.5, to="only0", drop00=True)
        if model in ("UM.FS", "UM.RS"):
            fam = Poisson(np.column_stack([c["x1i"], c["x2i"]]))
            off = np.log(np.column_stack([c["t1i"], c["t2i"]]))
            parts = (_two_arm(fam, off, Xs, group, nodes, method) if model == "UM.FS"
                     else _random_study(fam, off, Xs, group, method, cor))
        else:
            m1 = c["x1i"] + c["x2i"]
            fam = Binomial(c["x1i"][:, None], m1[:, None])
            parts = _one_observation(fam, np.log(c["t1i"] / c["t2i"])[:, None], Xs, nodes,
                                     method)
    elif measure == "PLO":
        es = effect_sizes("PLO", xi=c["xi"], ni=c["ni"], add=0.5, to="only0")
        fam = Binomial(c["xi"][:, None], c["ni"][:, None])
        parts = _one_observation(fam, np.zeros((k, 1)), Xs, nodes, method)
    else:
        es = effect_sizes("IRLN", xi=c["xi"], ti=c["ti"], add=0.5, to="only0")
        fam = Poisson(c["xi"][:, None])
        parts = _one_observation(fam, np.log(c["ti"])[:, None], Xs, nodes, method)
    return parts, es


def _assemble(parts: _Parts, M: Array, names: list[str], X: Array, yi: Array, vi: Array,
              measure: str, model: str, method: str, test: str, level: float, nodes: int,
              labels: list[Any] | None) -> GLMMResult:
    k, p = X.shape
    beta = M @ parts.beta
    vb = M @ parts.vb @ M.T
    se = np.sqrt(np.where(np.diag(vb) >= 0, np.diag(vb), np.nan))
    if not np.all(np.isfinite(beta) & np.isfinite(se)):
        raise ConvergenceError("the likelihood has no finite maximum with a positive definite "
                               "information matrix (are the data separated, e.g. no events in "
                               "one group at some moderator values?)")
    ddf = float(k - p) if test == "t" else float("nan")
    crit = critical_value(level, ddf)
    z = beta / se
    pval = (2 * special.ndtr(-np.abs(z)) if test == "z"
            else 2 * special.stdtr(ddf, -np.abs(z)) if ddf > 0 else np.full(p, np.nan))
    coefs = coefficient_values(beta, se, z, pval, beta - crit * se, beta + crit * se)
    q_df = k - p
    q_lrt = max(-2 * (parts.ll_fe - parts.ll_qe), 0.0)
    q_wald = max(parts.q_wald, 0.0)

    def q_p(q: float) -> float:
        return float(special.chdtrc(q_df, q)) if q_df > 0 else 1.0
    vt = _typical_variance(yi, vi, X)
    qm = qm_df = qm_p = None
    if p > 1 and names[0] == "intrcpt":
        b, v = beta[1:], vb[1:, 1:]
        qm = float(b @ np.linalg.solve(v, b))
        qm_df = p - 1
        if test == "t":
            qm = qm / qm_df
            qm_p = float(special.fdtrc(qm_df, k - p, qm)) if k > p else float("nan")
        else:
            qm_p = float(special.chdtrc(qm_df, qm))
    ll = parts.ll_ml
    nan = float("nan")
    fit_stats = FitStatistics(ll, -2 * (ll - parts.ll_qe),
                              *information_criteria(ll, parts.k_eff, parts.parms),
                              nan, nan, nan, nan, nan)
    return GLMMResult(
        measure=measure, model=model, method=method, test=test, level=level, k=k,
        estimate=float(beta[0]), se=float(se[0]), statistic=float(z[0]), pvalue=float(pval[0]),
        ci_lower=float(coefs[0, 4]), ci_upper=float(coefs[0, 5]), tau2=parts.tau2,
        tau2_se=parts.tau2_se, sigma2=parts.sigma2, rho=parts.rho,
        i2=100 * parts.tau2 / (vt + parts.tau2), h2=parts.tau2 / vt + 1, typical_vi=vt,
        q_wald=q_wald, q_wald_pvalue=q_p(q_wald), q_lrt=q_lrt, q_lrt_pvalue=q_p(q_lrt),
        q_df=q_df, terms=tuple(names), vcov=read_only(vb), fit_statistics=fit_stats,
        converged=parts.converged, nagq=nodes, df=ddf, qm=qm, qm_df=qm_df, qm_pvalue=qm_p,
        _coefficients=coefs, labels=labels)
