"""The result of :func:`metaverdict.bayesian_meta_analysis`: a frozen dataclass with named
fields, the posterior's density, CDF, quantiles and intervals as methods, ``summary()`` and
``to_dict()``."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from metaverdict._results import ResultMixin, fmt, format_table, to_builtin
from metaverdict._validation import check_level, choice
from metaverdict.errors import InputError
from metaverdict.models.bayes.kernel import (
    Mixture,
    MixtureNodes,
    TailBehaviour,
    TauPosterior,
    conditional,
    log_joint_likelihood,
    mu_mixture,
    predictive_mixture,
    shrinkage_mixture,
)
from metaverdict.models.bayes.priors import MuPrior, TauPrior
from metaverdict.models.intervals import Interval

#: rows of :attr:`BayesianMetaAnalysisResult.summary_table`
PARAMETERS = ("tau", "mu", "theta")
SUMMARY_COLUMNS = ("mode", "median", "mean", "sd", "ci_lower", "ci_upper")
_PARAM_ALIASES = {"tau": "tau", "mu": "mu", "theta": "theta", "predictive": "theta",
                  "theta_new": "theta"}
_DIRECTIONS = ("benefit", "harm", "greater", "less")


@dataclass(frozen=True, repr=False)
class BayesFactors(ResultMixin):
    """Bayes factors for tau = 0 and mu = 0 (bayesmeta ``$bayesfactor``); NaN where a prior
    they need is improper.

    ``tau0`` = L(tau = 0) / marginal likelihood, ``mu0`` = p(y | mu = 0) / marginal likelihood
    (both priors proper); the minimum Bayes factors divide by the likelihood's maximum instead:
    ``tau0_minimum`` = L(0) / L(tau_ML) (needs a proper mu prior), ``mu0_minimum`` =
    p(y | mu = 0) / p(y | mu_ML) (needs a proper tau prior; Spiegelhalter et al. 2004, Sec.
    4.4). Values below 1 are evidence against the hypothesis.
    """

    tau0: float
    mu0: float
    tau0_minimum: float
    mu0_minimum: float
    _repr_fields = ("tau0", "mu0", "tau0_minimum", "mu0_minimum")


@dataclass(frozen=True, repr=False)
class PointEstimate(ResultMixin):
    """A (tau, mu) pair: a joint or marginal maximum-likelihood or maximum-a-posteriori
    estimate."""

    tau: float
    mu: float
    _repr_fields = ("tau", "mu")


@dataclass(frozen=True, eq=False, repr=False)
class BayesianMetaAnalysisResult(ResultMixin):
    """The posterior of the normal-normal hierarchical model (bayesmeta ``bayesmeta()``).

    ``summary_table`` has rows ``tau``, ``mu`` and ``theta`` (a new study's effect: the
    posterior predictive) and columns mode, median, mean, sd, ci_lower, ci_upper (the
    ``interval_type`` at ``level``); ``shrinkage`` has the same columns per study
    (posteriors of the studies' own effects theta_i). A moment the posterior does not have
    (``tail``) is NaN. ``weights`` are the posterior mean inverse-variance weights of the
    studies (and of the prior mean, last, with a normal mu prior) in mu's conditional mean;
    ``weights_theta`` their counterparts in each shrinkage estimate. ``method`` is
    ``"exact"`` (quadrature) or ``"direct"`` (bayesmeta's DIRECT grid with ``delta``,
    ``epsilon``; :mod:`.direct`). With an ``mcid``, ``prob_benefit``, ``prob_harm`` and
    ``prob_within`` are the posterior probabilities that mu lies beyond the MCID in favour of
    the treatment (below -mcid when ``lower_is_better``), beyond it against, and within it.

    Examples
    --------
    >>> from metaverdict.models.bayes import bayesian_meta_analysis
    >>> y = [0.26, -0.04, 0.30, 0.13, 0.47]
    >>> v = [0.04, 0.02, 0.05, 0.01, 0.09]
    >>> post = bayesian_meta_analysis(y, v, tau_prior="half-normal", tau_scale=0.5)
    >>> post.summary_table.round(3)
            mode  median   mean     sd  ci_lower  ci_upper
    tau    0.000   0.121  0.154  0.133     0.000     0.412
    mu     0.150   0.158  0.165  0.122    -0.067     0.417
    theta  0.144   0.154  0.165  0.237    -0.309     0.677
    >>> round(post.probability_beyond(0.1, direction="greater"), 4)
    0.7253
    >>> round(post.quantile("mu", 0.975), 4)
    0.4291
    """

    k: int
    method: str
    tau_prior: str
    mu_prior: str
    tau_prior_proper: bool
    level: float
    interval_type: str
    tail: TailBehaviour
    marginal_likelihood: float
    marginal_likelihood_reason: str | None
    bayes_factor: BayesFactors
    ml_joint: PointEstimate
    ml_marginal: PointEstimate
    map_joint: PointEstimate
    map_marginal: PointEstimate
    weights: np.ndarray
    typical_vi: float
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    labels: list[Any] | None = field(default=None, repr=False)
    delta: float | None = None
    epsilon: float | None = None
    mcid: float | None = None
    lower_is_better: bool = True
    prob_benefit: float = math.nan
    prob_harm: float = math.nan
    prob_within: float = math.nan
    _summary: np.ndarray = field(kw_only=True, repr=False)
    _shrinkage: np.ndarray = field(kw_only=True, repr=False)
    _weights_theta: np.ndarray = field(kw_only=True, repr=False)
    _post: TauPosterior = field(kw_only=True, repr=False)
    _nodes: MixtureNodes = field(kw_only=True, repr=False)
    _prior: TauPrior = field(kw_only=True, repr=False)
    _mu: MuPrior = field(kw_only=True, repr=False)
    _repr_fields = ("method", "k", "estimate", "ci_lower", "ci_upper", "tau_prior")

    # -- tables -------------------------------------------------------------------------------
    @property
    def study_labels(self) -> list[str]:
        """The studies' labels (``"1"`` .. ``"k"`` without labels, as bayesmeta)."""
        if self.labels is None:
            return [str(i + 1) for i in range(self.k)]
        return [str(lab) for lab in self.labels]

    @property
    def summary_table(self) -> pd.DataFrame:
        """Posterior summaries of tau, mu and a new study's theta (a new DataFrame each time)."""
        return pd.DataFrame(self._summary, index=list(PARAMETERS), columns=list(SUMMARY_COLUMNS))

    @property
    def shrinkage(self) -> pd.DataFrame:
        """Per study: ``y``, ``sigma`` and the posterior summaries of its own effect theta_i."""
        frame = pd.DataFrame(self._shrinkage, index=self.study_labels,
                             columns=list(SUMMARY_COLUMNS))
        frame.insert(0, "sigma", np.sqrt(self.vi))
        frame.insert(0, "y", self.yi)
        frame.index.name = "study"
        return frame

    @property
    def weight_labels(self) -> list[str]:
        """Names of :attr:`weights`: the studies, then ``"prior mean"`` (normal mu prior)."""
        return self.study_labels + (["prior mean"] if self._mu.proper else [])

    @property
    def weights_theta(self) -> pd.DataFrame:
        """Posterior mean weights of each study (rows; the prior mean last with a normal mu
        prior) in each study's shrinkage estimate (columns)."""
        return pd.DataFrame(self._weights_theta, index=self.weight_labels,
                            columns=self.study_labels)

    @property
    def support(self) -> pd.DataFrame:
        """The mixture behind the mu-side results: tau, weight, and mu's conditional mean, sd
        and predictive sd at each point (quadrature nodes, or bayesmeta's DIRECT grid)."""
        n = self._nodes
        return pd.DataFrame({"tau": n.tau[0], "weight": n.prob[0], "mean": n.cond_mean[0],
                             "sd": np.sqrt(n.cond_var[0]),
                             "sd_pred": np.sqrt(n.cond_var[0] + n.tau[0] ** 2)})

    # -- the usual headline numbers -----------------------------------------------------------
    @property
    def estimate(self) -> float:
        """Posterior median of mu."""
        return float(self._summary[1, 1])

    @property
    def ci_lower(self) -> float:
        """Lower end of mu's credible interval (``interval_type``, ``level``)."""
        return float(self._summary[1, 4])

    @property
    def ci_upper(self) -> float:
        return float(self._summary[1, 5])

    @property
    def pi_lower(self) -> float:
        """Lower end of the prediction interval of a new study's theta."""
        return float(self._summary[2, 4])

    @property
    def pi_upper(self) -> float:
        return float(self._summary[2, 5])

    # -- distributions ------------------------------------------------------------------------
    def _study_index(self, study: Any) -> int:
        labels = self.study_labels
        if isinstance(study, (int, np.integer)) and not isinstance(study, bool):
            if 0 <= int(study) < self.k:
                return int(study)
            raise InputError(f"field 'study': index {study} is out of range 0..{self.k - 1}")
        if str(study) in labels:
            return labels.index(str(study))
        raise InputError(f"field 'study': no study labelled {study!r}; the studies are "
                         f"{', '.join(labels)}")

    def _param(self, param: str, study: Any) -> str:
        name = choice(param, _PARAM_ALIASES, "param")
        if study is not None and name != "theta":
            raise InputError(f"field 'study': a study's shrinkage distribution is "
                             f"param='theta', not {param!r}")
        return name

    def _mixture(self, name: str, study: Any) -> Mixture:
        if study is not None:
            return shrinkage_mixture(self._nodes, self._study_index(study))
        return mu_mixture(self._nodes) if name == "mu" else predictive_mixture(self._nodes)

    def pdf(self, param: str, x: Any, study: Any = None) -> Any:
        """Posterior density of ``param`` (``"tau"``, ``"mu"``, ``"theta"``: a new study's
        effect, or with ``study=`` that study's own effect) at ``x`` (a number or an array)."""
        name = self._param(param, study)
        xs = np.atleast_1d(np.asarray(x, dtype=float))[None, :]
        out = (self._post.pdf(xs) if name == "tau" else self._mixture(name, study).pdf(xs))[0]
        return _shape_like(out, x)

    def cdf(self, param: str, x: Any, study: Any = None) -> Any:
        """Posterior probability that ``param`` is at most ``x`` (see :meth:`pdf`)."""
        name = self._param(param, study)
        xs = np.atleast_1d(np.asarray(x, dtype=float))[None, :]
        out = (self._post.cdf(xs) if name == "tau" else self._mixture(name, study).cdf(xs))[0]
        return _shape_like(out, x)

    def quantile(self, param: str, p: Any, study: Any = None) -> Any:
        """The ``p``-quantile(s) of ``param`` (see :meth:`pdf`)."""
        name = self._param(param, study)
        ps = np.atleast_1d(np.asarray(p, dtype=float))
        if np.any(~np.isfinite(ps) | (ps < 0) | (ps > 1)):
            raise InputError(f"field 'p': probabilities must be in [0, 1], got {p!r}")
        out = (self._post.quantile(ps[None, :]) if name == "tau"
               else self._mixture(name, study).quantile(ps[None, :]))[0]
        return _shape_like(out, p)

    def interval(self, param: str, level: float | None = None, method: str | None = None,
                 study: Any = None) -> Interval:
        """Credible interval of ``param`` (prediction interval for ``"theta"``): ``method``
        ``"shortest"`` (the highest-density interval of a unimodal posterior) or
        ``"central"``; defaults: the fit's ``level`` and ``interval_type``. ``estimate`` is the
        posterior median."""
        name = self._param(param, study)
        lev = self.level if level is None else check_level(level)
        how = self.interval_type if method is None else choice(method, ("shortest", "central"),
                                                          "method")
        if name == "tau":
            lo, hi = tau_interval(self._post, lev, how)
        else:
            lo, hi = mixture_interval(self._mixture(name, study), lev, how)
        return Interval(float(self.quantile(name, 0.5, study)), lo, hi)

    def probability_beyond(self, mcid: float, direction: str = "benefit", *,
                           lower_is_better: bool = True, param: str = "mu",
                           study: Any = None) -> float:
        """Posterior probability that ``param`` (mu by default; ``"theta"``: a new study) lies
        beyond the minimal clinically important difference.

        ``direction="benefit"``: beyond ``mcid`` (> 0, a magnitude) on the side of benefit,
        P(mu < -mcid) when lower values are better (``lower_is_better``, as for pain), else
        P(mu > mcid); ``"harm"`` the other side; ``"greater"`` / ``"less"``: P(mu > mcid) /
        P(mu < mcid) for a signed ``mcid``.
        """
        d = choice(direction, _DIRECTIONS, "direction")
        m = _number(mcid, "mcid")
        name = self._param(param, study)
        if d in ("benefit", "harm"):
            if m <= 0:
                raise InputError(f"field 'mcid': with direction={d!r} the MCID is a magnitude "
                                 f"> 0, got {mcid!r}")
            upper = (d == "benefit") != lower_is_better
            return self._tail_probability(name, study, m if upper else -m, upper)
        return self._tail_probability(name, study, m, d == "greater")

    def probability_within(self, mcid: float, param: str = "mu", study: Any = None) -> float:
        """Posterior probability that ``|param| < mcid`` (mcid > 0): a difference too small to
        matter."""
        m = _number(mcid, "mcid")
        if m <= 0:
            raise InputError(f"field 'mcid': must be > 0, got {mcid!r}")
        name = self._param(param, study)
        return 1.0 - self._tail_probability(name, study, m, True) - self._tail_probability(
            name, study, -m, False)

    def _tail_probability(self, name: str, study: Any, x: float, upper: bool) -> float:
        xs = np.array([[x]])
        if name == "tau":
            below = float(self._post.cdf(xs)[0, 0])
            return 1.0 - below if upper else below
        mix = self._mixture(name, study)
        return float(mix.sf(xs)[0, 0] if upper else mix.cdf(xs)[0, 0])

    def likelihood(self, tau: Any) -> Any:
        """The marginal likelihood of tau, mu integrated over its prior (bayesmeta
        ``$likelihood(tau)``)."""
        t = np.atleast_1d(np.asarray(tau, dtype=float))
        if np.any(~np.isfinite(t) | (t < 0)):
            raise InputError(f"field 'tau': must be finite and >= 0, got {tau!r}")
        with np.errstate(divide="ignore"):
            lt2 = 2 * np.log(t)
        out = np.exp(conditional(self._post.data, lt2[None, :]).loglik[0])
        return _shape_like(out, tau)

    def pdf_joint(self, tau: Any, mu: Any) -> Any:
        """The joint posterior density of (tau, mu) at pairs of points."""
        t = np.atleast_1d(np.asarray(tau, dtype=float))[None, :]
        m = np.atleast_1d(np.asarray(mu, dtype=float))[None, :]
        t, m = np.broadcast_arrays(t, m)
        log = (self._prior.logpdf(t, self._post.data.studies)
               + log_joint_likelihood(self._post.data, np.maximum(t, 0), m)
               - self._post.log_norm[:, None])
        if self._mu.sd is not None:
            z = (m - float(self._mu.mean)) / self._mu.sd  # type: ignore[arg-type]
            log = log - 0.5 * z * z - math.log(self._mu.sd * math.sqrt(2 * math.pi))
        return _shape_like(np.exp(log)[0], np.broadcast_arrays(np.asarray(tau),
                                                               np.asarray(mu))[0])

    def i2(self, tau: Any) -> Any:
        """Relative heterogeneity I² = tau² / (tau² + s²) as a proportion, s² Higgins &
        Thompson's typical within-study variance (bayesmeta ``$I2(tau)``)."""
        t = np.asarray(tau, dtype=float)
        return _shape_like(np.atleast_1d(t * t / (t * t + self.typical_vi)), tau)

    # -- output -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["summary_table"] = {p: to_builtin(dict(zip(SUMMARY_COLUMNS, row)))
                                for p, row in zip(PARAMETERS, self._summary)}
        out["shrinkage"] = to_builtin(self.shrinkage.reset_index())
        out["weight_labels"] = self.weight_labels
        out["weights_theta"] = to_builtin(self._weights_theta)
        return out

    def summary(self) -> str:
        """Journal-style summary: priors, posterior table, shrinkage, Bayes factors."""
        pct = int(round(self.level * 100))
        how = self.interval_type
        grid = ("exact quadrature" if self.method == "exact" else
                f"DIRECT grid, delta = {self.delta:g}, epsilon = {self.epsilon:g}")
        lines = [f"Bayesian random-effects meta-analysis (k = {self.k}; {grid})",
                 f"tau prior: {self.tau_prior}", f"mu prior:  {self.mu_prior}", ""]
        header = ["", "mode", "median", "mean", "sd", f"{pct}% lower", "upper"]
        names = {"tau": "tau", "mu": "mu", "theta": "theta (new study)"}
        lines.append(format_table(header, [[names[p]] + [fmt(float(v)) for v in row]
                                           for p, row in zip(PARAMETERS, self._summary)]))
        lines += ["", f"({how} {pct}% intervals; I^2 at the posterior median of tau = "
                      f"{fmt(100 * float(self.i2(self._summary[0, 1])), 1)}%)", ""]
        lines.append("shrinkage estimates (each study's own effect):")
        lines.append(format_table(["", "y", "sigma", "median", f"{pct}% lower", "upper"],
                                  [[lab, fmt(float(y)), fmt(math.sqrt(v)), fmt(float(r[1])),
                                    fmt(float(r[4])), fmt(float(r[5]))]
                                   for lab, y, v, r in zip(self.study_labels, self.yi,
                                                           self.vi, self._shrinkage)]))
        bf = self.bayes_factor
        if any(math.isfinite(b) for b in (bf.tau0, bf.mu0, bf.tau0_minimum, bf.mu0_minimum)):
            lines += ["", "Bayes factors:", format_table(
                ["", "tau = 0", "mu = 0"],
                [["actual", fmt(bf.tau0), fmt(bf.mu0)],
                 ["minimum", fmt(bf.tau0_minimum), fmt(bf.mu0_minimum)]])]
        if math.isfinite(self.marginal_likelihood):
            lines.append(f"marginal likelihood = {self.marginal_likelihood:.6g}")
        if self.mcid is not None:
            side = "lower" if self.lower_is_better else "higher"
            lines += ["", f"MCID {fmt(self.mcid)} ({side} effects favour the treatment): "
                          f"P(benefit beyond the MCID) = {fmt(self.prob_benefit)}, "
                          f"P(|mu| < MCID) = {fmt(self.prob_within)}, "
                          f"P(harm beyond the MCID) = {fmt(self.prob_harm)}"]
        return "\n".join(lines)


