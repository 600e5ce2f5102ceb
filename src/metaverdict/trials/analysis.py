"""The analyses a two-arm trial report needs, per outcome and visit.

* **MMRM** (primary): ``value ~ baseline + arm * visit`` with an unstructured covariance and
  Kenward-Roger df (:func:`metaverdict.trials.mmrm`); the arm difference per visit
  (treatment - control, LS means) with SE, df, CI and p.
* **Per-visit ANCOVA** (Vickers & Altman 2001): ordinary least squares of the value at one visit
  on baseline and arm among the participants seen at that visit; a simpler cross-check.
* **SMD per visit**: Hedges' g of the observed values (treatment - control) with its large-sample
  variance (:func:`metaverdict.effect_sizes`, measure ``SMD``).
* **Responders**: improvement from baseline of at least the MCID (lower-is-better scales:
  baseline - value >= MCID); risk difference with Newcombe's hybrid score interval (method 10,
  from Wilson intervals per arm) and NNT/NNH = 1/|RD| with the interval inverted as Altman (1998)
  describes (an interval through RD = 0 gives "NNTB a to infinity to NNTH b"). A secondary
  translation of the continuous result: dichotomising loses information.
* **Heterogeneity of treatment effect**: the log variability ratio of the change from baseline,
  lnVR = ln(SD_t / SD_c) + 1/(2(n_t - 1)) - 1/(2(n_c - 1)) (Nakagawa et al. 2015; measure
  ``VR``). If the treatment worked for some participants only, the treated arm's changes would
  vary more (lnVR > 0); lnVR near 0 is no evidence of a responder subgroup.
* **Moderator** (e.g. belief in the treatment): the hypothesis "the treatment effect grows with
  the moderator" as the arm x moderator coefficient of the MMRM
  ``value ~ baseline + moderator + arm * visit + arm:moderator`` (the change in the arm
  difference per unit of the moderator, averaged over visits), with its CI and p.

References
----------
Vickers AJ, Altman DG (2001). Analysing controlled trials with baseline and follow up
measurements. BMJ 323:1123-1124.
Newcombe RG (1998). Interval estimation for the difference between independent proportions:
comparison of eleven methods. Stat Med 17:873-890.
Altman DG (1998). Confidence intervals for the number needed to treat. BMJ 317:1309-1312.
Nakagawa S, et al. (2015). Meta-analysis of variation. Methods Ecol Evol 6:143-152.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table
from metaverdict.errors import InputError
from metaverdict.trials.data import TrialData
from metaverdict.trials.mmrm import MMRMResult, mmrm


@dataclass(frozen=True)
class Moderation(ResultMixin):
    """A treatment x moderator interaction stated as a testable hypothesis."""

    moderator: str
    hypothesis: str
    estimate: float
    se: float
    df: float
    ci_lower: float
    ci_upper: float
    pvalue: float
    benefit_sign: int

    @property
    def conclusion(self) -> str:
        """``supported`` (CI on the hypothesised side of 0), ``contradicted`` (CI on the other
        side) or ``not supported`` (CI includes 0)."""
        lo, hi = self.ci_lower * self.benefit_sign, self.ci_upper * self.benefit_sign
        if min(lo, hi) > 0:
            return "supported"
        if max(lo, hi) < 0:
            return "contradicted"
        return "not supported (the CI includes no moderation)"

    def summary(self) -> str:
        return (f"{self.hypothesis}\n  arm x {self.moderator}: {fmt(self.estimate)} per point "
                f"(95% CI {fmt(self.ci_lower)} to {fmt(self.ci_upper)}, df {fmt(self.df, 1)}, "
                f"p {fmt_p(self.pvalue)}): {self.conclusion}; one test per outcome, not "
                "adjusted for multiplicity")


@dataclass(frozen=True, eq=False)
class OutcomeAnalysis(ResultMixin):
    """All analyses of one outcome (see the module docstring).

    Attributes
    ----------
    outcome : str
    visits : DataFrame
        Per visit: ``n_control``, ``n_treatment``, observed ``mean_*``/``sd_*``, the MMRM
        ``difference`` (treatment - control) with ``se``, ``df``, ``ci_lower``, ``ci_upper``,
        ``pvalue``; ``smd`` with ``smd_ci_lower``/``smd_ci_upper``; responders
        (``responders_control``, ``responders_treatment``, ``rd``, ``rd_ci_lower``,
        ``rd_ci_upper``, ``nnt``) when an MCID is given.
    ancova : DataFrame
        Per-visit ANCOVA: ``estimate``, ``se``, ``df``, ``ci_lower``, ``ci_upper``, ``pvalue``,
        ``n``.
    lnvr : DataFrame
        Per visit: ``lnvr``, ``se``, ``ci_lower``, ``ci_upper``, ``n_control``, ``n_treatment``.
    fit : MMRMResult
    moderation : Moderation or None
    mcid : float or None
        Minimal clinically important difference on the outcome's scale (responders, plots).
    """

    outcome: str
    visits: pd.DataFrame = field(repr=False)
    ancova: pd.DataFrame = field(repr=False)
    lnvr: pd.DataFrame = field(repr=False)
    fit: MMRMResult = field(repr=False)
    moderation: Moderation | None
    mcid: float | None
    control: str
    treatment: str
    simulated: bool

    def summary(self) -> str:
        label = " [SIMULATED DATA]" if self.simulated else ""
        v = self.visits
        head = ["visit", "n T/C", "mean T", "mean C", "diff (T-C)", "95% CI", "p",
                "SMD (obs.)"]
        if "rd" in v:
            head += ["responders T vs C", "RD", "NNT"]
        rows = []
        for r in v.itertuples():
            row = [str(r.visit), f"{r.n_treatment}/{r.n_control}", fmt(r.mean_treatment, 2),
                   fmt(r.mean_control, 2), fmt(r.difference, 2),
                   f"{fmt(r.ci_lower, 2)} to {fmt(r.ci_upper, 2)}", fmt_p(r.pvalue),
                   fmt(r.smd, 2)]
            if "rd" in v:
                row += [f"{r.responders_treatment} vs {r.responders_control}", fmt(r.rd, 2),
                        str(r.nnt)]
            rows.append(row)
        lines = [f"{self.outcome}{label}: T = {self.treatment}, C = {self.control}; diff = "
                 f"MMRM LS-mean difference adjusted for baseline ({self.fit.model.structure.value}"
                 f" covariance, {self.fit.df_method.value} df); SMD = Hedges' g of the observed "
                 "values", format_table(head, rows)]
        if self.mcid is not None:
            lines.append(f"responders: improvement from baseline >= MCID {fmt(self.mcid, 2)}")
        lines.append("per-visit ANCOVA on baseline (cross-check): " + "; ".join(
            f"{r.visit}: {fmt(r.estimate, 2)} ({fmt(r.ci_lower, 2)} to {fmt(r.ci_upper, 2)}, "
            f"p {fmt_p(r.pvalue)})" for r in self.ancova.itertuples()))
        lines.append("lnVR, SD of change T vs C (> 0: more varied response to T): " + "; ".join(
            f"{r.visit}: {fmt(r.lnvr, 2)} ({fmt(r.ci_lower, 2)} to {fmt(r.ci_upper, 2)})"
            for r in self.lnvr.itertuples()))
        if self.moderation is not None:
            lines.append(self.moderation.summary())
        return "\n".join(lines)


def analyze_outcome(data: TrialData, outcome: str, covariance: str = "us",
                    df: str = "kenward-roger", mcid: float | None = None,
                    moderator: str | None = None, level: float = 0.95) -> OutcomeAnalysis:
    """Run every analysis of one outcome.

    Parameters
    ----------
    data : TrialData
    outcome : str
    covariance, df : str
        MMRM covariance structure and df method (:func:`metaverdict.trials.mmrm`).
    mcid : float, optional
        Minimal clinically important difference (outcome units, > 0), for responders.
    moderator : str, optional
        A covariate of ``data`` (e.g. ``"belief"``) whose interaction with arm is estimated.
    level : float
        Confidence level.

    Returns
    -------
    OutcomeAnalysis
    """
    if mcid is not None and not (np.isfinite(mcid) and mcid > 0):
        raise InputError(f"mcid: must be a positive number, got {mcid!r}")
    if moderator is not None and moderator not in data.covariates:
        raise InputError(f"moderator: {moderator!r} is not a covariate of the data "
                         f"({', '.join(data.covariates) or 'none given'})")
    frame = data.outcome_frame(outcome)
    levels = {"arm": list(data.arms), "visit": list(data.visits)}
    fit = mmrm(frame, "value ~ baseline + arm * visit", subject="participant", visit="visit",
               covariance=covariance, df=df, arm="arm", levels=levels)
    diffs = fit.arm_differences(level=level)
    observed = frame.dropna(subset=["value"])
    rows = []
    for visit in data.visits:
        at = observed[observed["visit"] == visit]
        t, c = at[at["arm"] == data.treatment], at[at["arm"] == data.control]
        d = diffs[diffs["visit"].astype(str) == str(visit)]
        row: dict[str, Any] = {
            "visit": visit, "n_control": len(c), "n_treatment": len(t),
            "mean_control": c["value"].mean(), "sd_control": c["value"].std(ddof=1),
            "mean_treatment": t["value"].mean(), "sd_treatment": t["value"].std(ddof=1)}
        if len(d):
            row.update({k: float(d[k].iloc[0]) for k in
                        ("estimate", "se", "df", "ci_lower", "ci_upper", "pvalue")})
            row["difference"] = row.pop("estimate")
        rows.append(row)
    table = pd.DataFrame(rows)
    table = table[table["n_control"].gt(1) & table["n_treatment"].gt(1)].reset_index(drop=True)
    _add_smd(table, level)
    if mcid is not None:
        _add_responders(table, observed, data, mcid, level)
    moderation = _moderation(frame, data, moderator, covariance, df, level) if moderator else None
    return OutcomeAnalysis(outcome, table, _ancova(observed, data, level),
                           _lnvr(observed, data, level), fit, moderation, mcid, data.control,
                           data.treatment, data.simulated)


def _add_smd(table: pd.DataFrame, level: float) -> None:
    from metaverdict.effects import effect_sizes

    es = effect_sizes("SMD", m1i=table["mean_treatment"], sd1i=table["sd_treatment"],
                      n1i=table["n_treatment"], m2i=table["mean_control"],
                      sd2i=table["sd_control"], n2i=table["n_control"])
    z = special.ndtri(0.5 + level / 2.0)
    table["smd"] = es.yi
    table["smd_vi"] = es.vi
    table["smd_ci_lower"] = es.yi - z * np.sqrt(es.vi)
    table["smd_ci_upper"] = es.yi + z * np.sqrt(es.vi)


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k events out of n (SciPy's ``binomtest``)."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, level: float = 0.95
                      ) -> tuple[float, float, float]:
    """Risk difference p1 - p2 and Newcombe's (1998, method 10) hybrid score interval."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, level)
    l2, u2 = wilson_interval(k2, n2, level)
    rd = p1 - p2
    return (rd, rd - float(np.hypot(p1 - l1, u2 - p2)), rd + float(np.hypot(u1 - p1, p2 - l2)))


