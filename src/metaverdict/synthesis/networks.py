"""Is the treatment better than the *other* active options? Networks of the stored comparisons.

The answers against active comparators (:class:`~metaverdict.synthesis.Answer` with
``comparator_class == "active"``) are direct comparisons of a treatment with one named
treatment each. Where such comparisons connect three or more treatments for the same
condition, outcome, term and measure, :func:`active_networks` fits a frequentist network
meta-analysis (:func:`metaverdict.network_meta_analysis`, random effects, REML) on them and
reports it with CINeMA-style caveats (Nikolakopoulou et al. 2020):

* **within-study bias**: the GRADE certainty of each direct comparison;
* **imprecision**: how many network estimates have a CI that includes no difference;
* **heterogeneity**: tau² and whether it could be estimated at all (one source per
  comparison leaves none to estimate);
* **incoherence**: node-splitting by back-calculation (direct vs indirect evidence, z and P,
  common and random effects: with one source per comparison the REML tau² of a single loop
  is made of the very disagreement the split tests, so either model's P < 0.10 flags it)
  where a closed loop allows it, and plainly "cannot be checked" where none does.

What enters, and why something does not (each exclusion is listed with its reason):

* one answer per question (the chosen source: its comparison enters once), and each stored
  result once: a result left out (e.g. against a bucket of treatments) is not brought back by
  the same result re-expressed under another treatment;
* a comparator that names a bucket of different treatments ("other treatments", "other
  therapies incl. physiotherapy", "A or B") is not a node: a network needs named treatments;
* an estimate with a 95% CI, as an MD or SMD (an MD only with comparisons on the same
  reported scale; a derived number without a CI cannot be weighted);
* the effects are put on the **benefit scale** (positive favours the first treatment named),
  so that pain (lower is better) and function (higher is better) never mix up.

Treatments are joined by name only (vocabulary terms for the treatments, the comparator as the
answer names it): "autologous whole blood" and "autologous blood injection" are different
nodes unless the vocabulary makes them one.

**Ranking.** A ranking (P-scores) is given only for a network with a closed loop whose
node-splits show no incoherence (every P >= 0.10). Otherwise the section says plainly that
the network is too thin to rank, and why: with no loop every comparison rests on its own
direct evidence, any ranking would only restate them, and their coherence cannot be checked.
The pooled sources are often reviews that may share trials across comparisons, which the
network cannot see: stated as a caveat in every network.

References
----------
Rücker, G. (2012). Network meta-analysis, electrical networks and graph theory. Research
Synthesis Methods, 3(4), 312-324.
Nikolakopoulou, A., Higgins, J. P. T., Papakonstantinou, T., et al. (2020). CINeMA: an
approach for assessing confidence in the results of a network meta-analysis. PLoS Medicine,
17(4), e1003082.
Rücker, G., & Schwarzer, G. (2015). Ranking treatments in frequentist network meta-analysis
works without resampling methods. BMC Medical Research Methodology, 15, 58.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from scipy.stats import norm

from metaverdict._results import ResultMixin
from metaverdict.synthesis.evidence import is_group

if TYPE_CHECKING:
    from metaverdict.network.results import NetworkMetaAnalysisResult
    from metaverdict.synthesis.answers import Answer

NETWORK_MEASURES = ("MD", "SMD")
#: node-split P below this flags incoherence (the usual 0.10 for tests of inconsistency)
INCOHERENCE_P = 0.10
MIN_TREATMENTS = 3


@dataclass(frozen=True, repr=False)
class Comparison(ResultMixin):
    """One direct comparison on the benefit scale (positive favours ``first``)."""

    first: str
    second: str
    estimate: float
    ci_lower: float
    ci_upper: float
    source: str
    certainty: str | None
    _repr_fields = ("first", "second", "estimate")

    @property
    def se(self) -> float:
        """Standard error read from the 95% CI: ``(upper - lower) / (2 z_0.975)``."""
        return (self.ci_upper - self.ci_lower) / (2 * float(norm.ppf(0.975)))

    def describe(self) -> str:
        return (f"{self.first} vs {self.second}: {self.estimate:.2f} [{self.ci_lower:.2f}; "
                f"{self.ci_upper:.2f}] (benefit scale: positive favours {self.first}; "
                f"{self.source}; {self.certainty or 'not rated'})")


@dataclass(frozen=True, repr=False)
class ActiveNetwork(ResultMixin):
    """The connected direct comparisons of one condition × outcome × term × measure.

    Attributes
    ----------
    condition, outcome, term, measure : str
        What the comparisons are about (measure on the benefit scale; ``"MD (0-10)"`` names
        the scale of an MD).
    comparisons : tuple of Comparison
    treatments : tuple of str
    fit : NetworkMetaAnalysisResult or None
        The network fit (None with fewer than three treatments).
    rankable : bool
        Whether a ranking is given (module docstring).
    verdict : str
        The plain-language status ("too thin to rank: ...", "ranked ...").
    caveats : tuple of str
        CINeMA-style caveats.
    ranking : tuple of (str, float)
        Treatments with their random-effects P-scores, best first (empty unless rankable).
    """

    condition: str
    outcome: str
    term: str
    measure: str
    comparisons: tuple[Comparison, ...]
    treatments: tuple[str, ...]
    fit: NetworkMetaAnalysisResult | None
    rankable: bool
    verdict: str
    caveats: tuple[str, ...]
    ranking: tuple[tuple[str, float], ...] = ()
    _repr_fields = ("condition", "outcome", "term", "treatments", "rankable")

    def league(self, digits: int = 2) -> pd.DataFrame | None:
        """The random-effects league table as text (lower triangle: network estimate of the
        column treatment's benefit over the row treatment's; upper triangle: direct); None
        without a fit."""
        if self.fit is None:
            return None
        return self.fit.league(model="random").text(digits=digits)

    def describe(self) -> str:
        where = f"{self.condition or 'all conditions'}, {self.outcome}, {self.term}"
        return f"{where} ({self.measure}): {', '.join(self.treatments)}"

    def to_dict(self) -> dict[str, Any]:
        league = self.league()
        return {"condition": self.condition, "outcome": self.outcome, "term": self.term,
                "measure": self.measure, "treatments": list(self.treatments),
                "comparisons": [c.to_dict() for c in self.comparisons],
                "rankable": self.rankable, "verdict": self.verdict,
                "caveats": list(self.caveats),
                "ranking": [{"treatment": t, "p_score": p} for t, p in self.ranking],
                "league": None if league is None else league.to_numpy().tolist()}

    def summary(self) -> str:
        lines = [self.describe(), f"  {self.verdict}"]
        lines += [f"  {c.describe()}" for c in self.comparisons]
        lines += [f"  caveat: {c}" for c in self.caveats]
        return "\n".join(lines)


@dataclass(frozen=True, repr=False)
class ActiveComparisons(ResultMixin):
    """Every network of a treatment's active comparisons, and what was left out and why."""

    treatment: str
    networks: tuple[ActiveNetwork, ...]
    single: tuple[str, ...]
    excluded: tuple[str, ...]
    _repr_fields = ("treatment", "networks")

    @property
    def statement(self) -> str:
        """The section's bottom line."""
        ranked = [n for n in self.networks if n.rankable]
        if not self.networks:
            return (f"No network: the stored direct comparisons of {self.treatment} with named "
                    "active treatments do not connect three or more treatments for any "
                    "condition, outcome and term, so they cannot be compared with each other "
                    "or ranked; each stands alone in the answers above.")
        if not ranked:
            return (f"{len(self.networks)} network(s) of active comparisons, each too thin to "
                    "rank: their league tables are shown with their caveats, but no ranking.")
        return (f"{len(ranked)} of {len(self.networks)} network(s) of active comparisons can "
                "be ranked; read the ranking with its caveats.")

    def summary(self) -> str:
        lines = [self.statement]
        for n in self.networks:
            lines.append(n.summary())
        lines += [f"  single comparison: {s}" for s in self.single]
        lines += [f"  left out: {s}" for s in self.excluded]
        return "\n".join(lines)


