r"""Location-scale models (metafor ``rma(yi, vi, mods = ~ x, scale = ~ z)``, class ``rma.ls``):
moderators of the mean effect (location, β) and of the heterogeneity (scale, α).

.. math::

    y_i \sim N(x_i'\beta,\; v_i + \tau^2_i),\qquad
    \log \tau^2_i = z_i'\alpha \;(\texttt{link="log"})\quad\text{or}\quad
    \tau^2_i = z_i'\alpha \;(\texttt{link="identity"}, \tau^2_i \ge 0).

For given α the coefficients are the weighted least-squares estimates
:math:`\hat\beta = (X'WX)^{-1}X'Wy`, :math:`W = \operatorname{diag}(1/(v_i + \tau^2_i))`, with
:math:`\operatorname{Var}\hat\beta = (X'WX)^{-1}`; α maximises the profile log-likelihood

.. math::

    \ell_{ML} = -\tfrac12\Big[k\log 2\pi + \sum_i \log(v_i + \tau^2_i) + RSS\Big],\qquad
    \ell_{REML} = -\tfrac12\Big[(k-p)\log 2\pi - \log|X'X| + \sum_i \log(v_i + \tau^2_i)
                  + \log|X'WX| + RSS\Big],

:math:`RSS = \sum_i (y_i - x_i'\hat\beta)^2/(v_i + \tau^2_i)` (metafor's REML includes the
constant :math:`\tfrac12\log|X'X|`). Non-dummy scale moderators are standardised during the
optimisation (BFGS, SciPy; SLSQP with :math:`Z\alpha \ge 0` for the identity link) and the
variance of :math:`\hat\alpha` is the inverse of the numerical Hessian of the negative profile
log-likelihood (Richardson extrapolation, as metafor's numDeriv call). Tests: z, or t on
k - p (location) and k - q (scale) df with ``test="t"``; the omnibus tests QM and QS (chi-square,
or F divided by the number of coefficients for t tests) leave out the intercepts. The
likelihood-ratio test compares with the model with the same location moderators and a single
tau² (``scale = ~ 1``), fitted with the same method.

References
----------
Viechtbauer, W., & López-López, J. A. (2022). Location-scale models for meta-analysis.
*Research Synthesis Methods*, 13(6), 697-715.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize, special

from metaverdict._results import ResultMixin, fmt, fmt_p, read_only
from metaverdict._validation import check_bounds, check_level, choice
from metaverdict.errors import InputError
from metaverdict.models._numderiv import hessian, inverse_pd
from metaverdict.models._standardise import standardised
from metaverdict.models.design import design_matrix
from metaverdict.models.inference import FitStatistics, critical_value, information_criteria
from metaverdict.models.intervals import (
    PooledFit,
    ProfileCI,
    coefficient_frame,
    coefficient_table,
    coefficient_values,
    prediction_frame,
    profile_frame,
    profiled_parameter,
)
from metaverdict.models.random_effects import chi2_quantile

LINKS = ("log", "identity")


def _profile(alpha: np.ndarray, y: np.ndarray, v: np.ndarray, X: np.ndarray, Z: np.ndarray,
             reml: bool, link: str) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Profile log-likelihood at ``alpha`` -> (ll, beta, (X'WX)^{-1}, tau2 per study);
    ll is -inf where some tau² would be negative (identity link) or not finite."""
    eta = Z @ alpha
    with np.errstate(over="ignore"):
        tau2 = np.exp(eta) if link == "log" else eta
    if not np.all(np.isfinite(tau2)) or np.any(tau2 < 0):
        return -math.inf, np.full(X.shape[1], np.nan), np.full((X.shape[1],) * 2, np.nan), tau2
    s2 = v + tau2
    w = 1 / s2
    xtwx = X.T @ (X * w[:, None])
    try:
        vb = np.linalg.inv(xtwx)
    except np.linalg.LinAlgError:
        return -math.inf, np.full(X.shape[1], np.nan), np.full((X.shape[1],) * 2, np.nan), tau2
    beta = vb @ (X.T @ (w * y))
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    k, p = X.shape
    if reml:
        ll = -0.5 * ((k - p) * math.log(2 * math.pi) - np.linalg.slogdet(X.T @ X)[1]
                     + float(np.sum(np.log(s2))) + np.linalg.slogdet(xtwx)[1] + rss)
    else:
        ll = -0.5 * (k * math.log(2 * math.pi) + float(np.sum(np.log(s2))) + rss)
    return (float(ll) if math.isfinite(ll) else -math.inf), beta, vb, tau2