def nnt_label(rd: float, lower: float, upper: float, higher_is_benefit: bool = True) -> str:
    """NNT/NNH with its interval (Altman 1998), from a risk difference of *benefit* events."""
    if not higher_is_benefit:
        rd, lower, upper = -rd, -upper, -lower

    def one(x: float) -> str:
        return "inf" if x == 0 else f"{1.0 / abs(x):.1f}"

    kind = "NNTB" if rd > 0 else "NNTH"
    if rd == 0:
        return f"NNT inf (NNTH {one(lower)} to inf to NNTB {one(upper)})"
    if lower > 0 or upper < 0:
        lo, hi = sorted((1.0 / abs(lower), 1.0 / abs(upper)))
        return f"{kind} {one(rd)} ({lo:.1f} to {hi:.1f})"
    return f"{kind} {one(rd)} (NNTH {one(lower)} to inf to NNTB {one(upper)})"


def _add_responders(table: pd.DataFrame, observed: pd.DataFrame, data: TrialData,
                    mcid: float, level: float) -> None:
    sign = 1.0 if data.lower_is_better else -1.0
    improved = sign * (observed["baseline"] - observed["value"]) >= mcid
    out: dict[str, list[Any]] = {k: [] for k in ("responders_treatment", "responders_control",
                                                 "rd", "rd_ci_lower", "rd_ci_upper", "nnt")}
    for visit in table["visit"]:
        at = observed["visit"] == visit
        kt = int((improved & at & (observed["arm"] == data.treatment)).sum())
        kc = int((improved & at & (observed["arm"] == data.control)).sum())
        nt = int((at & (observed["arm"] == data.treatment)).sum())
        nc = int((at & (observed["arm"] == data.control)).sum())
        rd, lo, hi = newcombe_interval(kt, nt, kc, nc, level)
        out["responders_treatment"].append(f"{kt}/{nt}")
        out["responders_control"].append(f"{kc}/{nc}")
        out["rd"].append(rd)
        out["rd_ci_lower"].append(lo)
        out["rd_ci_upper"].append(hi)
        out["nnt"].append(nnt_label(rd, lo, hi))
    for k, v in out.items():
        table[k] = v


