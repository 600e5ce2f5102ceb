"""The result of a network meta-analysis: frozen, named fields, ``summary()`` and
``to_dict()``; derived analyses (league table, P-scores, node-splitting, contributions,
network measures) are methods."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table, read_only
from metaverdict.errors import InputError
from metaverdict.network._collation import r_sort_key
from metaverdict.network.graph import chi2_pvalue
from metaverdict.network.matrices import EstimateMatrices, Orientation
from metaverdict.network.pairwise import RATIO_MEASURES

if TYPE_CHECKING:
    from metaverdict.network.contribution import ContributionMatrix
    from metaverdict.network.data import Contrasts
    from metaverdict.network.krahn import QDecomposition
    from metaverdict.network.league import LeagueTable
    from metaverdict.network.measures import NetworkMeasures
    from metaverdict.network.ranking import PScores
    from metaverdict.network.split import Netsplit

FloatArray = npt.NDArray[np.float64]
Model = Literal["common", "random"]


def check_model(model: str) -> Model:
    """``"common"`` or ``"random"`` (``"fixed"`` is accepted for common)."""
    value = {"common": "common", "fixed": "common", "random": "random"}.get(str(model).lower())
    if value is None:
        raise InputError(f"field 'model': unknown {model!r}; choose 'common' or 'random'")
    return value   # type: ignore[return-value]


@dataclass(frozen=True, eq=False, repr=False)
class ContrastFit(ResultMixin):
    """Per-contrast quantities of one model, in the order of the contrasts kept.

    ``se_adj``: standard error adjusted for multi-arm studies (with tau² for the random
    model); ``weight = 1 / se_adj²``; ``te_nma`` / ``se_nma``: the network estimate of the
    contrast's comparison; ``leverage``: ``diag(H)`` (NaN for multi-arm contrasts, as netmeta);
    ``q_contribution``: ``weight (TE - te_nma)²`` (sums to Q for the common model); ``hat``,
    ``laplacian``, ``laplacian_pinv``: the hat matrix ``B L⁺ B' W``, ``L = B' W B`` and its
    pseudoinverse.
    """

    se_adj: FloatArray
    weight: FloatArray
    te_nma: FloatArray
    se_nma: FloatArray
    level: float
    leverage: FloatArray
    q_contribution: FloatArray
    hat: FloatArray
    laplacian: FloatArray
    laplacian_pinv: FloatArray

    def summary(self) -> str:
        """Adjusted SE, network estimate and Q contribution per contrast."""
        rows = [[str(i + 1), fmt(a), fmt(t), fmt(s), fmt(q)] for i, (a, t, s, q) in
                enumerate(zip(self.se_adj, self.te_nma, self.se_nma, self.q_contribution))]
        return format_table(["contrast", "se_adj", "te_nma", "se_nma", "Q"], rows)


@dataclass(frozen=True, eq=False, repr=False)
class PairHeterogeneity(ResultMixin):
    """Per directly compared pair (``n x n``, symmetric; NaN without direct evidence): number of
    contrasts ``k``, Cochran's ``q`` of the pair's contrasts (unadjusted SEs), its ``tau2`` (the
    fit's estimator; NaN for one study) and ``i2`` (a fraction)."""

    treatments: tuple[str, ...]
    k: FloatArray
    q: FloatArray
    tau2: FloatArray
    i2: FloatArray

    def summary(self) -> str:
        """Q, tau² and I² of each directly compared pair."""
        n = len(self.treatments)
        rows = [[f"{self.treatments[i]} vs {self.treatments[j]}", str(int(self.k[i, j])),
                 fmt(self.q[i, j]), fmt(self.tau2[i, j]), fmt(100 * self.i2[i, j], 1)]
                for i in range(n - 1) for j in range(i + 1, n) if self.k[i, j] > 0]
        return format_table(["comparison", "k", "Q", "tau^2", "I^2 (%)"], rows)


@dataclass(frozen=True, eq=False, repr=False)
class DesignDecomposition(ResultMixin):
    """Design-based decomposition of Cochran's Q (netmeta's ``decomp.design``; Krahn et al.
    2013): total = within designs (heterogeneity) + between designs (inconsistency), the
    design-by-treatment interaction test.

    ``within_designs``: per design its Q, df, p (a DataFrame); ``between_detached``: the
    between-designs Q after detaching each design (designs whose detachment would leave a
    treatment unconnected are left out, as netmeta does); ``between_contributions``: each
    design row's share of the between-designs Q; ``q_between_random``: the between-designs Q
    under the full design-by-treatment interaction random-effects model with
    ``tau2_within`` (method of moments on the within-design residuals; Higgins et al. 2012).
    """

    q_total: float
    q_total_df: int
    q_total_pvalue: float
    q_within: float
    q_within_df: int
    q_within_pvalue: float
    q_between: float
    q_between_df: int
    q_between_pvalue: float
    q_between_random: float
    q_between_random_pvalue: float
    tau_within: float
    tau2_within: float
    _within: dict[str, Any] = field(repr=False)
    _detached: dict[str, Any] = field(repr=False)
    _contributions: dict[str, Any] = field(repr=False)

    _repr_fields = ("q_total", "q_within", "q_between", "q_between_pvalue")
    _dict_properties = ("within_designs", "between_detached", "between_contributions")

    @classmethod
    def from_parts(cls, dec: QDecomposition, dec_random: QDecomposition,
                   tau: float) -> DesignDecomposition:
        q, df = dec.q, dec.df
        p = [chi2_pvalue(a, b) for a, b in zip(q, df)]
        return cls(
            q_total=q[0], q_total_df=df[0], q_total_pvalue=p[0], q_within=q[1],
            q_within_df=df[1], q_within_pvalue=p[1], q_between=q[2], q_between_df=df[2],
            q_between_pvalue=p[2], q_between_random=dec_random.q[2],
            q_between_random_pvalue=chi2_pvalue(dec_random.q[2], dec_random.df[2]),
            tau_within=tau, tau2_within=tau * tau,
            _within={"design": list(dec.het_design), "q": dec.het_q.tolist(),
                     "df": dec.het_df.tolist(),
                     "pvalue": [chi2_pvalue(a, b) for a, b in zip(dec.het_q, dec.het_df)]},
            _detached={"design": list(dec.detach_design), "q": dec.detach_q.tolist(),
                       "df": dec.detach_df.tolist(),
                       "pvalue": [chi2_pvalue(a, b) for a, b in
                                  zip(dec.detach_q, dec.detach_df)]},
            _contributions={"design": list(dec.inc_design), "q": dec.inc_q.tolist()})

    @property
    def within_designs(self) -> pd.DataFrame:
        """Q within each design (columns ``design, q, df, pvalue``)."""
        return pd.DataFrame(self._within)

    @property
    def between_detached(self) -> pd.DataFrame:
        """Between-designs Q after detaching each design (``design, q, df, pvalue``)."""
        return pd.DataFrame(self._detached)

    @property
    def between_contributions(self) -> pd.DataFrame:
        """Each design row's contribution to the between-designs Q (``design, q``)."""
        return pd.DataFrame(self._contributions)

    def table(self) -> pd.DataFrame:
        """Total, within-designs and between-designs Q with df and p."""
        return pd.DataFrame({"q": [self.q_total, self.q_within, self.q_between],
                             "df": [self.q_total_df, self.q_within_df, self.q_between_df],
                             "pvalue": [self.q_total_pvalue, self.q_within_pvalue,
                                        self.q_between_pvalue]},
                            index=pd.Index(["total", "within designs", "between designs"],
                                           name="source"))

    def summary(self) -> str:
        """The decomposition and the design-by-treatment interaction test."""
        rows = [[name, fmt(q), str(d), fmt_p(p)] for name, q, d, p in (
            ("Total", self.q_total, self.q_total_df, self.q_total_pvalue),
            ("Within designs", self.q_within, self.q_within_df, self.q_within_pvalue),
            ("Between designs", self.q_between, self.q_between_df, self.q_between_pvalue))]
        lines = ["Design-based decomposition of Cochran's Q", "",
                 format_table(["", "Q", "df", "p"], rows), "",
                 f"Design-by-treatment interaction (random effects, tau^2 within designs = "
                 f"{fmt(self.tau2_within)}): Q = {fmt(self.q_between_random)}, df = "
                 f"{self.q_between_df}, p = {fmt_p(self.q_between_random_pvalue)}"]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False, repr=False)