def _measure_key(a: Answer) -> str | None:
    body = a.chosen.body if a.chosen else None
    if body is None or body.measure not in NETWORK_MEASURES:
        return None
    if body.measure == "MD":
        scale = (body.outcome_scale or "unspecified").strip()
        return None if scale == "unspecified" else f"MD ({scale})"
    return "SMD"


def _comparison(a: Answer) -> tuple[tuple[str, str, str, str], Comparison] | str:
    """The answer as a benefit-scale comparison keyed by its network, or why it cannot be."""
    q = a.question
    what = f"{q.treatment} vs {q.comparator} ({q.condition or 'all conditions'}, {q.outcome}, " \
           f"{q.term}; {a.source_id})"
    if is_group(q.comparator):
        return f"{what}: the comparator is a group of different treatments, not one treatment"
    key = _measure_key(a)
    body = a.chosen.body if a.chosen else None
    if body is not None and body.measure == "MD" and key is None:
        return f"{what}: an MD on an unreported scale cannot be combined with other MDs"
    if key is None or body is None:
        return (f"{what}: a {body.measure if body and body.measure else 'result'}, not an MD "
                "or SMD with a 95% CI")
    b, lo, hi = body.benefit()
    if b is None or lo is None or hi is None or not lo < hi:
        return f"{what}: no estimate with a 95% CI (or no known direction)"
    comp = Comparison(q.treatment, q.comparator, b, lo, hi, a.source_id or "",
                      str(a.certainty) if a.certainty else None)
    return (q.condition or "", q.outcome, q.term, key), comp