def ancova_at_visit(y: Any, baseline: Any, treated: Any, level: float = 0.95
                    ) -> dict[str, float]:
    """OLS of y on (1, baseline, treated): the treated coefficient with its t inference."""
    y = np.asarray(y, float)
    x = np.column_stack([np.ones_like(y), np.asarray(baseline, float),
                         np.asarray(treated, float)])
    n, p = x.shape
    if n <= p:
        return {"estimate": np.nan, "se": np.nan, "df": float(n - p), "ci_lower": np.nan,
                "ci_upper": np.nan, "pvalue": np.nan, "n": n}
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    dfree = n - p
    s2 = float(resid @ resid) / dfree
    cov = s2 * np.linalg.inv(x.T @ x)
    est, se = float(beta[2]), float(np.sqrt(cov[2, 2]))
    crit = float(special.stdtrit(dfree, 0.5 + level / 2.0))
    return {"estimate": est, "se": se, "df": float(dfree), "ci_lower": est - crit * se,
            "ci_upper": est + crit * se, "pvalue": float(2.0 * special.stdtr(dfree,
                                                                              -abs(est / se))),
            "n": n}


def _ancova(observed: pd.DataFrame, data: TrialData, level: float) -> pd.DataFrame:
    rows = []
    for visit in data.visits:
        at = observed[observed["visit"] == visit]
        res = ancova_at_visit(at["value"], at["baseline"], at["arm"] == data.treatment, level)
        rows.append({"visit": visit, **res})
    return pd.DataFrame(rows)


