r"""``bayesian_meta_analysis``: exact Bayesian random-effects meta-analysis in the normal-normal
hierarchical model, the counterpart of R's ``bayesmeta()`` (Röver 2020). A single fit is a
batch of one through the kernels of :mod:`.kernel`, which :func:`.batch.bayesian_batch` runs
over many analyses at once.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from metaverdict._results import read_only
from metaverdict._validation import check_bounds, check_level, choice
from metaverdict.errors import InputError
from metaverdict.models.bayes.direct import direct_grid
from metaverdict.models.bayes.kernel import (
    BatchData,
    Mixture,
    MixtureNodes,
    TailBehaviour,
    TauPosterior,
    batch_data,
    conditional,
    dprofile_dtau2,
    integrate_log_tau,
    log_joint_likelihood,
    mu_mixture,
    predictive_mixture,
    shrinkage_mixture,
    stack,
    tail_behaviour,
    tau_posterior,
    typical_variance,
)
from metaverdict.models.bayes.priors import MuPrior, TauPrior, mu_prior_from, tau_prior_from
from metaverdict.models.bayes.result import (
    BayesFactors,
    BayesianMetaAnalysisResult,
    PointEstimate,
    argmax_tau,
    tau_interval,
)
from metaverdict.models.univariate import _inputs


def bayesian_meta_analysis(yi: Any, vi: Any = None, *, sei: Any = None,
                           data: pd.DataFrame | None = None, labels: Any = None,
                           tau_prior: str | TauPrior = "uniform", tau_scale: float | None = None,
                           tau_df: float | None = None, tau_shape: float | None = None,
                           mu_prior: Any = None, level: float = 0.95,
                           interval: str = "shortest", method: str = "exact",
                           delta: float = 0.01, epsilon: float = 1e-4,
                           mcid: float | None = None, lower_is_better: bool = True
                           ) -> BayesianMetaAnalysisResult:
    r"""Exact Bayesian random-effects meta-analysis (R bayesmeta 3.4 ``bayesmeta()``).

    The normal-normal hierarchical model :math:`y_i \sim N(\theta_i, v_i)`,
    :math:`\theta_i \sim N(\mu, \tau^2)`, with priors :math:`p(\tau)` and :math:`p(\mu)`
    (improper uniform or normal). :math:`\mu` is integrated out analytically given
    :math:`\tau`; the marginal posterior of :math:`\tau` is integrated numerically, and the
    marginals of :math:`\mu`, of each study's :math:`\theta_i` (shrinkage) and of a new study's
    :math:`\theta` (prediction) are mixtures of normal conditionals over it (formulas in
    :mod:`metaverdict.models.bayes.kernel`).

    Parameters
    ----------
    yi : array-like, str or EffectSizes
        Effect sizes (or a column of ``data``, or :func:`metaverdict.effect_sizes`' result).
    vi, sei : array-like or str
        Sampling variances or standard errors (bayesmeta's ``sigma``); one is required.
    data : DataFrame, optional
        Source of columns named in ``yi``, ``vi``, ``sei``; its index labels the studies.
    labels : sequence, optional
        Study labels (default: ``data``'s index, else 1..k).
    tau_prior : str or TauPrior
        ``"uniform"`` (improper; bayesmeta's default), ``"jeffreys"`` (improper),
        ``"half-normal"`` / ``"half-cauchy"`` (``tau_scale``), ``"half-t"`` (``tau_scale``,
        ``tau_df``), ``"lomax"`` (``tau_scale``, ``tau_shape``), ``"turner"`` /
        ``"rhodes"`` (the marginal empirical priors), or a prior object such as
        ``turner_prior("pain", "non-pharmacological", "placebo")`` or
        ``rhodes_prior(...)`` (:mod:`metaverdict.models.bayes.priors`).
    tau_scale, tau_df, tau_shape : float, optional
        Parameters of the named tau prior, on the scale of ``yi``.
    mu_prior : None or (mean, sd)
        None: improper uniform (bayesmeta's default); ``(mean, sd)``: normal.
    level : float
        Level of the credible, prediction and shrinkage intervals.
    interval : {"shortest", "central"}
        Interval type in the summaries (bayesmeta's ``interval.type``).
    method : {"exact", "direct"}
        ``"exact"``: quadrature over tau, accurate to about 1e-10; ``"direct"``: bayesmeta's
        DIRECT grid with ``delta`` and ``epsilon`` (:mod:`.direct`), to reproduce bayesmeta's
        own approximate numbers. Everything about tau alone is exact either way.
    delta, epsilon : float
        DIRECT's divergence bound and tail probability (``method="direct"`` only).
    mcid : float, optional
        Minimal clinically important difference (a magnitude > 0, on the scale of ``yi``):
        the result then carries P(mu beyond the MCID in favour of the treatment), P(beyond it
        against) and P(|mu| < MCID) as ``prob_benefit``, ``prob_harm``, ``prob_within``
        (also :meth:`~.result.BayesianMetaAnalysisResult.probability_beyond` for any MCID).
    lower_is_better : bool
        Whether lower effects favour the treatment (pain: True), for ``prob_benefit``.

    Returns
    -------
    BayesianMetaAnalysisResult

    Raises
    ------
    InputError
        Non-finite effects, non-positive variances (naming the study), unknown or incomplete
        priors, or an improper posterior (e.g. k = 2 with uniform priors on both tau and mu).

    Notes
    -----
    Moments the posterior lacks are NaN: :math:`p(\tau \mid y)` decays like
    :math:`\tau^{-a}` with :math:`a` = (k - 1, or k with a normal mu prior) + the prior's tail
    power; :math:`E\tau` needs :math:`a > 2`, the sds of tau and of a new study's theta (and
    of mu under the uniform prior) :math:`a > 3` (``result.tail``).

    References
    ----------
    Röver C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package.
    J Stat Softw 93(6):1-51. doi:10.18637/jss.v093.i06

    Examples
    --------
    >>> from metaverdict.models.bayes import bayesian_meta_analysis
    >>> post = bayesian_meta_analysis([0.3, 0.1, 0.5, 0.2], [0.04, 0.02, 0.06, 0.03],
    ...                               tau_prior="half-normal", tau_scale=0.5,
    ...                               mu_prior=(0.0, 4.0))
    >>> round(post.estimate, 4), round(post.ci_lower, 4), round(post.ci_upper, 4)
    (0.2352, -0.0474, 0.5413)
    >>> round(post.probability_beyond(0.2, direction="benefit", lower_is_better=False), 3)
    0.616
    """
    y, v, labels, _ = _inputs(yi, vi, sei, data, labels)
    check_bounds(y, "yi", labels)
    check_bounds(v, "vi", labels, lower=0, lower_strict=True)
    if len(y) == 0:
        raise InputError("no studies to pool (yi is empty)")
    prior = tau_prior_from(tau_prior, tau_scale=tau_scale, tau_df=tau_df, tau_shape=tau_shape)
    mu = mu_prior_from(mu_prior)
    level = check_level(level)
    interval = choice(interval, ("shortest", "central"), "interval")
    method = choice(method, ("exact", "direct"), "method")
    if method == "direct":
        if not (math.isfinite(delta) and delta > 0):
            raise InputError(f"field 'delta': must be a positive number, got {delta!r}")
        if not (math.isfinite(epsilon) and 0 < epsilon < 1):
            raise InputError(f"field 'epsilon': must be in (0, 1), got {epsilon!r}")
    if mcid is not None and (isinstance(mcid, bool) or not isinstance(mcid, numbers.Real)
                             or not (math.isfinite(mcid) and mcid > 0)):
        raise InputError(f"field 'mcid': the MCID is a magnitude > 0, got {mcid!r}")
    k = len(y)
    tail = tail_behaviour(prior, mu, k)
    if not tail.proper:
        raise InputError(
            f"field 'tau_prior': the posterior is improper with k = {k} "
            f"{'study' if k == 1 else 'studies'}, a {prior.describe()} prior for tau and a "
            f"{mu.describe()} prior for mu (its density decays like tau^-{tail.exponent:g}; "
            "proper needs a power above 1): use a proper prior for tau or mu")
    bd = batch_data(y[None, :], v[None, :], mu)
    post = tau_posterior(bd, prior)
    nodes = post.nodes if method == "exact" else direct_grid(post, delta, epsilon)
    res = _result(post, nodes, tail, level=level, interval=interval, method=method,
                  labels=labels, delta=delta if method == "direct" else None,
                  epsilon=epsilon if method == "direct" else None)
    if mcid is None:
        return res
    m = float(mcid)
    return dataclasses.replace(
        res, mcid=m, lower_is_better=bool(lower_is_better),
        prob_benefit=res.probability_beyond(m, "benefit", lower_is_better=lower_is_better),
        prob_harm=res.probability_beyond(m, "harm", lower_is_better=lower_is_better),
        prob_within=res.probability_within(m))


def _result(post: TauPosterior, nodes: MixtureNodes, tail: TailBehaviour, *, level: float,
            interval: str, method: str, labels: list[Any] | None, delta: float | None,
            epsilon: float | None) -> BayesianMetaAnalysisResult:
    bd, prior, mu = post.data, post.prior, post.data.mu
    k = int(bd.k[0])
    mixtures = stack([mu_mixture(nodes), predictive_mixture(nodes)]
                     + [shrinkage_mixture(nodes, i) for i in range(k)])
    sd_exists = np.array([tail.mu_sd_exists, tail.theta_sd_exists] + [True] * k)
    rows = _mixture_rows(mixtures, sd_exists, level, interval)
    summary = np.vstack([_tau_row(post, tail, level, interval), rows[:2]])
    shrink = rows[2:]
    ml_joint, ml_marginal, map_joint = _point_estimates(post)
    map_marginal = PointEstimate(float(summary[0, 0]), float(summary[1, 0]))
    marglik, reason, bf = _bayes_factors(post, ml_marginal)
    weights, weights_theta = _weights(post)
    return BayesianMetaAnalysisResult(
        k=k, method=method, tau_prior=prior.describe(), mu_prior=mu.describe(),
        tau_prior_proper=prior.proper, level=level,
        interval_type=interval, tail=tail, marginal_likelihood=marglik,
        marginal_likelihood_reason=reason, bayes_factor=bf, ml_joint=ml_joint,
        ml_marginal=ml_marginal, map_joint=map_joint, map_marginal=map_marginal,
        weights=read_only(weights), typical_vi=float(typical_variance(bd)[0]),
        yi=read_only(bd.y[0].copy()), vi=read_only(bd.s2[0].copy()),
        labels=None if labels is None else list(labels), delta=delta, epsilon=epsilon,
        _summary=read_only(summary), _shrinkage=read_only(shrink),
        _weights_theta=read_only(weights_theta), _post=post, _nodes=nodes, _prior=prior,
        _mu=mu)


# --- summaries ------------------------------------------------------------------------------

def _tau_row(post: TauPosterior, tail: TailBehaviour, level: float, interval: str
             ) -> np.ndarray:
    mean = float(post.expect(post.tau)[0]) if tail.tau_mean_exists else math.nan
    sd = (math.sqrt(float(post.expect((post.tau - mean) ** 2)[0])) if tail.tau_sd_exists
          else math.nan)
    median = float(post.quantile(np.array([[0.5]]))[0, 0])
    lo, hi = tau_interval(post, level, interval)
    return np.array([tau_mode(post), median, mean, sd, lo, hi])


def tau_mode(post: TauPosterior) -> float:
    """The mode of tau's marginal posterior: a root of d log p(tau | y) / d tau =
    p'/p + 2 tau d log L / d tau², or 0 (where the density is finite there)."""
    bd, prior = post.data, post.prior
    upper = float(post.quantile(np.array([[0.9999]]))[0, 0])
    nodes = post.tau[0]
    grid = np.unique(np.concatenate([nodes[(nodes > 0) & (nodes <= upper)],
                                     np.linspace(0, upper, 65)[1:]]))

    def value(t: np.ndarray) -> np.ndarray:
        return np.asarray(post.log_unnormalised(t[None, :])[0])

    def slope(t: np.ndarray) -> np.ndarray:
        tt = t[None, :]
        return np.asarray((prior.dlogpdf(tt, bd.studies)
                           + 2 * tt * dprofile_dtau2(bd, tt * tt, restricted=True))[0])

    zero_ok = bool(np.isfinite(value(np.zeros(1)))[0])
    return argmax_tau(value, slope, grid, zero_ok)


def _mixture_rows(mix: Mixture, sd_exists: np.ndarray, level: float, interval: str
                  ) -> np.ndarray:
    """Mode, median, mean, sd and interval of every row of ``mix`` (NaN sd where it does not
    exist); modes searched between the 0.1% and 99.9% quantiles."""
    n = len(mix.prob)
    q = mix.quantile(np.tile([1e-3, 0.5, 1 - 1e-3], (n, 1)))
    sd = np.where(sd_exists, np.sqrt(np.where(sd_exists, mix.variance(), 0.0)), np.nan)
    if interval == "central":
        a = (1 - level) / 2
        ci = mix.quantile(np.tile([a, 1 - a], (n, 1)))
        lo, hi = ci[:, 0], ci[:, 1]
    else:
        lo, hi = mix.shortest_interval(level)
    mode = mix.mode(q[:, 0], q[:, 2])
    return np.column_stack([mode, q[:, 1], mix.mean_value(), sd, lo, hi])


# --- maximum likelihood and maximum a posteriori ---------------------------------------------

def _tau_grid(bd: BatchData) -> np.ndarray:
    """Points over which the likelihood's maxima in tau are bracketed."""
    y, s = bd.y[0][bd.mask[0]], np.sqrt(bd.s2[0][bd.mask[0]])
    upper = 10 * (float(np.ptp(y)) + float(s.max()))
    scale = math.sqrt(float(typical_variance(bd)[0]))
    return np.unique(np.concatenate([np.geomspace(1e-6 * scale, upper, 240),
                                     np.linspace(0, upper, 81)[1:]]))


def _point_estimates(post: TauPosterior) -> tuple[PointEstimate, PointEstimate, PointEstimate]:
    """Joint and marginal ML estimates and the joint MAP estimate (bayesmeta ``$ML``,
    ``$MAP``)."""
    bd, prior = post.data, post.prior
    flat = BatchData(bd.y, bd.s2, bd.mask, MuPrior())
    grid = _tau_grid(bd)

    def cond_at(data: BatchData, t: np.ndarray) -> Any:
        with np.errstate(divide="ignore"):
            return conditional(data, (2 * np.log(t))[None, :])

    def profile(data: BatchData) -> Any:
        def value(t: np.ndarray) -> np.ndarray:
            c = cond_at(data, t)
            return np.asarray((c.loglik - 0.5 * np.log(c.var))[0])
        return value

    def slope(data: BatchData, restricted: bool) -> Any:
        def d(t: np.ndarray) -> np.ndarray:
            tt = t[None, :]
            return np.asarray((2 * tt * dprofile_dtau2(data, tt * tt, restricted=restricted))[0])
        return d

    tau_j = argmax_tau(profile(flat), slope(flat, False), grid, True)
    ml_joint = PointEstimate(tau_j, float(cond_at(flat, np.array([tau_j])).mean[0, 0]))

    def marginal(t: np.ndarray) -> np.ndarray:
        return np.asarray(cond_at(bd, t).loglik[0])

    tau_m = argmax_tau(marginal, slope(bd, True), grid, True)
    ml_marginal = PointEstimate(tau_m, _ml_marginal_mu(post) if _mu_integrable(post)
                                else math.nan)

    def map_value(t: np.ndarray) -> np.ndarray:
        return np.asarray(prior.logpdf(t[None, :], bd.studies)[0] + profile(bd)(t))

    def map_slope(t: np.ndarray) -> np.ndarray:
        return np.asarray(prior.dlogpdf(t[None, :], bd.studies)[0] + slope(bd, False)(t))

    zero_ok = bool(np.isfinite(map_value(np.zeros(1)))[0])
    tau_map = argmax_tau(map_value, map_slope, grid, zero_ok)
    map_joint = PointEstimate(tau_map, float(cond_at(bd, np.array([tau_map])).mean[0, 0]))
    return ml_joint, ml_marginal, map_joint


def _mu_integrable(post: TauPosterior) -> bool:
    """Whether p(y | mu) = int p(tau) prod N(y_i; mu, v_i) dtau is finite: its integrand
    decays like tau^-(k + prior tail)."""
    tail = post.prior.tail
    k = int(post.data.k[0])
    return tail is None or k + tail > 1 or (post.prior.log_tail and k + tail >= 1)


def log_likelihood_mu(post: TauPosterior, mus: np.ndarray) -> np.ndarray:
    r"""log p(y | mu) = log :math:`\int p(\tau) \prod_i N(y_i; \mu, \sigma_i^2 + \tau^2)
    d\tau` at each of ``mus`` (bayesmeta ``$likelihood(mu = )``), by the quadrature of
    :mod:`.kernel` fitted to each integrand."""
    bd, prior = post.data, post.prior
    n = len(mus)
    rows = BatchData(np.repeat(bd.y, n, 0), np.repeat(bd.s2, n, 0), np.repeat(bd.mask, n, 0),
                     bd.mu)
    m = np.asarray(mus, dtype=float)[:, None]

    def logdens(s: np.ndarray) -> np.ndarray:
        mu = np.broadcast_to(m, s.shape)
        return np.asarray(prior.logpdf_log(s, rows.studies)
                          + log_joint_likelihood(rows, np.exp(s), mu))

    s0 = np.full(n, 0.5 * math.log(float(typical_variance(bd)[0])))
    return integrate_log_tau(logdens, s0, log_tail=prior.log_tail).log_norm


def _ml_marginal_mu(post: TauPosterior) -> float:
    bd = post.data
    y = bd.y[0][bd.mask[0]]
    lo, hi = float(y.min()), float(y.max())
    if hi <= lo:
        return lo
    # p(y | mu) has its maximum between the smallest and the largest estimate: every
    # integrand's derivative in mu has the sign of (weighted mean - mu) outside that range
    res = optimize.minimize_scalar(lambda m: -float(log_likelihood_mu(post, np.array([m]))[0]),
                                   bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-10 * (hi - lo)})
    return float(res.x)


# --- marginal likelihood and Bayes factors ---------------------------------------------------

def _bayes_factors(post: TauPosterior, ml_marginal: PointEstimate
                   ) -> tuple[float, str | None, BayesFactors]:
    bd, prior = post.data, post.prior
    nan = math.nan
    tau0 = mu0 = tau0_min = mu0_min = nan
    log_l0 = float(conditional(bd, np.full((1, 1), -np.inf)).loglik[0, 0])
    log_mu0 = (float(log_likelihood_mu(post, np.zeros(1))[0]) if prior.proper else nan)
    if prior.proper and math.isfinite(ml_marginal.mu):
        mu0_min = math.exp(log_mu0 - float(log_likelihood_mu(post, np.array([ml_marginal.mu]))[0]))
    marglik, reason = nan, None
    if bd.mu.proper:
        log_lmax = float(conditional(bd, np.full((1, 1), 2 * math.log(ml_marginal.tau))
                                     if ml_marginal.tau > 0 else np.full((1, 1), -np.inf)
                                     ).loglik[0, 0])
        tau0_min = math.exp(log_l0 - log_lmax)
        if prior.proper:
            log_m = float(post.log_norm[0])
            marglik = math.exp(log_m)
            tau0 = math.exp(log_l0 - log_m)
            mu0 = math.exp(log_mu0 - log_m)
        else:
            reason = "improper heterogeneity prior"
    else:
        reason = "improper effect prior"
    return marglik, reason, BayesFactors(tau0, mu0, tau0_min, mu0_min)


# --- posterior mean weights -----------------------------------------------------------------

def _weights(post: TauPosterior) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means of the inverse-variance weights in mu's conditional mean (studies, then
    the prior mean with a normal prior) and of each shrinkage estimate's weights: for study j,
    theta_j's conditional mean is (1 - B_j) y_j + B_j m(tau), B_j = sigma_j² / v_j."""
    bd = post.data
    s2 = bd.s2[0][bd.mask[0]]
    tau2 = post.tau[0] ** 2
    prob = post.prob[0]
    prec = 1 / (s2[None, :] + tau2[:, None])                        # (m, k)
    cols = [prec]
    if bd.mu.sd is not None:
        cols.append(np.full((len(tau2), 1), 1 / bd.mu.sd**2))
    prec_all = np.concatenate(cols, axis=1)
    ivw = prec_all / prec_all.sum(axis=1, keepdims=True)          # (m, k [+1])
    weights = prob @ ivw
    b = s2[None, :] * prec                                          # (m, k)
    k = len(s2)
    own = np.zeros((len(tau2), prec_all.shape[1], k))
    own[:, np.arange(k), np.arange(k)] = 1 - b
    theta = own + ivw[:, :, None] * b[:, None, :]                   # (m, rows, cols)
    return weights, np.einsum("m,mij->ij", prob, theta)
