"""``bayesian_batch``: the exact posterior of many meta-analyses at once, one prior for all.

The same kernels as :func:`metaverdict.bayesian_meta_analysis` (:mod:`.kernel`) over a
leading batch axis: ``y`` and ``vi`` of shape ``(N, k)``, padded where an analysis has fewer
studies (NaN, or ``mask`` False); no Python loop runs over analyses (the rows go through in
chunks to bound memory). Per analysis: quantiles of tau, mu and a new study's theta, their
means and sds, and the posterior probabilities of mu beyond and within the MCID.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metaverdict._results import ResultMixin, read_only
from metaverdict.errors import InputError
from metaverdict.models.bayes.kernel import (
    BatchData,
    batch_data,
    mu_mixture,
    predictive_mixture,
    tail_behaviour,
    tau_posterior,
)
from metaverdict.models.bayes.priors import MuPrior, TauPrior, mu_prior_from, tau_prior_from

#: analyses per chunk: arrays of chunk x 192 nodes x k doubles stay in the tens of megabytes
CHUNK = 2048


@dataclass(frozen=True, eq=False, repr=False)
class BayesianBatchResult(ResultMixin):
    """Posterior summaries of ``N`` meta-analyses (arrays with one entry, or row, per
    analysis, in input order).

    ``*_quantiles`` have one column per probability in ``probs``. ``prob_above`` =
    P(mu > mcid), ``prob_below`` = P(mu < -mcid), ``prob_within`` = P(|mu| < mcid) (None
    without ``mcid``). An analysis whose posterior is improper for the prior (e.g. k = 2 with
    uniform priors on tau and mu) has ``proper`` False and NaN results; a moment the posterior
    lacks is NaN.
    """

    tau_prior: str
    mu_prior: str
    probs: tuple[float, ...]
    k: np.ndarray
    proper: np.ndarray
    tau_mean: np.ndarray
    tau_sd: np.ndarray
    mu_mean: np.ndarray
    mu_sd: np.ndarray
    theta_sd: np.ndarray
    tau_quantiles: np.ndarray
    mu_quantiles: np.ndarray
    theta_quantiles: np.ndarray
    mcid: np.ndarray | None = None
    prob_above: np.ndarray | None = None
    prob_below: np.ndarray | None = None
    prob_within: np.ndarray | None = None
    _repr_fields = ("tau_prior", "mu_prior", "probs")

    @property
    def n(self) -> int:
        return int(len(self.k))

    def to_frame(self) -> pd.DataFrame:
        """One row per analysis: ``k``, ``proper``, means and sds, ``tau_q0.025`` ... per
        probability, and the MCID probabilities."""
        cols: dict[str, Any] = {"k": self.k, "proper": self.proper, "tau_mean": self.tau_mean,
                                "tau_sd": self.tau_sd, "mu_mean": self.mu_mean,
                                "mu_sd": self.mu_sd, "theta_sd": self.theta_sd}
        for name, q in (("tau", self.tau_quantiles), ("mu", self.mu_quantiles),
                        ("theta", self.theta_quantiles)):
            for j, p in enumerate(self.probs):
                cols[f"{name}_q{p:g}"] = q[:, j]
        if self.mcid is not None:
            cols.update(mcid=self.mcid, prob_above=self.prob_above, prob_below=self.prob_below,
                        prob_within=self.prob_within)
        return pd.DataFrame(cols)

    def summary(self) -> str:
        frame = self.to_frame()
        return (f"{self.n} Bayesian meta-analyses (tau prior {self.tau_prior}; mu prior "
                f"{self.mu_prior}); {int(self.proper.sum())} with a proper posterior\n"
                + frame.describe().T[["mean", "min", "50%", "max"]].to_string())


def bayesian_batch(y: Any, vi: Any, *, mask: Any = None, tau_prior: str | TauPrior = "uniform",
                   tau_scale: float | None = None, tau_df: float | None = None,
                   tau_shape: float | None = None, mu_prior: Any = None,
                   probs: Any = (0.025, 0.5, 0.975), mcid: Any = None,
                   chunk_size: int = CHUNK, workers: int = 1) -> BayesianBatchResult:
    """Exact Bayesian random-effects meta-analysis of every row of ``y`` / ``vi``.

    Parameters
    ----------
    y, vi : array-like, shape (N, k)
        Effect sizes and sampling variances, one analysis per row; rows with fewer studies
        are padded with NaN (or marked by ``mask``).
    mask : array-like of bool, shape (N, k), optional
        True where a study is present (default: where ``y`` and ``vi`` are finite).
    tau_prior, tau_scale, tau_df, tau_shape, mu_prior
        As for :func:`metaverdict.bayesian_meta_analysis`; one prior for every analysis.
    probs : sequence of float
        Probabilities of the quantiles to return.
    mcid : float or array-like, shape (N,), optional
        Minimal clinically important difference (a magnitude > 0, one for all or one per
        analysis) for ``prob_above`` = P(mu > mcid), ``prob_below`` = P(mu < -mcid) and
        ``prob_within`` = P(|mu| < mcid).
    chunk_size : int
        Analyses computed together.
    workers : int
        Threads computing chunks at once (the compiled loops release the GIL); the results do
        not depend on it.

    Returns
    -------
    BayesianBatchResult

    Examples
    --------
    >>> import numpy as np
    >>> from metaverdict.models.bayes import bayesian_batch
    >>> y = np.array([[0.3, 0.1, 0.5, 0.2], [0.1, -0.2, 0.4, np.nan]])
    >>> v = np.array([[0.04, 0.02, 0.06, 0.03], [0.05, 0.04, 0.09, np.nan]])
    >>> res = bayesian_batch(y, v, tau_prior="half-normal", tau_scale=0.5, mcid=0.1)
    >>> res.k.tolist()
    [4, 3]
    >>> np.round(res.mu_quantiles, 3)
    array([[-0.04 ,  0.236,  0.551],
           [-0.43 ,  0.052,  0.593]])
    >>> np.round(res.prob_above, 3)
    array([0.865, 0.405])
    """
    prior = tau_prior_from(tau_prior, tau_scale=tau_scale, tau_df=tau_df, tau_shape=tau_shape)
    mu = mu_prior_from(mu_prior)
    yy, vv, m = _arrays(y, vi, mask)
    n = yy.shape[0]
    p = _probabilities(probs)
    mc = None if mcid is None else _mcid(mcid, n)
    for field, value in (("chunk_size", chunk_size), ("workers", workers)):
        if isinstance(value, bool) or not (isinstance(value, (int, np.integer)) and value > 0):
            raise InputError(f"field {field!r}: must be a positive whole number, got "
                             f"{value!r}")
    k = m.sum(axis=1)
    tails = {int(kk): tail_behaviour(prior, mu, int(kk)) for kk in np.unique(k)}
    proper = np.array([tails[int(kk)].proper for kk in k], dtype=bool)
    exists = {name: np.array([getattr(tails[int(kk)], name) for kk in k], dtype=bool)
              for name in ("tau_mean_exists", "tau_sd_exists", "mu_sd_exists",
                           "theta_sd_exists")}
    out = {name: np.full(n, np.nan) for name in ("tau_mean", "tau_sd", "mu_mean", "mu_sd",
                                                 "theta_sd", "above", "below")}
    quant = {name: np.full((n, len(p)), np.nan) for name in ("tau", "mu", "theta")}
    rows = np.flatnonzero(proper)
    chunks = [rows[i:i + int(chunk_size)] for i in range(0, len(rows), int(chunk_size))]

    def run(idx: np.ndarray) -> None:
        sub = _compact(yy[idx], vv[idx], m[idx], int(k[idx].max()), mu)
        _summarise(sub, prior, idx, p, None if mc is None else mc[idx], out, quant)

    if workers == 1 or len(chunks) < 2:
        for idx in chunks:
            run(idx)
    else:       # chunks write disjoint rows of the outputs
        with ThreadPoolExecutor(max_workers=int(workers)) as pool:
            list(pool.map(run, chunks))
    for name, flag in (("tau_mean", "tau_mean_exists"), ("tau_sd", "tau_sd_exists"),
                       ("mu_sd", "mu_sd_exists"), ("theta_sd", "theta_sd_exists")):
        out[name] = np.where(exists[flag], out[name], np.nan)
    above = below = within = None
    if mc is not None:
        above, below = out["above"], out["below"]
        within = np.where(proper, 1 - above - below, np.nan)
    return BayesianBatchResult(
        tau_prior=prior.describe(), mu_prior=mu.describe(), probs=tuple(float(x) for x in p),
        k=read_only(k), proper=read_only(proper), tau_mean=read_only(out["tau_mean"]),
        tau_sd=read_only(out["tau_sd"]), mu_mean=read_only(out["mu_mean"]),
        mu_sd=read_only(out["mu_sd"]), theta_sd=read_only(out["theta_sd"]),
        tau_quantiles=read_only(quant["tau"]), mu_quantiles=read_only(quant["mu"]),
        theta_quantiles=read_only(quant["theta"]), mcid=read_only(mc),
        prob_above=read_only(above), prob_below=read_only(below),
        prob_within=read_only(within))


def _summarise(data: BatchData, prior: TauPrior, idx: np.ndarray, p: np.ndarray,
               mcid: np.ndarray | None, out: dict[str, np.ndarray],
               quant: dict[str, np.ndarray]) -> None:
    post = tau_posterior(data, prior)
    mix, pred = mu_mixture(post.nodes), predictive_mixture(post.nodes)
    grid = np.tile(p, (len(idx), 1))
    quant["tau"][idx] = post.quantile(grid)
    quant["mu"][idx] = mix.quantile(grid)
    quant["theta"][idx] = pred.quantile(grid)
    tau_mean = post.expect(post.tau)
    out["tau_mean"][idx] = tau_mean
    out["tau_sd"][idx] = np.sqrt(np.maximum(post.expect((post.tau - tau_mean[:, None]) ** 2),
                                            0.0))
    out["mu_mean"][idx] = mix.mean_value()
    out["mu_sd"][idx] = np.sqrt(mix.variance())
    out["theta_sd"][idx] = np.sqrt(pred.variance())
    if mcid is not None:
        out["above"][idx] = mix.sf(mcid[:, None])[:, 0]
        out["below"][idx] = mix.cdf(-mcid[:, None])[:, 0]


def _compact(y: np.ndarray, v: np.ndarray, mask: np.ndarray, width: int, mu: MuPrior
             ) -> BatchData:
    """Move each row's studies to the front and drop columns no row uses (the padding costs
    nothing but its share of the arithmetic)."""
    order = np.argsort(~mask, axis=1, kind="stable")[:, :width]
    take = np.take_along_axis
    return batch_data(take(y, order, axis=1), take(v, order, axis=1), mu,
                      take(mask, order, axis=1))


def _arrays(y: Any, vi: Any, mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        yy = np.asarray(y, dtype=float)
        vv = np.asarray(vi, dtype=float)
    except (TypeError, ValueError):
        raise InputError("fields 'y', 'vi': must be numeric arrays of shape (N, k)") from None
    if yy.ndim == 1:
        yy, vv = yy[None, :], vv[None, :] if vv.ndim == 1 else vv
    if yy.ndim != 2 or yy.shape != vv.shape:
        raise InputError(f"fields 'y', 'vi': need two arrays of the same shape (N, k), got "
                         f"{yy.shape} and {vv.shape}")
    if mask is None:
        m = np.isfinite(yy) & np.isfinite(vv)
    else:
        m = np.asarray(mask, dtype=bool)
        if m.shape != yy.shape:
            raise InputError(f"field 'mask': shape {m.shape}, expected {yy.shape}")
    for name, arr, bad in (("y", yy, ~np.isfinite(yy)),
                           ("vi", vv, ~np.isfinite(vv) | ~(vv > 0))):
        hit = np.argwhere(m & bad)
        if hit.size:
            i, j = (int(x) for x in hit[0])
            rule = "must be a finite number" if name == "y" else "must be > 0 and finite"
            raise InputError(f"analysis {i + 1}, study {j + 1}, field {name!r}: {rule}, got "
                             f"{arr[i, j]!r}")
    empty = np.flatnonzero(m.sum(axis=1) == 0)
    if empty.size:
        raise InputError(f"analysis {int(empty[0]) + 1}: no studies (every y / vi missing)")
    return yy, vv, m


def _probabilities(probs: Any) -> np.ndarray:
    try:
        p = np.atleast_1d(np.asarray(probs, dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"field 'probs': must be probabilities, got {probs!r}") from None
    if p.ndim != 1 or p.size == 0 or np.any(~np.isfinite(p) | (p <= 0) | (p >= 1)):
        raise InputError(f"field 'probs': need probabilities strictly between 0 and 1, got "
                         f"{probs!r}")
    return p


def _mcid(mcid: Any, n: int) -> np.ndarray:
    try:
        mc = np.broadcast_to(np.asarray(mcid, dtype=float), (n,)).copy()
    except (TypeError, ValueError):
        raise InputError(f"field 'mcid': need one number or one per analysis ({n}), got "
                         f"{mcid!r}") from None
    bad = np.flatnonzero(~np.isfinite(mc) | (mc <= 0))
    if bad.size:
        raise InputError(f"analysis {int(bad[0]) + 1}, field 'mcid': must be a positive "
                         f"magnitude, got {mc[bad[0]]!r}")
    return mc