def _result_ids(a: Answer) -> tuple[int, ...]:
    body = a.chosen.body if a.chosen else None
    return tuple(body.result_ids) if body is not None else ()


def _components(comps: Sequence[Comparison]) -> list[list[Comparison]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for c in comps:
        parent[find(c.first)] = find(c.second)
    groups: dict[str, list[Comparison]] = defaultdict(list)
    for c in comps:
        groups[find(c.first)].append(c)
    return list(groups.values())


def _dedupe(comps: Iterable[Comparison]) -> list[Comparison]:
    """One comparison per pair and source: A vs B from A's answers and B vs A from B's."""
    out: dict[tuple[frozenset[str], str], Comparison] = {}
    for c in comps:
        out.setdefault((frozenset((c.first, c.second)), c.source), c)
    return list(out.values())


def active_networks(answers: Iterable[Answer], treatment: str) -> ActiveComparisons:
    """The networks of active comparisons that involve ``treatment`` (module docstring).

    Parameters
    ----------
    answers : iterable of Answer
        The answers of every treatment to consider (e.g. all treatments of a report), so that
        comparisons stored under another treatment can close a loop.
    treatment : str
        The treatment (vocabulary term) whose networks are wanted.

    Returns
    -------
    ActiveComparisons
    """
    grouped: dict[tuple[str, str, str, str], list[Comparison]] = defaultdict(list)
    excluded: list[str] = []
    made_all = [(a, _comparison(a)) for a in answers
                if a.question.comparator_class == "active" and a.question.comparator]
    # a stored result left out once stays out: the same result re-expressed under another
    # treatment (e.g. "other therapies incl. physiotherapy" read as exercise therapy) must
    # not bring a bucket back as a named node
    left_out = {i for a, made in made_all if isinstance(made, str) for i in _result_ids(a)}
    seen: set[int] = set()
    for a, made in made_all:
        if isinstance(made, str):
            if a.question.treatment == treatment:
                excluded.append(made)
            continue
        ids = set(_result_ids(a))
        if ids & (left_out | seen):
            continue
        seen |= ids
        grouped[made[0]].append(made[1])
    networks: list[ActiveNetwork] = []
    single: list[str] = []
    for key, comps in grouped.items():
        for part in _components(_dedupe(comps)):
            names = {t for c in part for t in (c.first, c.second)}
            if treatment not in names:
                continue
            if len(names) < MIN_TREATMENTS:
                single += [f"{c.describe()} [{key[0] or 'all conditions'}, {key[1]}, {key[2]}]"
                           for c in part]
                continue
            networks.append(_network(key, part))
    return ActiveComparisons(treatment, tuple(networks), tuple(single), tuple(excluded))


def _network(key: tuple[str, str, str, str], comps: list[Comparison]) -> ActiveNetwork:
    from metaverdict.network import network_meta_analysis
    frame = pd.DataFrame({
        "studlab": [f"{c.source}: {c.first} vs {c.second}" for c in comps],
        "treat1": [c.first for c in comps], "treat2": [c.second for c in comps],
        "TE": [c.estimate for c in comps], "seTE": [c.se for c in comps]})
    # benefit scale: larger is better
    net = network_meta_analysis(frame, method_tau="REML", sm=key[3].split(" ")[0],
                                small_values="undesirable")
    loops = len({frozenset((c.first, c.second)) for c in comps}) >= net.n  # connected: E >= N
    caveats = _caveats(net, comps, loops)
    incoherent = [c for c in caveats if c.startswith("incoherence:") and "P =" in c]
    rankable = loops and not incoherent
    ranking: tuple[tuple[str, float], ...] = ()
    if rankable:
        scores = net.p_scores(small_values="undesirable").table()["random"]
        ranking = tuple(sorted(((str(t), float(p)) for t, p in scores.items()),
                               key=lambda tp: -tp[1]))
        verdict = ("ranked by P-score (random effects; the probability-like certainty that a "
                   "treatment is better than the others, not a size of effect): "
                   + ", ".join(f"{t} {p:.2f}" for t, p in ranking))
    elif not loops:
        verdict = ("too thin to rank: the network has no closed loop, so every comparison rests "
                   "on its own direct evidence, the indirect comparisons only chain them, and "
                   "their coherence cannot be checked")
    else:
        verdict = ("too thin to rank: direct and indirect evidence disagree (incoherence), so "
                   "a ranking would rest on evidence that contradicts itself")
    treatments = tuple(dict.fromkeys(t for c in comps for t in (c.first, c.second)))
    return ActiveNetwork(key[0], key[1], key[2], key[3], tuple(comps), treatments, net,
                         rankable, verdict, tuple(caveats), ranking)


def _caveats(net: NetworkMetaAnalysisResult, comps: list[Comparison], loops: bool
             ) -> list[str]:
    out = ["within-study bias: " + "; ".join(
        f"{c.first} vs {c.second} {c.certainty or 'not rated'}" for c in comps)]
    est = net.random
    n = len(net.treatments)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    crossing = sum(1 for i, j in pairs
                   if est.ci_lower[i][j] <= 0 <= est.ci_upper[i][j])
    out.append(f"imprecision: {crossing} of {len(pairs)} network estimates have a 95% CI that "
               "includes no difference")
    by_pair: dict[frozenset[str], int] = defaultdict(int)
    for c in comps:
        by_pair[frozenset((c.first, c.second))] += 1
    if max(by_pair.values()) < 2 and not loops:
        out.append("heterogeneity: one source per comparison and no loop, so tau² cannot be "
                   "estimated (it is 0 by construction, not by evidence)")
    else:
        out.append(f"heterogeneity: tau² = {net.tau2:.3g} (REML)")
    if not loops:
        out.append("incoherence: cannot be checked (no closed loop)")
    else:
        split = net.netsplit()
        flagged = [f"{idx} (direct vs indirect, {model} effects: P = {p:.3f})"
                   for model in ("common", "random")
                   for idx, p in split.table(model)["pvalue"].items()
                   if math.isfinite(p) and p < INCOHERENCE_P]
        out.append("incoherence: " + ("; ".join(flagged) if flagged else
                                      f"no node-split with P < {INCOHERENCE_P:.2f} (common or "
                                      "random effects)"))
    out.append("the comparisons are sources' pooled estimates; trials shared between them are "
               "not visible to the network")
    return out
