"""Bayesian random effects against R bayesmeta 3.4 on every public reference case and prior
(tests/data/bayesmeta/README.md), every field of every block.

* ``exact`` (bayesmeta's analytic tau posterior integrated by fine quadrature; the block to
  compare an exact implementation with): ``bayesian_meta_analysis(method="exact")``, every
  number to 1e-6 (relative, with an absolute floor of 1e-6 x the case's unit for locations).
* ``default`` and ``tight`` (bayesmeta's own DIRECT grid, delta = 0.01 / 1e-4):
  ``method="direct"`` with the block's delta and epsilon rebuilds the same grid, so every
  number that bayesmeta computes by integration or root finding (tol 1.5e-11) is compared to
  1e-6 too, the grid itself included. Numbers bayesmeta locates with ``optimize()`` (modes,
  shortest intervals, marginal ML / MAP) are compared within optimize's own guarantee
  (:func:`optimize_bound`), those from ``optim()``'s Nelder-Mead (joint ML / MAP) by the
  objective (:data:`NELDER_MEAD_RTOL`).
* ``default`` against the exact engine: mu-side probabilities within bayesmeta's stated
  accuracy (:func:`direct_accuracy`).

Moments the posterior does not have (``tail``) are NaN here and skipped where bayesmeta
prints a grid artefact. Every key of every block is accounted for (:class:`Block`); a key the
test does not know fails it, and each test asserts the number of values it compared.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.models.bayes import BayesianMetaAnalysisResult, bayesian_meta_analysis, kernel

FIXTURES = Path(__file__).parent.parent / "data" / "bayesmeta"
RTOL = 1e-6
#: R's optimize(): tol = .Machine$double.eps^0.25; Brent's fmin stops once
#: |x - midpoint| <= 2 tol1 - (b - a)/2 with tol1 = sqrt(eps)|x| + tol/3, so the optimum lies
#: within 2 tol1 of the returned x (R src/library/stats/src/optimize.c)
OPTIMIZE_TOL = np.finfo(float).eps ** 0.25
#: optim()'s Nelder-Mead stops when the simplex's values agree to reltol = sqrt(eps) relative;
#: at its result the objective is this close (relative) to the maximum
NELDER_MEAD_RTOL = 1e-7
BLOCK_KEYS = ("default", "exact", "tight")
#: values compared, skipped (by reason) and bounded (by bound), over the tests run in this
#: process; written to $METAVERDICT_BAYES_FIGURES (JSON) at the end of the module, if set
COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Any:
    yield
    path = os.environ.get("METAVERDICT_BAYES_FIGURES")
    if path:
        Path(path).write_text(json.dumps(dict(COUNTS), indent=1, sort_keys=True))


def optimize_bound(x: Any) -> np.ndarray:
    """How far the optimum can be from a point R's optimize() returned (5% margin for the
    end of a shortest interval, which follows its lower end with slope f(l)/f(u) = 1)."""
    return np.asarray(2.1 * (np.sqrt(np.finfo(float).eps) * np.abs(x) + OPTIMIZE_TOL / 3))


def direct_accuracy(delta: float, epsilon: float) -> float:
    """bayesmeta's stated accuracy of its DIRECT mixtures (Röver & Friede 2017): divergence at
    most delta between the approximation and the mixture, tail mass epsilon left out; by
    Pinsker's inequality a probability is off by at most sqrt(delta / 2) + epsilon."""
    return math.sqrt(delta / 2) + epsilon


# --- fixtures --------------------------------------------------------------------------------

@cache
def case_ids() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in FIXTURES.glob("*.json")))