def _lnvr(observed: pd.DataFrame, data: TrialData, level: float) -> pd.DataFrame:
    from metaverdict.effects import effect_sizes

    change = observed.assign(change=observed["value"] - observed["baseline"])
    g = change.groupby(["visit", "arm"], observed=True)["change"].agg(["mean", "std", "count"])
    rows = []
    z = special.ndtri(0.5 + level / 2.0)
    for visit in data.visits:
        try:
            t, c = g.loc[(visit, data.treatment)], g.loc[(visit, data.control)]
        except KeyError:
            continue
        if min(t["count"], c["count"]) < 2 or min(t["std"], c["std"]) <= 0:
            continue
        es = effect_sizes("VR", m1i=[t["mean"]], sd1i=[t["std"]], n1i=[t["count"]],
                          m2i=[c["mean"]], sd2i=[c["std"]], n2i=[c["count"]])
        y, se = float(es.yi[0]), float(np.sqrt(es.vi[0]))
        rows.append({"visit": visit, "lnvr": y, "se": se, "ci_lower": y - z * se,
                     "ci_upper": y + z * se, "n_control": int(c["count"]),
                     "n_treatment": int(t["count"])})
    return pd.DataFrame(rows, columns=["visit", "lnvr", "se", "ci_lower", "ci_upper",
                                       "n_control", "n_treatment"])