def _maximise(y: np.ndarray, v: np.ndarray, X: np.ndarray, Z: np.ndarray, reml: bool,
              link: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """ML/REML estimate of alpha and its covariance (inverse Hessian), and convergence."""
    Zs, M = standardised(Z) if link == "log" else (Z, np.eye(Z.shape[1]))

    def negll(a: np.ndarray) -> float:
        return -_profile(a, y, v, X, Zs, reml, link)[0]

    def objective(a: np.ndarray) -> float:
        val = negll(a)
        return val if math.isfinite(val) else 1e100

    tau2_0 = _moment_tau2(y, v, X)
    if link == "log":
        start = np.zeros(Z.shape[1])
        start[0] = math.log(tau2_0 + 0.01)
        opt = optimize.minimize(objective, start, method="BFGS",
                                options={"gtol": 1e-9, "maxiter": 5000})
        converged = bool(opt.success) or opt.status == 2      # 2: precision loss at the optimum
    else:
        start = np.linalg.lstsq(Z, np.full(len(y), tau2_0 + 0.01), rcond=None)[0]
        if np.any(Z @ start < 0):
            start = np.zeros(Z.shape[1])
            start[0] = tau2_0 + 0.01
        opt = optimize.minimize(objective, start, method="SLSQP",
                                constraints=[{"type": "ineq", "fun": lambda a: Zs @ a}],
                                options={"ftol": 1e-14, "maxiter": 5000})
        converged = bool(opt.success)
    va_s = inverse_pd(hessian(negll, opt.x, r=8))
    if va_s is None:
        warnings.warn("the Hessian of the log-likelihood is not positive definite (an estimate "
                      "on a boundary, e.g. a tau^2 of 0 with link='identity'): the scale "
                      "coefficients have no standard errors (NaN)", UserWarning, stacklevel=3)
        va_s = np.full((Z.shape[1],) * 2, np.nan)
    return M @ opt.x, M @ va_s @ M.T, converged



def _moment_tau2(y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    """A DerSimonian-Laird-type starting value for tau² (residual heterogeneity)."""
    k, p = X.shape
    w = 1 / v
    beta = np.linalg.lstsq(X * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    q = float(np.sum(w * (y - X @ beta) ** 2))
    xtwx_inv = np.linalg.pinv(X.T @ (X * w[:, None]))
    c = float(np.sum(w) - np.trace(xtwx_inv @ (X.T @ (X * (w ** 2)[:, None]))))
    return max(0.0, (q - (k - p)) / c) if c > 0 else 0.0


@dataclass(frozen=True, eq=False, repr=False)
class LocationScaleResult(PooledFit, ResultMixin):
    """A fitted location-scale model (metafor ``rma.ls``).

    ``estimate`` ... ``ci_upper`` describe the first location coefficient (the intercept);
    ``coefficients`` (β) and ``scale_coefficients`` (α, on the log-tau² scale for
    ``link="log"``) hold every coefficient. ``tau2`` is each study's fitted tau².
    ``qm``/``qs`` are the omnibus tests of the location and scale moderators (None without
    moderators), ``q`` the test of residual heterogeneity (1/vi weights); ``lrt`` compares with
    the model with a single tau² (None when ``scale`` has no moderators). ``df`` is the t df
    of the location tests (NaN for z tests). ``yi``, ``vi``, ``design`` (X) and
    ``scale_design`` (Z) are the fitted data and model matrices; :meth:`predict` gives fitted
    values and predictions, :meth:`profile_ci` profile-likelihood CIs of the scale
    coefficients.
    """

    link: str
    df: float
    scale_df: float
    terms: tuple[str, ...]
    scale_terms: tuple[str, ...]
    vcov: np.ndarray
    scale_vcov: np.ndarray
    tau2: np.ndarray
    qm: float | None
    qm_df: tuple[int, float] | None
    qm_pvalue: float | None
    qs: float | None
    qs_df: tuple[int, float] | None
    qs_pvalue: float | None
    q: float
    q_df: int
    q_pvalue: float
    lrt: float | None
    lrt_df: int | None
    lrt_pvalue: float | None
    fit_statistics: FitStatistics
    converged: bool
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    design: np.ndarray = field(repr=False)
    scale_design: np.ndarray = field(repr=False)
    _coefficients: np.ndarray = field(repr=False)
    _scale_coefficients: np.ndarray = field(repr=False)
    _repr_fields = ("method", "k", "estimate", "ci_lower", "ci_upper", "qs_pvalue")
    _dict_properties = ("coefficients", "scale_coefficients")

    @property
    def coefficients(self) -> pd.DataFrame:
        """Location coefficients β: estimate, se, statistic, pvalue, ci_lower, ci_upper."""
        return coefficient_frame(self._coefficients, self.terms)

    @property
    def scale_coefficients(self) -> pd.DataFrame:
        """Scale coefficients α (log tau² for ``link="log"``), the same columns."""
        return coefficient_frame(self._scale_coefficients, self.scale_terms)

    def predict(self, newmods: Any = None, newscale: Any = None,
                level: float | None = None) -> pd.DataFrame:
        r"""Fitted values and predictions (metafor ``predict.rma.ls``), in four cases:

        - neither ``newmods`` nor ``newscale``: the fitted value :math:`x_i'\hat\beta` of each
          study, with CI and prediction interval :math:`\hat\mu_i \pm c\sqrt{SE^2 +
          \hat\tau^2_i}` at the study's own fitted tau²;
        - ``newmods`` only: :math:`x'\hat\beta` with SE and CI; no prediction interval (NaN),
          since tau² depends on the scale moderators, which are not given;
        - ``newscale`` only: the scale model's linear predictor :math:`z'\hat\alpha` (log tau²
          for ``link="log"``, tau² for ``"identity"``) with SE and CI, and the predicted tau²
          with its CI (``tau2``, ``tau2_ci_lower``, ``tau2_ci_upper``: the exponentials for the
          log link; for the identity link the same values, negative ones set to 0 with a
          warning, as metafor);
        - both: :math:`x'\hat\beta` with CI and the prediction interval at the tau² predicted
          from the row of ``newscale`` (one row of either is repeated to the other's length).

        ``c`` is the normal quantile, or the t quantile on k - p (location) or k - q (scale)
        df for ``test="t"``.

        Parameters
        ----------
        newmods, newscale : array-like, optional
            Location or scale moderator values, one row per prediction, without the intercept
            column when the model has one (the columns of ``terms``/``scale_terms`` after
            ``intrcpt``); a 1-d sequence is one value per prediction when the model has a
            single moderator, else one row.
        level : float, optional
            Confidence level (default: the fit's).

        Returns
        -------
        DataFrame
            ``pred``, ``se``, ``ci_lower``, ``ci_upper``, then ``pi_lower``, ``pi_upper``
            (location predictions) or ``tau2``, ``tau2_ci_lower``, ``tau2_ci_upper`` (scale
            predictions).

        Raises
        ------
        InputError
            Values for a model part without moderators, the wrong number of columns,
            non-finite values, or ``newmods`` and ``newscale`` of different lengths (neither
            of length 1).
        """
        level = self.level if level is None else check_level(level)
        beta = self._coefficients[:, 0]
        alpha = self._scale_coefficients[:, 0]
        crit = critical_value(level, self.df)
        if newmods is None and newscale is None:
            return prediction_frame(self.design, beta, self.vcov, crit, self.tau2)
        X = None if newmods is None else _new_rows(newmods, self.terms, "newmods")
        Z = None if newscale is None else _new_rows(newscale, self.scale_terms, "newscale")
        if X is None:
            assert Z is not None
            frame = prediction_frame(Z, alpha, self.scale_vcov,
                                     critical_value(level, self.scale_df))
            frame = frame[["pred", "se", "ci_lower", "ci_upper"]].copy()
            if self.link == "log":
                for col, name in (("pred", "tau2"), ("ci_lower", "tau2_ci_lower"),
                                  ("ci_upper", "tau2_ci_upper")):
                    frame[name] = np.exp(frame[col])
                return frame
            if (frame["pred"] < 0).any():
                warnings.warn("negative predicted tau^2 values set to 0", UserWarning,
                              stacklevel=2)
            for col in ("pred", "ci_lower", "ci_upper"):
                frame[col] = frame[col].clip(lower=0)
            frame["tau2"], frame["tau2_ci_lower"], frame["tau2_ci_upper"] = (
                frame["pred"], frame["ci_lower"], frame["ci_upper"])
            return frame
        if Z is None:
            return prediction_frame(X, beta, self.vcov, crit)
        tau2 = Z @ alpha
        if self.link == "log":
            tau2 = np.exp(tau2)
        elif (tau2 < 0).any():
            warnings.warn("negative predicted tau^2 values set to 0", UserWarning, stacklevel=2)
            tau2 = np.maximum(tau2, 0.0)
        if len(X) == 1 < len(tau2):
            X = np.repeat(X, len(tau2), axis=0)
        elif len(tau2) == 1 < len(X):
            tau2 = np.repeat(tau2, len(X))
        if len(X) != len(tau2):
            raise InputError(f"fields 'newmods', 'newscale': {len(X)} rows of location values "
                             f"and {len(tau2)} of scale values (give equally many, or one of "
                             "either)")
        return prediction_frame(X, beta, self.vcov, crit, tau2)

    def profile_ci(self, level: float | None = None) -> ProfileCI:
        r"""Profile-likelihood confidence intervals of the scale coefficients α (metafor
        ``confint.rma.ls``): for each :math:`\alpha_j`, the values where
        :math:`2[\ell(\hat\alpha) - \max_{\alpha_{-j}}\ell(\alpha_j, \alpha_{-j})]` equals the
        :math:`\chi^2_1` quantile at ``level`` (β profiled out as in the fit; the same ML or
        REML likelihood). The bounds are solved to 1e-10 (metafor: 1.2e-4) and searched
        without metafor's limit of 10 SEs or 10 |α_j| around the estimate; a bound that the
        likelihood never reaches (a flat profile) is -inf or inf, with a warning.

        Parameters
        ----------
        level : float, optional
            Confidence level (default: the fit's).

        Returns
        -------
        ProfileCI
            ``table``: one row per scale term (``alpha``, ``ci_lower``, ``ci_upper``).

        Raises
        ------
        InputError
            For ``link="identity"`` (its constrained profile is not implemented).
        """
        level = self.level if level is None else check_level(level)
        if self.link != "log":
            raise InputError("field 'link': profile-likelihood CIs are implemented for "
                             "link='log' only; use the Wald CIs of scale_coefficients")
        return _scale_profile_ci(self, level)

    @property
    def estimated_parameters(self) -> tuple[str, ...]:
        """Names of the scale coefficients as profiled by
        :func:`metaverdict.likelihood_profile`: ``"alpha.<term>"``."""
        return tuple(f"alpha.{t}" for t in self.scale_terms)

    def summary(self) -> str:
        pct = int(round(self.level * 100))
        stat = "t" if self.test == "t" else "z"
        lines = [f"Location-scale model (k = {self.k}; {self.method}; {self.link} link)", "",
                 f"Test for residual heterogeneity: Q({self.q_df}) = {fmt(self.q)}, "
                 f"p = {fmt_p(self.q_pvalue)}"]
        if self.qm is not None:
            lines.append(f"Test of location coefficients: QM = {fmt(self.qm)}, "
                         f"p = {fmt_p(self.qm_pvalue)}")
        if self.qs is not None:
            lines.append(f"Test of scale coefficients: QS = {fmt(self.qs)}, "
                         f"p = {fmt_p(self.qs_pvalue)}")
        if self.lrt is not None:
            lines.append(f"LRT against a single tau^2: X^2({self.lrt_df}) = {fmt(self.lrt)}, "
                         f"p = {fmt_p(self.lrt_pvalue)}")
        lines += ["", "Location:", coefficient_table(self._coefficients, self.terms, stat, pct),
                  "", f"Scale ({'log tau^2' if self.link == 'log' else 'tau^2'}):",
                  coefficient_table(self._scale_coefficients, self.scale_terms, stat, pct)]
        if not self.converged:
            lines.append("WARNING: the optimiser did not converge")
        return "\n".join(lines)


def location_scale(yi: Any, vi: Any = None, *, scale: Any, sei: Any = None,
                   data: pd.DataFrame | None = None, mods: Any = None, method: str = "REML",
                   test: str = "z", link: str = "log", level: float = 0.95,
                   labels: Any = None) -> LocationScaleResult:
    """Fit a location-scale meta-regression model (metafor ``rma(..., scale = ~ z)``).

    Parameters
    ----------
    yi, vi, sei, data, labels
        As in :func:`metaverdict.meta_analysis`.
    scale : str, DataFrame or array
        Moderators of tau² (a formula over ``data``, e.g. ``"ni100"``, ``"1"`` for a single
        tau², or columns); an intercept is added.
    mods : str, DataFrame or array, optional
        Moderators of the mean effect (intercept only when omitted).
    method : {"REML", "ML"}
    test : {"z", "t"}
        Wald z tests, or t tests (location on k - p, scale on k - q df; metafor ``test="t"``).
    link : {"log", "identity"}
        ``log tau²_i = z_i'α`` (default) or ``tau²_i = z_i'α`` constrained to be >= 0.
    level : float
        Confidence level.

    Returns
    -------
    LocationScaleResult

    Raises
    ------
    InputError
        Bad effect sizes or variances, unknown method/test/link, a bad moderator design.

    Examples
    --------
    >>> from metaverdict.models.location_scale import location_scale
    >>> yi = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15, 0.52, 0.28, 0.90, 0.05]
    >>> vi = [0.02, 0.03, 0.01, 0.04, 0.02, 0.01, 0.03, 0.02, 0.05, 0.01]
    >>> res = location_scale(yi, vi, scale=[0, 1, 0, 1, 1, 0, 1, 0, 1, 0])
    >>> res.scale_terms
    ('intrcpt', 'x1')
    """
    from metaverdict.models.univariate import _inputs

    method = choice(method, ("REML", "ML"), "method")
    test = choice(test, ("z", "t"), "test")
    link = choice(link, LINKS, "link")
    level = check_level(level)
    y, v, labels, data = _inputs(yi, vi, sei, data, labels)
    check_bounds(y, "yi", labels)
    check_bounds(v, "vi", labels, lower=0, lower_strict=True)
    k = len(y)
    X, names = (np.ones((k, 1)), ["intrcpt"]) if mods is None else design_matrix(
        mods, data, k, labels)
    Z, scale_names = design_matrix(_scale_columns(scale), data, k, labels)
    reml = method == "REML"
    alpha, va, converged = _maximise(y, v, X, Z, reml, link)
    ll, beta, vb, tau2 = _profile(alpha, y, v, X, Z, reml, link)
    p, q = X.shape[1], Z.shape[1]
    t_test = test == "t"
    df, scale_df = (float(k - p), float(k - q)) if t_test else (math.nan, math.nan)
    coef = _table(beta, vb, df, level)
    scale_coef = _table(alpha, va, scale_df, level)
    qm = _omnibus(beta, vb, names, t_test, k - p)
    qs = _omnibus(alpha, va, scale_names, t_test, k - q)
    lrt = lrt_df = lrt_p = None
    if q > 1:
        ones = np.ones((k, 1))
        alpha0, _, null_conv = _maximise(y, v, X, ones, reml, link)
        ll0 = _profile(alpha0, y, v, X, ones, reml, link)[0]
        lrt, lrt_df = max(0.0, 2 * (ll - ll0)), q - 1
        lrt_p = float(special.chdtrc(lrt_df, lrt))
        converged = converged and null_conv
    w = 1 / v
    xtwx_fe = X.T @ (X * w[:, None])
    resid = y - X @ np.linalg.solve(xtwx_fe, X.T @ (w * y))
    qe = max(0.0, float(np.sum(w * resid ** 2)))
    return LocationScaleResult(
        method=method, test=test, link=link, level=level, k=k,
        estimate=float(coef[0, 0]), se=float(coef[0, 1]), statistic=float(coef[0, 2]),
        pvalue=float(coef[0, 3]), ci_lower=float(coef[0, 4]), ci_upper=float(coef[0, 5]),
        df=df, scale_df=scale_df, terms=tuple(names), scale_terms=tuple(scale_names),
        vcov=read_only(vb), scale_vcov=read_only(va), tau2=read_only(tau2),
        qm=None if qm is None else qm[0], qm_df=None if qm is None else qm[1],
        qm_pvalue=None if qm is None else qm[2], qs=None if qs is None else qs[0],
        qs_df=None if qs is None else qs[1], qs_pvalue=None if qs is None else qs[2],
        q=qe, q_df=k - p, q_pvalue=float(special.chdtrc(k - p, qe)) if k > p else 1.0,
        lrt=lrt, lrt_df=lrt_df, lrt_pvalue=lrt_p,
        fit_statistics=_fit_statistics(y, v, X, Z, alpha, link, p + q),
        converged=converged, yi=read_only(y), vi=read_only(v), design=read_only(X),
        scale_design=read_only(Z),
        _coefficients=coef, _scale_coefficients=scale_coef)


#: How far a profile-likelihood bound is searched: up to 2**PROFILE_DOUBLINGS times the Wald
#: half-width from the estimate (about 1e6 SEs); beyond that it is reported as -inf / inf.
PROFILE_DOUBLINGS = 20
#: A bound is determined when the profile (2 log-likelihood less the critical value) is
#: within this of 0 just inside and just outside it: a smooth crossing, not a jump.
PROFILE_AGREEMENT = 1e-3
_NM = {"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-12}


class _HeldScale:
    """The profile log-likelihood of ``res`` at α_j = x (log link): the maximum over the
    other scale coefficients on the line a = m x / m'm + N b of the standardised coordinates
    (alpha = M a; N an orthonormal basis of the directions that keep α_j fixed), the best of
    three local searches (BFGS and Nelder-Mead from the estimate's projection, Nelder-Mead
    from the centre); memoised, so that a root search sees one function. A call returns the
    maximum and the maximising α."""

    def __init__(self, res: LocationScaleResult, j: int) -> None:
        self.y, self.v, self.X = res.yi, res.vi, res.design
        self.reml = res.method == "REML"
        self.Zs, self.M = standardised(res.scale_design)
        self.m = self.M[j]
        self.N = linalg.null_space(self.m[None, :])
        self.b0 = self.N.T @ np.linalg.solve(self.M, res._scale_coefficients[:, 0])
        self.memo: dict[float, tuple[float, np.ndarray]] = {}

    def __call__(self, x: float) -> tuple[float, np.ndarray]:
        if x not in self.memo:
            base = self.m * (x / float(self.m @ self.m))

            def negll(b: np.ndarray) -> float:
                val = _profile(base + self.N @ b, self.y, self.v, self.X, self.Zs, self.reml,
                               "log")[0]
                return -val if math.isfinite(val) else 1e100

            if self.N.shape[1]:
                runs = [optimize.minimize(negll, self.b0, method="BFGS",
                                          options={"gtol": 1e-10}),
                        optimize.minimize(negll, self.b0, method="Nelder-Mead", options=_NM),
                        optimize.minimize(negll, np.zeros_like(self.b0), method="Nelder-Mead",
                                          options=_NM)]
                best = min(runs, key=lambda r: float(r.fun))
                fun, b = float(best.fun), np.asarray(best.x)
            else:
                fun, b = negll(np.zeros(0)), np.zeros(0)
            self.memo[x] = (-fun, self.M @ (base + self.N @ b))
        return self.memo[x]


def _scale_profile_ci(res: LocationScaleResult, level: float) -> ProfileCI:
    """:meth:`LocationScaleResult.profile_ci` (log link).

    The profile at α_j = x (:class:`_HeldScale`) maximises over the other coefficients in
    standardised coordinates, so that a moderator such as a year (a large intercept, strongly
    correlated with its slope) does not make the search ill-conditioned. Where some studies'
    tau² can go to 0 the profile has several local maxima; each value is the best of three
    local searches and is computed once. A bound where the profile jumps across the critical
    value instead of crossing it (the searches find a better local maximum on one side
    only; checked at 1e-6 of the distance on either side, :data:`PROFILE_AGREEMENT`) is
    not determined: NaN, with a warning. No local search can promise the global maximum of
    such a profile; metafor's single search gives up there ("convergence problems") or stops
    at its search limit."""
    alpha, se = res._scale_coefficients[:, 0], res._scale_coefficients[:, 1]
    ll_max = _profile(alpha, res.yi, res.vi, res.design, res.scale_design,
                      res.method == "REML", "log")[0]
    crit = chi2_quantile(level, 1)
    rows, open_ends, unsure = [], [], []
    for j, term in enumerate(res.scale_terms):
        held = _HeldScale(res, j)

        def excess(x: float, held: _HeldScale = held) -> float:
            return 2 * (ll_max - held(x)[0]) - crit

        est = float(alpha[j])
        step0 = (float(se[j]) * math.sqrt(crit) if math.isfinite(se[j]) and se[j] > 0
                 else max(abs(est), 1.0))
        bounds = []
        for direction, side in ((-1.0, "lower"), (1.0, "upper")):
            inner, step, outer = est, step0, math.nan
            for _ in range(PROFILE_DOUBLINGS + 1):
                x = est + direction * step
                if excess(x) > 0:
                    outer = x
                    break
                inner, step = x, 2 * step
            if math.isnan(outer):
                bounds.append(direction * math.inf)
                open_ends.append(f"{term} {side}")
                continue
            lo, hi = sorted((inner, outer))
            root = float(optimize.brentq(excess, lo, hi, xtol=1e-10, rtol=1e-12, maxiter=500))
            # a true bound is a smooth crossing; a jump (a better local maximum that the
            # searches find on one side only) is not one
            h = 1e-6 * max(step0, abs(root - est))
            if max(abs(excess(root - h)), abs(excess(root + h))) > PROFILE_AGREEMENT:
                root = math.nan
                unsure.append(f"{term} {side}")
            bounds.append(root)
        rows.append((est, bounds[0], bounds[1]))
    if open_ends:
        warnings.warn("the profile likelihood does not fall by the critical value within "
                      f"2^{PROFILE_DOUBLINGS} Wald half-widths of the estimate (the bound is "
                      f"-inf or inf): {', '.join(open_ends)}", UserWarning, stacklevel=3)
    if unsure:
        warnings.warn("the profile likelihood jumps across the critical value near these "
                      "bounds (several local maxima: some studies' tau^2 near 0), so they are "
                      "not determined (NaN): "
                      f"{', '.join(unsure)}", UserWarning, stacklevel=3)
    table = pd.DataFrame(rows, columns=["alpha", "ci_lower", "ci_upper"],
                         index=pd.Index(list(res.scale_terms), name="term"))
    return ProfileCI(level=level, _table=table)


def _new_rows(values: Any, terms: tuple[str, ...], field_name: str) -> np.ndarray:
    """Rows of a model matrix for new moderator ``values`` (without the intercept column when
    ``terms`` starts with it, which is then added)."""
    intercept = terms[0] == "intrcpt"
    m = len(terms) - intercept
    if m == 0:
        raise InputError(f"field {field_name!r}: the model has no moderators in this part "
                         "(only an intercept); call predict() without it")
    try:
        new = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"field {field_name!r}: numbers expected, got {values!r}") from None
    if new.ndim > 2:
        raise InputError(f"field {field_name!r}: one row per prediction expected (at most 2 "
                         f"dimensions), got shape {new.shape}")
    if new.ndim < 2:
        new = new.reshape(-1, m) if m == 1 or new.size == m else new.reshape(1, -1)
    if new.shape[1] != m or len(new) == 0:
        raise InputError(f"field {field_name!r}: {new.shape[1]} columns given, the model has "
                         f"{m} ({list(terms[intercept:])})")
    if not np.isfinite(new).all():
        raise InputError(f"field {field_name!r}: values must be finite numbers")
    return np.column_stack([np.ones(len(new)), new]) if intercept else new


def _scale_columns(scale: Any) -> Any:
    """A 1-d sequence of scale values becomes one column named ``x1`` (as R names a vector)."""
    if isinstance(scale, str) or isinstance(scale, pd.DataFrame):
        return scale
    if isinstance(scale, pd.Series):
        return scale.to_frame()
    arr = np.asarray(scale)
    if arr.ndim == 1:
        return pd.DataFrame({"x1": arr})
    if arr.ndim == 2:
        return pd.DataFrame(arr, columns=[f"x{j + 1}" for j in range(arr.shape[1])])
    raise InputError(f"field 'scale': a formula or moderator columns expected, got {scale!r}")


def _table(b: np.ndarray, vb: np.ndarray, df: float, level: float) -> np.ndarray:
    se = np.sqrt(np.diagonal(vb))
    stat = b / se
    if math.isnan(df):
        pv = 2 * special.ndtr(-np.abs(stat))
    else:
        pv = 2 * special.stdtr(df, -np.abs(stat)) if df > 0 else np.full_like(stat, np.nan)
    crit = critical_value(level, df)
    return coefficient_values(b, se, stat, pv, b - crit * se, b + crit * se)


def _omnibus(b: np.ndarray, vb: np.ndarray, names: list[str], t_test: bool,
             ddf: int) -> tuple[float, tuple[int, float], float] | None:
    """Wald test that the coefficients other than the intercept are 0 (chi-square on m df,
    or F(m, ddf) with the statistic divided by m for t tests); None without moderators."""
    idx = [j for j, n in enumerate(names) if n != "intrcpt"]
    if not idx:
        return None
    sub = b[idx]
    try:
        stat = float(sub @ np.linalg.solve(vb[np.ix_(idx, idx)], sub))
    except np.linalg.LinAlgError:
        stat = math.nan
    m = len(idx)
    if t_test:
        stat /= m
        return stat, (m, float(ddf)), float(special.fdtrc(m, ddf, stat)) if ddf > 0 else math.nan
    return stat, (m, math.nan), float(special.chdtrc(m, stat))


def _fit_statistics(y: np.ndarray, v: np.ndarray, X: np.ndarray, Z: np.ndarray,
                    alpha: np.ndarray, link: str, parms: int) -> FitStatistics:
    """metafor's ``fit.stats`` of a location-scale model (ML and REML columns, parms = p+q)."""
    k, p = X.shape
    ll_ml = _profile(alpha, y, v, X, Z, False, link)[0]
    ll_reml = _profile(alpha, y, v, X, Z, True, link)[0]
    sat = -0.5 * float(np.sum(np.log(2 * np.pi * v)))
    dev_ml = -2 * (ll_ml - sat) if k > p else 0.0
    return FitStatistics(ll_ml, dev_ml, *information_criteria(ll_ml, k, parms), ll_reml,
                         -2 * ll_reml, *information_criteria(ll_reml, k - p, parms))


def profile_values(res: LocationScaleResult, component: str | None, steps: int,
                   xlim: tuple[float, float] | None
                   ) -> tuple[str, float, tuple[float, float], pd.DataFrame]:
    """The rows of the likelihood profile of one scale coefficient (``"alpha.<term>"``, see
    :attr:`LocationScaleResult.estimated_parameters`; may be omitted with one scale term):
    the log-likelihood maximised over the other scale coefficients (:class:`_HeldScale`) at
    ``steps`` values over ``xlim`` (default metafor's: the estimate ± 2.576 SE, else ± 4 times
    its absolute value), with the location coefficients and their CIs there (metafor
    ``profile.rma.ls``). Log link only. Returns the name, the estimate, the range and the
    table (see :class:`metaverdict.diagnostics.profile.LikelihoodProfile`)."""
    if res.link != "log":
        raise InputError("field 'link': likelihood profiles are implemented for link='log' "
                         "only")
    component = profiled_parameter(component, res.estimated_parameters, "scale coefficient")
    j = res.estimated_parameters.index(component)
    value, se = (float(c) for c in res._scale_coefficients[j, :2])
    if xlim is None:
        half = float(special.ndtri(0.995)) * se if math.isfinite(se) else 4 * abs(value)
        xlim = (value - half, value + half)
    held = _HeldScale(res, j)
    points: list[tuple[float, float, pd.DataFrame | None]] = []
    for x in np.linspace(xlim[0], xlim[1], steps):
        ll, alpha = held(float(x))
        if not math.isfinite(ll):
            points.append((float(x), math.nan, None))
            continue
        _, beta, vb, _ = _profile(alpha, res.yi, res.vi, res.design, res.scale_design,
                                  held.reml, "log")
        points.append((float(x), ll, coefficient_frame(_table(beta, vb, res.df, res.level),
                                                       res.terms)))
    return component, value, (float(xlim[0]), float(xlim[1])), profile_frame(
        component, res.terms, points)