@cache
def load(case_id: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((FIXTURES / f"{case_id}.json").read_text())
    return out


def prior_arguments(entry: dict[str, Any]) -> dict[str, Any]:
    """bayesmeta's tau.prior / mu.prior arguments as bayesian_meta_analysis arguments."""
    arg = entry["tau_prior_arg"]
    m = re.fullmatch(r"function\(t\) d(halfnormal|halfcauchy)\(t, scale = ([0-9.e+-]+)\)", arg)
    if m:
        name = {"halfnormal": "half-normal", "halfcauchy": "half-cauchy"}[m.group(1)]
        out: dict[str, Any] = {"tau_prior": name, "tau_scale": float(m.group(2))}
    else:
        assert arg in ('"uniform"', '"Jeffreys"'), arg
        out = {"tau_prior": arg.strip('"').lower()}
    if entry["mu_prior_sd"] is not None:
        out["mu_prior"] = (entry["mu_prior_mean"], entry["mu_prior_sd"])
    else:
        assert entry["mu_prior_mean"] is None
    return out


@cache
def fit(case_id: str, prior: str, block: str) -> BayesianMetaAnalysisResult:
    case = load(case_id)
    entry = case["priors"][prior]
    kw = prior_arguments(entry)
    if block != "exact":
        st = entry[block]["settings"]
        kw.update(method="direct", delta=st["delta"], epsilon=st["epsilon"])
    inp = case["input"]
    return bayesian_meta_analysis(np.asarray(inp["y"]), np.asarray(inp["sigma"]) ** 2,
                                  labels=inp["labels"], **kw)


def _params(blocks: tuple[str, ...], every: bool = False) -> list[Any]:
    """(case, prior, block) of every block that holds results (``every``: of every prior;
    blocks where bayesmeta failed or that were not run are counted by
    :func:`test_reference_inventory`)."""
    out = []
    for cid in case_ids():
        for prior, entry in load(cid)["priors"].items():
            for block in blocks:
                if every or not ({"error", "skipped"} & set(entry[block])):
                    out.append(pytest.param(cid, prior, block, id=f"{cid}-{prior}-{block}"))
    return out


# --- strict comparison, every key accounted for ----------------------------------------------

def _num(x: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(
        [np.nan if v is None else v for v in np.ravel(np.asarray(x, dtype=object))],
        dtype=float)).reshape(np.shape(np.asarray(x, dtype=object)) or (1,))


class Block:
    """One fixture block (a dict): ``close`` a number or array (R's null/NA must be NaN here,
    a number a finite number within ``atol + RTOL |want|``), ``within`` a bound of its own,
    ``equal`` a label or flag, ``note`` a descriptive key, ``skip`` one with a reason,
    ``block`` a nested block; ``done(n)`` fails on keys not accounted for and unless exactly
    ``n`` values were compared."""

    def __init__(self, ref: dict[str, Any], what: str):
        assert isinstance(ref, dict), f"{what}: not a block"
        self.ref, self.what = ref, what
        self.seen: set[str] = set()
        self.values = 0
        self.children: list[Block] = []

    def _take(self, key: str) -> Any:
        assert key in self.ref, f"{self.what}: the fixture has no field {key!r}"
        assert key not in self.seen, f"{self.what}/{key} taken twice"
        self.seen.add(key)
        return self.ref[key]

    def close(self, key: str, got: Any, atol: float = 0.0, rtol: float = RTOL) -> None:
        want = _num(self._take(key))
        g = np.atleast_1d(np.asarray(got, dtype=float)).reshape(want.shape)
        what = f"{self.what}/{key}"
        na = np.isnan(want)
        assert np.array_equal(na, ~np.isfinite(g)), (
            f"{what}: NA mismatch: metaverdict {g.tolist()}, bayesmeta {want.tolist()}")
        ok = np.abs(g[~na] - want[~na]) <= atol + rtol * np.abs(want[~na])
        assert ok.all(), (f"{what}: metaverdict {g[~na][~ok].tolist()}, bayesmeta "
                          f"{want[~na][~ok].tolist()} (atol {atol:g}, rtol {rtol:g})")
        self._count(want.size, int(na.sum()))

    def within(self, key: str, got: Any, bound: Any, why: str) -> None:
        assert why
        want = _num(self._take(key))
        g = np.atleast_1d(np.asarray(got, dtype=float)).reshape(want.shape)
        b = np.broadcast_to(np.asarray(bound, dtype=float), want.shape)
        ok = np.abs(g - want) <= b
        assert ok.all(), (f"{self.what}/{key}: metaverdict {g[~ok].tolist()}, bayesmeta "
                          f"{want[~ok].tolist()}, allowed {b[~ok].tolist()} ({why})")
        self._count(want.size, 0)
        COUNTS[f"within: {why}"] += want.size

    def equal(self, key: str, got: Any) -> None:
        want = self._take(key)
        assert got == want, f"{self.what}/{key}: metaverdict {got!r}, bayesmeta {want!r}"
        self._count(len(want) if isinstance(want, list) else 1, 0)

    def note(self, key: str, why: str) -> Any:
        assert why
        return self._take(key)

    def skip(self, key: str, why: str, size: int = 1) -> None:
        self._take(key)
        COUNTS[f"skipped: {why}"] += size

    def block(self, key: str) -> Block:
        child = Block(self._take(key), f"{self.what}/{key}")
        self.children.append(child)
        return child

    def _count(self, n: int, na: int) -> None:
        self.values += n
        COUNTS["values"] += n
        COUNTS["values NA in both"] += na

    def total(self) -> int:
        return self.values + sum(c.total() for c in self.children)

    def done(self, expected: int | None = None) -> int:
        missing = sorted(set(self.ref) - self.seen)
        assert not missing, f"{self.what}: fixture fields not compared: {missing}"
        for child in self.children:
            child.done()
        n = self.total()
        if expected is not None:
            assert n == expected, f"{self.what}: compared {n} values, the schema has {expected}"
        return n


# --- the shared blocks: distributions at the fixed points ------------------------------------

SUMMARY = {"mode": "mode", "median": "median", "mean": "mean", "sd": "sd",
           "lower95": "ci_lower", "upper95": "ci_upper"}
PARAMS = ("tau", "mu", "theta")


def _distributions(blk: Block, post: Any, points: dict[str, Any], loc: float, prob: float
                   ) -> None:
    """quantiles, central95, pposterior, dposterior (tau, mu, theta)."""
    q = blk.block("quantiles")
    p = np.asarray(q.ref["p"])
    q.equal("p", [0.025, 0.25, 0.5, 0.75, 0.975])
    for par in PARAMS:
        q.close(par, post.quantile(par, p), atol=loc)
    c = blk.block("central95")
    for par in PARAMS:
        iv = post.interval(par, 0.95, "central")
        c.close(par, [iv.ci_lower, iv.ci_upper], atol=loc)
    pp = blk.block("pposterior")
    pp.close("mu", post.cdf("mu", np.asarray(points["mu"])), atol=prob)
    pp.close("theta", post.cdf("theta", np.asarray(points["mu"])), atol=prob)
    pp.close("tau", post.cdf("tau", np.asarray(points["tau"])), atol=prob)
    dp = blk.block("dposterior")
    grid = np.asarray(points["mu_grid"])
    dp.close("tau", post.pdf("tau", np.asarray(points["tau"])))
    dp.close("mu", post.pdf("mu", grid))
    dp.close("theta", post.pdf("theta", grid))
    if "tau_mu_joint" in dp.ref:
        dp.close("tau_mu_joint", post.pdf_joint(np.asarray(points["tau"]), grid))


def _exists(post: Any, par: str, stat: str) -> bool:
    t = post.tail
    if stat == "mean":
        return bool(t.tau_mean_exists) if par == "tau" else True
    if stat == "sd":
        return bool({"tau": t.tau_sd_exists, "mu": t.mu_sd_exists,
                     "theta": t.theta_sd_exists}[par])
    return True


def _bounded_shrinkage_mode(post: Any) -> np.ndarray:
    """bayesmeta's theta_i mode: the density's maximum between mu's 10% and 90% quantiles
    (for a unimodal density: the mode clipped to that range)."""
    lo, hi = post.quantile("mu", [0.1, 0.9])
    return np.clip(post.shrinkage["mode"].to_numpy(), lo, hi)


# --- exact ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cid, prior, block", _params(("exact",)))
def test_exact_block(cid: str, prior: str, block: str) -> None:
    case = load(cid)
    entry = case["priors"][prior]
    ref = entry["exact"]
    post = fit(cid, prior, "exact")
    loc, prob = 1e-6 * case["unit"], 1e-9
    blk = Block(ref, f"{cid} {prior}/exact")
    blk.note("method", "how the reference was computed")
    blk.note("seconds", "R run time")
    assert abs(blk.note("quadrature_weight_sum", "the reference's own check") - 1) < 1e-12
    assert blk.note("quadrature_check", "the reference's own check")["max_rel_diff"] < 1e-7
    summ = blk.block("summary")
    table = post.summary_table
    for par in PARAMS:
        row = summ.block(par)
        for key, col in SUMMARY.items():
            row.close(key, table.loc[par, col], atol=loc)
    _distributions(blk, post, entry["points"], loc, prob)
    th = blk.block("theta")
    shrink = post.shrinkage
    for key, col in SUMMARY.items():
        th.close(key, shrink[col].to_numpy(), atol=loc)
    th.close("mode_mu_bounds", _bounded_shrinkage_mode(post), atol=loc)
    k = case["k"]
    blk.done(18 + (5 + 15) + 6 + 25 + 15 + 7 * k)
    COUNTS["blocks: exact"] += 1


@pytest.mark.parametrize("cid, prior, block", _params(("exact",), every=True))
def test_prior_entry(cid: str, prior: str, block: str) -> None:
    """The descriptive keys of a prior entry and its ``tail`` (which moments exist)."""
    case = load(cid)
    entry = case["priors"][prior]
    blk = Block(entry, f"{cid} {prior}")
    for key in ("tau_prior", "mu_prior", "tau_prior_arg", "bayesmeta_call",
                "mu_prior_mean", "mu_prior_sd"):
        blk.note(key, "the call; mapped by prior_arguments()")
    if "points" in entry:       # absent where every run failed (improper posterior)
        blk.note("points", "where the distributions are evaluated (inputs)")
    for key in BLOCK_KEYS + ("default_vs_exact", "tight_vs_exact", "default_vs_tight"):
        if key in entry:
            blk.note(key, "compared in the tests of each block / the reference's own summary")
    tail = blk.block("tail")
    if not entry["tail"]["proper"]:
        with pytest.raises(mv.InputError, match="improper"):
            fit(cid, prior, "exact")
        for key in ("exponent", "proper", "tau_mean_exists", "tau_sd_exists", "mu_sd_exists",
                    "theta_sd_exists"):
            tail.note(key, "improper posterior: bayesian_meta_analysis refuses it")
        blk.done(0)
        return
    t = fit(cid, prior, "exact").tail
    tail.equal("exponent", None if t.exponent is None else int(t.exponent))
    for key in ("proper", "tau_mean_exists", "tau_sd_exists", "mu_sd_exists",
                "theta_sd_exists"):
        tail.equal(key, getattr(t, key))
    blk.done(6)


# --- default and tight: bayesmeta's DIRECT grid rebuilt --------------------------------------

def _ml_map(blk: Block, post: Any, kind: str, loc: float) -> None:
    """``$ML`` / ``$MAP``: joint (optim's Nelder-Mead, or optimize() over mu at tau = 0) and
    marginal (optimize())."""
    ref = blk.block(kind)
    joint = ref.block("joint")
    ours = post.ml_joint if kind == "ML" else post.map_joint
    want_tau, want_mu = joint.ref["tau"], joint.ref["mu"]
    if want_tau == 0:
        joint.close("tau", ours.tau)
        joint.within("mu", ours.mu, optimize_bound(want_mu), "optimize() tolerance")
    else:
        data = post._post.data
        if kind == "ML":
            def objective(t: float, m: float) -> float:
                return float(kernel.log_joint_likelihood(data, np.array([[t]]),
                                                         np.array([[m]]))[0, 0])
        else:
            def objective(t: float, m: float) -> float:
                return math.log(post.pdf_joint(t, m))
        best, theirs = objective(ours.tau, ours.mu), objective(want_tau, want_mu)
        assert theirs <= best + 1e-12 * abs(best), f"{ref.what}: bayesmeta's is higher"
        assert best - theirs <= NELDER_MEAD_RTOL * abs(best), (
            f"{ref.what}: objective {theirs} at bayesmeta's, {best} at ours")
        joint.note("tau", "Nelder-Mead result: compared by the objective above")
        joint.note("mu", "Nelder-Mead result: compared by the objective above")
        COUNTS["within: Nelder-Mead objective"] += 2
        joint.values += 2
    marg = ref.block("marginal")
    ours_m = post.ml_marginal if kind == "ML" else post.map_marginal
    for par in ("tau", "mu"):
        want = marg.ref[par]
        got = getattr(ours_m, par)
        if par == "tau" and want == 0:
            marg.close(par, got, atol=loc)
        else:
            marg.within(par, got, optimize_bound(want), "optimize() tolerance")


@pytest.mark.parametrize("cid, prior, block", _params(("default", "tight")))
def test_direct_block(cid: str, prior: str, block: str) -> None:
    case = load(cid)
    entry = case["priors"][prior]
    ref = entry[block]
    post = fit(cid, prior, block)
    loc, prob = 1e-6 * case["unit"], 1e-9
    k = case["k"]
    blk = Block(ref, f"{cid} {prior}/{block}")
    st = blk.block("settings")
    st.equal("delta", post.delta)
    st.equal("epsilon", post.epsilon)
    st.equal("interval.type", post.interval_type)
    for key in ("rel.tol.integrate", "abs.tol.integrate", "tol.uniroot"):
        st.note(key, "R's integrate()/uniroot() tolerances (ours are tighter)")
    blk.note("seconds", "R run time")
    if "warnings" in ref:
        blk.note("warnings", "R warnings")
    blk.equal("tau.prior.proper", post.tau_prior_proper)
    blk.equal("support_n", len(post.support))
    n_support = 0
    if "support" in ref:
        sup, ours = blk.block("support"), post.support
        for key, col in (("tau", "tau"), ("weight", "weight"), ("mean", "mean"), ("sd", "sd"),
                         ("sd.pred", "sd_pred")):
            sup.close(key, ours[col].to_numpy(), atol=loc if key != "weight" else prob)
        n_support = 5 * len(ours)
    bounded = "optimize() tolerance"
    summ = blk.block("summary")
    table = post.summary_table
    skipped = 0
    for par in PARAMS:
        row = summ.block(par)
        for key, col in SUMMARY.items():
            got = table.loc[par, col]
            if not _exists(post, par, key):
                row.skip(key, "moment does not exist (tail): bayesmeta's grid artefact")
                skipped += 1
            elif key in ("mode", "lower95", "upper95"):
                want = row.ref[key]
                if par == "tau" and key != "upper95" and want == 0:
                    row.close(key, got, atol=loc)
                else:
                    row.within(key, got, optimize_bound(want), bounded)
            else:
                row.close(key, got, atol=loc)
    _distributions(blk, post, entry["points"], loc, prob)
    blk.close("I2", post.i2(np.asarray(entry["points"]["tau"])), atol=prob)
    blk.close("likelihood_tau", post.likelihood(np.asarray(entry["points"]["tau"])))
    th = blk.block("theta")
    shrink = post.shrinkage
    for key, col in SUMMARY.items():
        if key == "mode":
            want = np.asarray(th.ref[key])
            th.within(key, _bounded_shrinkage_mode(post), optimize_bound(want), bounded)
        elif key in ("lower95", "upper95"):
            want = np.asarray(th.ref[key])
            th.within(key, shrink[col].to_numpy(), optimize_bound(want), bounded)
        else:
            th.close(key, shrink[col].to_numpy(), atol=loc)
    _ml_map(blk, post, "ML", loc)
    _ml_map(blk, post, "MAP", loc)
    blk.close("marginal.likelihood", post.marginal_likelihood)
    if "marginal.likelihood_NA_reason" in ref:
        blk.equal("marginal.likelihood_NA_reason", post.marginal_likelihood_reason)
    else:
        assert post.marginal_likelihood_reason is None
    bf = blk.block("bayesfactor")
    act, mini = bf.block("actual"), bf.block("minimum")
    act.close("tau0", post.bayes_factor.tau0)
    act.close("mu0", post.bayes_factor.mu0)
    mini.close("tau0", post.bayes_factor.tau0_minimum)
    mini.close("mu0", post.bayes_factor.mu0_minimum)
    w = blk.block("weights")
    w.equal("names", post.weight_labels)
    w.close("value", post.weights, atol=prob)
    blk.close("weights.theta", post.weights_theta.to_numpy(), atol=prob)
    n_weights = len(post.weight_labels)
    expected = (3 + 2 + n_support + (18 - skipped) + (5 + 15) + 6 + 25 + 20 + 5 + 5 + 6 * k
                + 8 + 1 + int("marginal.likelihood_NA_reason" in ref) + 4 + 2 * n_weights
                + n_weights * k)
    blk.done(expected)
    COUNTS[f"blocks: {block}"] += 1


# --- default against the exact engine: bayesmeta's stated accuracy ---------------------------

@pytest.mark.parametrize("cid, prior, block", _params(("default",)))
def test_default_within_stated_accuracy(cid: str, prior: str, block: str) -> None:
    """bayesmeta's default mu-side numbers, judged on the probability scale by the exact
    engine: CDFs at the fixed points and the probability below each quantile and interval end
    differ from the exact values by at most bayesmeta's stated accuracy."""
    case = load(cid)
    entry = case["priors"][prior]
    ref = entry["default"]
    exact = fit(cid, prior, "exact")
    bound = direct_accuracy(ref["settings"]["delta"], ref["settings"]["epsilon"])
    points = np.asarray(entry["points"]["mu"])
    gaps = [np.abs(exact.cdf("mu", points) - _num(ref["pposterior"]["mu"])),
            np.abs(exact.cdf("theta", points) - _num(ref["pposterior"]["theta"]))]
    p = np.asarray(ref["quantiles"]["p"])
    for par in ("mu", "theta"):
        gaps.append(np.abs(exact.cdf(par, _num(ref["quantiles"][par])) - p))
        lo, hi = _num(ref["summary"][par]["lower95"])[0], _num(ref["summary"][par]["upper95"])[0]
        gaps.append(np.atleast_1d(abs(exact.cdf(par, hi) - exact.cdf(par, lo) - 0.95)))
    for i in range(case["k"]):
        gaps.append(np.atleast_1d(abs(exact.cdf("theta", ref["theta"]["median"][i], study=i)
                                      - 0.5)))
    gap = np.concatenate(gaps)
    assert gap.size == 10 + 10 + 10 + 2 + case["k"]
    assert np.all(gap <= bound), f"largest gap {gap.max():.3g} > {bound:.3g}"
    COUNTS["values within DIRECT's stated accuracy"] += gap.size


def test_reference_inventory() -> None:
    """The public cases, priors and blocks the tests above run over (a renamed or removed
    fixture cannot silently shrink them)."""
    ids = case_ids()
    assert len(ids) == 10, ids
    blocks = Counter()
    for cid in ids:
        case = load(cid)
        assert case["versions"]["bayesmeta"] == "3.4"
        assert len(case["priors"]) == 10
        for entry in case["priors"].values():
            for b in BLOCK_KEYS:
                kind = ("error" if "error" in entry[b] else "skipped" if "skipped" in entry[b]
                        else "run")
                blocks[f"{b} {kind}"] += 1
    assert blocks == Counter({"exact run": 99, "exact skipped": 1, "default run": 99,
                              "default error": 1, "tight run": 18, "tight skipped": 80,
                              "tight error": 2}), blocks