def _moderation(frame: pd.DataFrame, data: TrialData, moderator: str, covariance: str,
                df: str, level: float) -> Moderation:
    levels = {"arm": list(data.arms), "visit": list(data.visits)}
    fit = mmrm(frame, f"value ~ baseline + {moderator} + arm * visit + arm:{moderator}",
               subject="participant", visit="visit", covariance=covariance, df=df, arm="arm",
               levels=levels)
    name = f"arm{data.treatment}:{moderator}"
    tab = fit.coefficient_table(level=level)
    r = tab.loc[name]
    way = "falls" if data.lower_is_better else "rises"
    hyp = (f"Hypothesis: participants with more {moderator} benefit more from "
           f"{data.treatment}, i.e. the {data.treatment} - {data.control} difference "
           f"{way} (favours {data.treatment}) as {moderator} rises; H0: the arm x {moderator} "
           "coefficient is 0.")
    return Moderation(moderator, hyp, float(r.estimate), float(r.se), float(r.df),
                      float(r.ci_lower), float(r.ci_upper), float(r.pvalue),
                      -1 if data.lower_is_better else 1)


@dataclass(frozen=True, eq=False)
class StudyResults(ResultMixin):
    """A trial's results as study-level rows for meta-analysis and the evidence store.

    Attributes
    ----------
    frame : DataFrame
        One row per outcome and visit: ``source_id``, ``outcome``, ``visit``, ``measure``
        (``"MD"``: MMRM difference treatment - control in the outcome's units), ``yi``, ``vi``,
        ``ci_lower``, ``ci_upper``, ``pvalue``, ``n_treatment``, ``n_control``, ``treatment``,
        ``control``, ``simulated``.
    V : ndarray, shape (k, k)
        Sampling covariance of ``yi``: within an outcome, the between-visit covariance of the
        MMRM differences (L Phi_A L'); between outcomes 0 (separate fits: their covariance is
        not estimated).
    """

    frame: pd.DataFrame = field(repr=False)
    V: np.ndarray = field(repr=False)
    simulated: bool

    def pooled(self, outcome: str) -> dict[str, float]:
        """Common effect over one outcome's visits by GLS with ``V`` (not independence):
        estimate = (1' V^-1 y) / (1' V^-1 1), variance = 1 / (1' V^-1 1)."""
        at = (self.frame["outcome"] == outcome).to_numpy()
        if not at.any():
            raise InputError(f"outcome: {outcome!r} has no rows")
        y, v = self.frame["yi"].to_numpy(float)[at], self.V[np.ix_(at, at)]
        w = np.linalg.solve(v, np.ones(y.size))
        var = 1.0 / float(w.sum())
        return {"estimate": float(w @ y) * var, "se": float(np.sqrt(var)), "k": int(y.size)}