class NetworkMetaAnalysisResult(ResultMixin):
    """A fitted network meta-analysis (R netmeta's ``netmeta`` object).

    Treatment matrices (``common``, ``random``, ``prediction``, ``direct_*``,
    ``indirect_*``: :class:`EstimateMatrices`) are in ``treatments`` order (R's sort order)
    with entry ``[i, j]`` = treatment ``i`` versus ``j``, on the analysis scale (log for ratio
    measures). :meth:`estimates` gives them as DataFrames in netmeta's league-table layout
    (column versus row). ``i2`` is a fraction; ``tau`` / ``tau2`` the between-study SD and
    variance of the random-effects model (NaN without degrees of freedom).
    """

    sm: str | None
    method_tau: str
    reference: str
    treatments: tuple[str, ...]
    seq: tuple[str, ...]
    level: float
    level_ma: float
    level_predict: float
    small_values: str | None
    k: int
    m: int
    n: int
    studies: tuple[str, ...]
    narms: tuple[int, ...]
    q: float
    q_df: int
    q_pvalue: float
    i2: float
    i2_lower: float
    i2_upper: float
    tau2: float
    tau: float
    common: EstimateMatrices
    random: EstimateMatrices
    prediction: EstimateMatrices
    direct_common: EstimateMatrices
    direct_random: EstimateMatrices
    pair_heterogeneity: PairHeterogeneity
    proportion_common: FloatArray
    proportion_random: FloatArray
    indirect_common: EstimateMatrices
    indirect_random: EstimateMatrices
    fit_common: ContrastFit
    fit_random: ContrastFit
    warnings: tuple[str, ...]
    _decomposition: DesignDecomposition | None = field(repr=False)
    _contrasts: Contrasts = field(repr=False)

    _repr_fields = ("n", "k", "m", "method_tau", "tau2", "q")
    _dict_properties = ("d", "designs", "comparisons", "k_trts", "q_within", "q_between",
                        "design_decomposition", "contrast_table")

    # --- description of the network ---------------------------------------------------------
    @property
    def contrasts(self) -> Contrasts:
        """The contrasts the fit used (checked, oriented ``treat1`` before ``treat2``)."""
        return self._contrasts

    @property
    def designs(self) -> tuple[str, ...]:
        """The distinct designs (sets of treatments of a study, ``"A:B:C"``), in R's order."""
        return tuple(sorted(set(self.contrast_designs()), key=r_sort_key))

    @property
    def d(self) -> int:
        """Number of designs."""
        return len(self.designs)

    def contrast_designs(self) -> list[str]:
        """The design of each contrast's study."""
        c = self._contrasts
        by_study: dict[str, set[str]] = {}
        for s, a, b in zip(c.studlab, c.treat1, c.treat2):
            by_study.setdefault(s, set()).update((a, b))
        label = {s: ":".join(sorted(t, key=r_sort_key)) for s, t in by_study.items()}
        return [label[s] for s in c.studlab]

    @property
    def comparisons(self) -> tuple[str, ...]:
        """The directly compared pairs ``"A:B"`` (``A`` before ``B`` in treatment order)."""
        n = self.n
        k = self.pair_heterogeneity.k
        return tuple(f"{self.treatments[i]}:{self.treatments[j]}" for i in range(n - 1)
                     for j in range(i + 1, n) if k[i, j] > 0)

    @property
    def k_trts(self) -> tuple[int, ...]:
        """Number of studies with each treatment (``treatments`` order)."""
        c = self._contrasts
        per = {t: set() for t in self.treatments}   # type: dict[str, set[str]]
        for s, a, b in zip(c.studlab, c.treat1, c.treat2):
            per[a].add(s)
            per[b].add(s)
        return tuple(len(per[t]) for t in self.treatments)

    @property
    def adjacency(self) -> pd.DataFrame:
        """Number of contrasts (studies) per pair of treatments."""
        k = np.array(self.pair_heterogeneity.k, copy=True)
        np.fill_diagonal(k, 0)
        return pd.DataFrame(k, index=list(self.treatments), columns=list(self.treatments))

    @property
    def design_decomposition(self) -> DesignDecomposition | None:
        """The design-based decomposition of Q, None for a network of one design."""
        return self._decomposition

    def decomposition(self) -> DesignDecomposition:
        """Design-based decomposition of Cochran's Q and the design-by-treatment interaction
        test (netmeta's ``decomp.design``; Krahn et al. 2013, Higgins et al. 2012).

        Raises
        ------
        InputError
            For a network of a single design (nothing to decompose).
        """
        if self._decomposition is None:
            raise InputError(f"the network has a single design ({self.designs[0]}): Q has no "
                             "between-designs part to separate")
        return self._decomposition

    @property
    def q_within(self) -> float:
        """Q within designs (heterogeneity; NaN with one design)."""
        return self._decomposition.q_within if self._decomposition else math.nan

    @property
    def q_between(self) -> float:
        """Q between designs (inconsistency; NaN with one design)."""
        return self._decomposition.q_between if self._decomposition else math.nan

    def q_by_comparison(self) -> pd.DataFrame:
        """Cochran's Q of each directly compared pair (netmeta's ``Q.decomp``): the pair's
        contrasts about their inverse-variance mean, with the multi-arm adjusted weights of
        the common-effects model; ``df`` = number of contrasts - 1 (p NaN for ``df = 0``)."""
        c = self._contrasts
        w = self.fit_common.weight
        pos = {t: i for i, t in enumerate(self.treatments)}
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (t1, t2) in enumerate(zip(c.treat1, c.treat2)):
            groups.setdefault((pos[t1], pos[t2]), []).append(i)
        rows = []
        for (a, b) in sorted(groups):
            idx = groups[(a, b)]
            y, wi = c.te[idx], w[idx]
            q = float(np.sum(wi * (y - np.sum(wi * y) / wi.sum()) ** 2)) if len(idx) > 1 \
                else 0.0
            rows.append({"treat1": self.treatments[a], "treat2": self.treatments[b], "q": q,
                         "df": len(idx) - 1, "pvalue": chi2_pvalue(q, len(idx) - 1)})
        return pd.DataFrame(rows, columns=["treat1", "treat2", "q", "df", "pvalue"])

    def contrast_fit(self, model: str = "random") -> ContrastFit:
        """Per-contrast quantities of one model."""
        return self.fit_common if check_model(model) == "common" else self.fit_random

    @property
    def contrast_table(self) -> pd.DataFrame:
        """One row per contrast kept (input order; netmeta's orientation): the data, the
        adjusted SEs, weights, network estimates, leverage and Q contribution of both
        models."""
        c = self._contrasts
        studies = list(self.studies)
        narms = [self.narms[studies.index(s)] for s in c.studlab]
        out: dict[str, Any] = {"row": c.row, "studlab": list(c.studlab),
                               "treat1": list(c.treat1), "treat2": list(c.treat2),
                               "TE": c.te, "seTE": c.se, "design": self.contrast_designs(),
                               "narms": narms, "multiarm": [a > 2 for a in narms]}
        for model, fit in (("common", self.fit_common), ("random", self.fit_random)):
            est = EstimateMatrices.from_estimates("contrast", model, fit.level, (),
                                                  fit.te_nma, fit.se_nma)
            out.update({f"se_adj_{model}": fit.se_adj, f"weight_{model}": fit.weight,
                        f"te_nma_{model}": fit.te_nma, f"se_nma_{model}": fit.se_nma,
                        f"ci_lower_nma_{model}": est.ci_lower,
                        f"ci_upper_nma_{model}": est.ci_upper,
                        f"statistic_nma_{model}": est.statistic,
                        f"pvalue_nma_{model}": est.pvalue,
                        f"hat_diag_{model}": np.diag(fit.hat)})
        out["leverage_common"] = self.fit_common.leverage
        out["q_common"] = self.fit_common.q_contribution
        return pd.DataFrame({k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                             for k, v in out.items()})

    # --- estimates ------------------------------------------------------------------------------
    def network(self, model: str = "random") -> EstimateMatrices:
        """The network estimates of one model."""
        return self.common if check_model(model) == "common" else self.random

    def estimates(self, model: str = "random",
                  orientation: Orientation = "column_vs_row") -> pd.DataFrame:
        """Network estimates as a treatment x treatment DataFrame.

        By default cell (row r, column c) is the estimate of treatment **c versus r**, the
        layout of netmeta's league-table lower triangle (``orientation="row_vs_column"`` for
        r versus c, netmeta's ``TE.common`` / ``TE.random``).
        """
        return self.network(model).frame("estimate", orientation)

    def se(self, model: str = "random") -> pd.DataFrame:
        """Standard errors of the network estimates (symmetric)."""
        return self.network(model).frame("se")

    def comparisons_table(self, model: str = "random") -> pd.DataFrame:
        """One row per pair (``treat1`` versus ``treat2``): estimate, se, CI, z, p of the
        network, with the direct evidence proportion and the number of direct studies."""
        net = self.network(model).long()
        prop = self.proportion_common if check_model(model) == "common" else \
            self.proportion_random
        index = {t: i for i, t in enumerate(self.treatments)}
        net["direct_proportion"] = [prop[index[a], index[b]]
                                    for a, b in zip(net["treat1"], net["treat2"])]
        net["k_direct"] = [int(self.pair_heterogeneity.k[index[a], index[b]])
                           for a, b in zip(net["treat1"], net["treat2"])]
        return net

    def direct(self, model: str = "random") -> EstimateMatrices:
        """Direct (pairwise) estimates; NaN where two treatments were not compared."""
        return self.direct_common if check_model(model) == "common" else self.direct_random

    def indirect(self, model: str = "random") -> EstimateMatrices:
        """Indirect estimates by back-calculation (NaN where all evidence is direct)."""
        return self.indirect_common if check_model(model) == "common" else \
            self.indirect_random

    def proportion(self, model: str = "random") -> pd.DataFrame:
        """Direct evidence proportion of every comparison (0 without direct evidence)."""
        p = self.proportion_common if check_model(model) == "common" else \
            self.proportion_random
        return pd.DataFrame(np.array(p, copy=True), index=list(self.treatments),
                            columns=list(self.treatments))

    # --- derived analyses -----------------------------------------------------------------------
    def league(self, model: str = "random", seq: Any = None) -> LeagueTable:
        """League table: network estimates below the diagonal (column versus row), direct
        estimates above it (row versus column), as netmeta's ``netleague``."""
        from metaverdict.network.league import league_table
        return league_table(self, check_model(model), seq)

    def p_scores(self, small_values: str | None = None) -> PScores:
        """P-scores (Rücker & Schwarzer 2015) of both models.

        ``small_values="good"`` (or ``"desirable"``): small effects are beneficial (e.g. a
        lower risk of death, less pain); ``"bad"`` (``"undesirable"``): large effects are
        (e.g. more quitters). Default: the fit's ``small_values``; one of them is required so
        that the direction of "better" is always stated.
        """
        from metaverdict.network.ranking import p_scores
        chosen = small_values if small_values is not None else self.small_values
        if chosen is None:
            raise InputError("field 'small_values': say whether small effects are good "
                             "('good'/'desirable') or bad ('bad'/'undesirable'), e.g. "
                             "p_scores(small_values='good') for pain")
        return p_scores(self, chosen)

    def netsplit(self, method: str = "back-calculation") -> Netsplit:
        """Split every comparison into direct and indirect evidence (netmeta's ``netsplit``).

        ``method="back-calculation"`` (netmeta's default) derives the indirect estimate from
        the network and direct ones; ``"SIDDE"`` refits the network without the studies of
        each directly compared pair.
        """
        from metaverdict.network.split import netsplit
        return netsplit(self, method)

    def measures(self) -> NetworkMeasures:
        """Direct evidence proportion, mean path length and minimal parallelism of every
        comparison, common-effects model (netmeta's ``netmeasures``)."""
        from metaverdict.network.measures import network_measures
        return network_measures(self)

    def contributions(self, method: str = "shortestpath",
                      model: str = "common") -> ContributionMatrix:
        """Contribution of each direct comparison to each network estimate (netmeta's
        ``netcontrib``): ``"shortestpath"`` (Papakonstantinou et al. 2018) or
        ``"pseudoinverse"`` (Rücker et al. 2024)."""
        from metaverdict.network.contribution import contribution_matrix
        return contribution_matrix(self, method, check_model(model))

    # --- printing ---------------------------------------------------------------------------
    def _back(self, x: float) -> float:
        return math.exp(x) if self.sm in RATIO_MEASURES and math.isfinite(x) else x

    def summary(self, model: str | None = None) -> str:
        """Journal-style summary: the network, heterogeneity and inconsistency, and the
        estimates of every treatment versus the reference (ratio measures back-transformed)."""
        models = ("common", "random") if model is None else (check_model(model),)
        ratio = self.sm in RATIO_MEASURES
        label = f"{self.sm}" if self.sm else "estimate"
        lines = [f"Network meta-analysis ({label}{', back-transformed' if ratio else ''}): "
                 f"{self.k} studies, {self.m} contrasts, {self.n} treatments, {self.d} "
                 f"designs; reference {self.reference!r}", ""]
        pct = f"{100 * self.level_ma:g}%"
        ref = self.treatments.index(self.reference)
        for mod in models:
            est = self.network(mod)
            rows = []
            for i, t in enumerate(self.treatments):
                if i == ref:
                    continue
                rows.append([t, fmt(self._back(est.estimate[i, ref])),
                             f"[{fmt(self._back(est.ci_lower[i, ref]))}; "
                             f"{fmt(self._back(est.ci_upper[i, ref]))}]",
                             fmt(est.statistic[i, ref], 2), fmt_p(est.pvalue[i, ref])])
            lines.append(f"{mod.capitalize()} effects model, versus {self.reference}:")
            lines.append(format_table(["treatment", label, f"{pct} CI", "z", "p"], rows))
            lines.append("")
        tau_label = {"DL": "DerSimonian-Laird", "REML": "REML", "ML": "ML",
                     "preset": "preset"}[self.method_tau]
        lines.append(f"tau^2 = {fmt(self.tau2)} ({tau_label}), tau = {fmt(self.tau)}; "
                     f"I^2 = {fmt(100 * self.i2, 1)}% [{fmt(100 * self.i2_lower, 1)}%; "
                     f"{fmt(100 * self.i2_upper, 1)}%]")
        lines.append(f"Q = {fmt(self.q)}, df = {self.q_df}, p = {fmt_p(self.q_pvalue)}")
        if self._decomposition is not None:
            dd = self._decomposition
            lines.append(f"  within designs:  Q = {fmt(dd.q_within)}, df = {dd.q_within_df}, "
                         f"p = {fmt_p(dd.q_within_pvalue)}")
            lines.append(f"  between designs: Q = {fmt(dd.q_between)}, df = "
                         f"{dd.q_between_df}, p = {fmt_p(dd.q_between_pvalue)}")
        for w in self.warnings:
            lines.append(f"Note: {w}")
        return "\n".join(lines)


__all__ = ["ContrastFit", "DesignDecomposition", "NetworkMetaAnalysisResult",
           "PairHeterogeneity", "check_model", "read_only"]