def _number(value: Any, field: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"field {field!r}: must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise InputError(f"field {field!r}: must be finite, got {value!r}")
    return out


def _shape_like(values: np.ndarray, like: Any) -> Any:
    """A float for a scalar input, else an array of the input's shape."""
    if np.ndim(like) == 0:
        return float(values.reshape(-1)[0])
    return values.reshape(np.shape(like))


# --- intervals and modes of one analysis ---------------------------------------------------

def mixture_interval(mix: Mixture, level: float, method: str) -> tuple[float, float]:
    """Central or shortest ``level`` interval of a mixture (one row)."""
    if method == "central":
        a = (1 - level) / 2
        q = mix.quantile(np.array([[a, 1 - a]]))[0]
        return float(q[0]), float(q[1])
    lo, hi = mix.shortest_interval(level)
    return float(lo[0]), float(hi[0])


def tau_interval(post: TauPosterior, level: float, method: str) -> tuple[float, float]:
    """Central or shortest ``level`` interval of tau (one analysis). The shortest interval
    [l, u] of a unimodal density has F(u) - F(l) = level and f(l) = f(u): with p = F(l) the
    root of h(p) = f(Q(p)) - f(Q(p + level)), increasing in p; if h(0) >= 0 (a density
    falling from tau = 0) the interval is [0, Q(level)]."""
    def q(p: float) -> float:
        return float(post.quantile(np.array([[p]]))[0, 0])

    def f(x: float) -> float:
        return float(post.pdf(np.array([[x]]))[0, 0])

    if method == "central":
        a = (1 - level) / 2
        return q(a), q(1 - a)

    def h(p: float) -> float:
        return f(q(p)) - f(q(p + level))

    if h(0.0) >= 0:
        return 0.0, q(level)
    top = (1 - level) * (1 - 1e-12)
    if h(top) <= 0:                     # not unimodal in the way assumed: central interval
        return tau_interval(post, level, "central")
    p = optimize.brentq(h, 0.0, top, xtol=1e-16, rtol=4 * np.finfo(float).eps, maxiter=200)
    return q(p), q(p + level)


def argmax_tau(value: Any, slope: Any, grid: np.ndarray, include_zero: bool) -> float:
    """The tau >= 0 maximising ``value`` (vectorised: (m,) -> (m,)): roots of ``slope``
    (d value / d tau) changing sign from + to - between points of ``grid`` (> 0), refined by
    Brent's method, and tau = 0 when ``include_zero``; the largest value wins."""
    g = np.asarray(grid, dtype=float)
    d = slope(g)
    cands = [0.0] if include_zero else []
    for i in np.flatnonzero((d[:-1] > 0) & (d[1:] <= 0)):
        cands.append(float(optimize.brentq(lambda t: float(slope(np.array([t]))[0]), g[i],
                                           g[i + 1], xtol=1e-15, rtol=4 * np.finfo(float).eps,
                                           maxiter=200)))
    if not cands:
        cands.append(float(g[int(np.argmax(value(g)))]))
    vals = value(np.asarray(cands))
    return float(cands[int(np.argmax(vals))])