@dataclass(frozen=True, eq=False)
class TrialAnalysis(ResultMixin):
    """Every outcome of one trial analysed (:func:`analyze_trial`)."""

    data: TrialData = field(repr=False)
    outcomes: tuple[OutcomeAnalysis, ...]

    def __getitem__(self, outcome: str) -> OutcomeAnalysis:
        for o in self.outcomes:
            if o.outcome == outcome:
                return o
        raise InputError(f"outcome: {outcome!r} was not analysed; choose one of "
                         f"{[o.outcome for o in self.outcomes]}")

    def to_dict(self) -> dict[str, Any]:
        """Every table as JSON-ready records (NaN as null), with the SIMULATED flag."""
        from metaverdict._results import to_builtin

        d = self.data
        return to_builtin({
            "simulated": d.simulated, "source": d.source, "treatment": d.treatment,
            "control": d.control, "visits": list(d.visits),
            "missing_visits": d.missing_visits().to_dict("records"),
            "outcomes": [{
                "outcome": o.outcome, "mcid": o.mcid,
                "model": {"covariance": o.fit.model.structure.value,
                          "df_method": o.fit.df_method.value, "loglik": o.fit.loglik,
                          "coefficients": o.fit.coefficients.reset_index().to_dict("records")},
                "visits": o.visits.to_dict("records"),
                "ancova": o.ancova.to_dict("records"), "lnvr": o.lnvr.to_dict("records"),
                "moderation": None if o.moderation is None else dict(
                    o.moderation.to_dict(), conclusion=o.moderation.conclusion),
            } for o in self.outcomes]})

    def summary(self) -> str:
        parts = [self.data.summary(), ""]
        for o in self.outcomes:
            parts += [o.summary(), ""]
        return "\n".join(parts).rstrip()

    def to_study_results(self, source_id: str = "trial") -> StudyResults:
        """Study-level rows (yi, vi per outcome and visit) and their covariance ``V``."""
        frames, blocks = [], []
        for o in self.outcomes:
            t = o.visits.dropna(subset=["difference"])
            cov = o.fit.difference_covariance().to_numpy()
            keep = [i for i, v in enumerate(o.fit.data.frame["visit"].cat.categories)
                    if v in set(t["visit"])]
            blocks.append(cov[np.ix_(keep, keep)])
            frames.append(pd.DataFrame({
                "source_id": source_id, "outcome": o.outcome, "visit": t["visit"].to_numpy(),
                "measure": "MD", "yi": t["difference"].to_numpy(),
                "vi": t["se"].to_numpy() ** 2, "ci_lower": t["ci_lower"].to_numpy(),
                "ci_upper": t["ci_upper"].to_numpy(), "pvalue": t["pvalue"].to_numpy(),
                "n_treatment": t["n_treatment"].to_numpy(),
                "n_control": t["n_control"].to_numpy(), "treatment": o.treatment,
                "control": o.control, "simulated": o.simulated}))
        from scipy.linalg import block_diag

        v = block_diag(*blocks) if blocks else np.zeros((0, 0))
        return StudyResults(pd.concat(frames, ignore_index=True), v, self.data.simulated)


def analyze_trial(data: TrialData, outcomes: Any = None, covariance: str = "us",
                  df: str = "kenward-roger", mcid: float | None = None,
                  moderator: str | None = None, level: float = 0.95) -> TrialAnalysis:
    """Analyse every outcome (or those named) of a trial: :func:`analyze_outcome` each.

    Examples
    --------
    >>> from metaverdict.trials import analyze_trial, load_marathon_trial
    >>> res = analyze_trial(load_marathon_trial(), mcid=1.0, moderator="belief")
    >>> o = res["soleus soreness"]
    >>> o.visits["visit"].tolist(), bool(o.visits["pvalue"].iloc[0] <= 0.003)
    ([1, 2, 3, 7], True)
    """
    names = data.outcomes if outcomes is None else tuple(
        [outcomes] if isinstance(outcomes, str) else outcomes)
    return TrialAnalysis(data, tuple(analyze_outcome(data, o, covariance, df, mcid, moderator,
                                                     level) for o in names))
