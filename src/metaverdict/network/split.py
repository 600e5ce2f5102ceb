"""Node-splitting (netmeta's ``netsplit``): every comparison split into its direct and indirect
evidence, and their difference tested.

For each pair of treatments, written ``A:B`` (``A`` versus ``B``; a pair with the reference
treatment has the reference second):

* ``nma``: the network estimate;
* ``direct``: the pairwise estimate of the pair's studies (missing when the direct evidence
  proportion ``P`` is below 0.0005);
* ``indirect``: by **back-calculation** (König et al. 2013; Dias et al. 2010):
  :math:`TE_{ind} = (TE_{nma} - P\\, TE_{dir}) / (1 - P)`, :math:`SE_{ind} = SE_{nma} /
  \\sqrt{1 - P}` (missing when ``P`` is within 0.0005 of 1), or by **SIDDE** (separate indirect
  from direct design evidence; Efthimiou et al. 2019): the network refitted without every
  study of the pair. Without direct evidence the indirect estimate is the network estimate;
* ``compare``: :math:`TE_{dir} - TE_{ind}` with :math:`SE = \\sqrt{SE_{dir}^2 +
  SE_{ind}^2}`, ``z`` and its two-sided normal p-value.

References
----------
König, J., Krahn, U., & Binder, H. (2013). Visualizing the flow of evidence in network
meta-analysis and characterizing mixed treatment comparisons. Statistics in Medicine, 32(30),
5414-5429.
Dias, S., Welton, N. J., Caldwell, D. M., & Ades, A. E. (2010). Checking consistency in mixed
treatment comparison meta-analysis. Statistics in Medicine, 29(7-8), 932-944.
Efthimiou, O., Rücker, G., Schwarzer, G., Higgins, J. P. T., Egger, M., & Salanti, G. (2019).
Network meta-analysis of rare events using the Mantel-Haenszel method. Statistics in
Medicine, 38(16), 2992-3012.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table, read_only
from metaverdict.errors import InputError
from metaverdict.network.data import components
from metaverdict.network.graph import wald
from metaverdict.network.pairwise import RATIO_MEASURES

if TYPE_CHECKING:
    from metaverdict.network.results import NetworkMetaAnalysisResult

FloatArray = npt.NDArray[np.float64]
#: netmeta's ``tol.direct``: direct evidence proportions this close to 0 (1) count as 0 (1)
TOL_DIRECT = 0.0005
PARTS = ("nma", "direct", "indirect", "compare")
COLUMNS = ("estimate", "se", "ci_lower", "ci_upper", "statistic", "pvalue")
METHODS = {"back-calculation": "Back-calculation", "backcalculation": "Back-calculation",
           "sidde": "SIDDE"}


@dataclass(frozen=True, eq=False, repr=False)
class Netsplit(ResultMixin):
    """Direct, indirect and network estimates of every comparison (see the module docstring).

    ``comparisons`` are ``"A:B"`` labels (A versus B), ``k`` the number of studies with
    direct evidence, ``proportion_*`` the direct evidence proportions; :meth:`part` gives one
    block (``"nma"``, ``"direct"``, ``"indirect"``, ``"compare"``) of one model, and
    :meth:`table` all of them side by side.
    """

    method: str
    sm: str | None
    level: float
    comparisons: tuple[str, ...]
    treat1: tuple[str, ...]
    treat2: tuple[str, ...]
    k: npt.NDArray[np.int64]
    proportion_common: FloatArray
    proportion_random: FloatArray
    _blocks: dict[str, dict[str, FloatArray]]
    _direct_het: dict[str, FloatArray]
    _predict: dict[str, FloatArray]

    _repr_fields = ("method", "comparisons")
    _dict_properties = ("blocks", "direct_heterogeneity", "prediction")

    @property
    def blocks(self) -> dict[str, dict[str, list[float]]]:
        """Every block of both models: ``{"common/direct": {"estimate": [...], ...}, ...}``."""
        return {k: {c: v.tolist() for c, v in b.items()} for k, b in self._blocks.items()}

    @property
    def direct_heterogeneity(self) -> dict[str, list[float]]:
        """Q, tau², tau and I² of each pair's direct evidence."""
        return {k: v.tolist() for k, v in self._direct_het.items()}

    @property
    def prediction(self) -> dict[str, list[float]]:
        """Prediction interval of each network estimate (random effects)."""
        return {k: v.tolist() for k, v in self._predict.items()}

    def part(self, part: str, model: str = "random") -> pd.DataFrame:
        """One block: ``estimate, se, ci_lower, ci_upper, statistic, pvalue`` per comparison
        (``statistic`` is z for ``"compare"``)."""
        from metaverdict.network.results import check_model
        model = check_model(model)
        if part not in PARTS:
            raise InputError(f"field 'part': unknown {part!r}; choose one of {', '.join(PARTS)}")
        block = self._blocks[f"{model}/{part}"]
        return pd.DataFrame({c: np.array(block[c]) for c in COLUMNS},
                            index=pd.Index(list(self.comparisons), name="comparison"))

    def table(self, model: str = "random") -> pd.DataFrame:
        """One row per comparison: k, direct proportion, network / direct / indirect
        estimates with CIs, their difference, z and p."""
        from metaverdict.network.results import check_model
        model = check_model(model)
        out = pd.DataFrame({"k": np.array(self.k),
                            "proportion": np.array(self.proportion_common if model == "common"
                                                   else self.proportion_random)},
                           index=pd.Index(list(self.comparisons), name="comparison"))
        for part in PARTS:
            block = self.part(part, model)
            name = "difference" if part == "compare" else part
            out[name] = block["estimate"]
            out[f"{name}_ci_lower"] = block["ci_lower"]
            out[f"{name}_ci_upper"] = block["ci_upper"]
        out["z"] = self.part("compare", model)["statistic"]
        out["pvalue"] = self.part("compare", model)["pvalue"]
        return out

    def summary(self, model: str = "random") -> str:
        """The split per comparison (ratio measures back-transformed)."""
        t = self.table(model)
        back = self.sm in RATIO_MEASURES

        def f(x: float) -> str:
            return "." if not np.isfinite(x) else fmt(float(np.exp(x)) if back else x)
        rows = [[str(c), str(int(r["k"])), fmt(r["proportion"], 2), f(r["nma"]), f(r["direct"]),
                 f(r["indirect"]), f(r["difference"]) if not back else
                 ("." if not np.isfinite(r["difference"]) else fmt(float(np.exp(r["difference"])))),
                 "." if not np.isfinite(r["z"]) else fmt(r["z"], 2),
                 "." if not np.isfinite(r["pvalue"]) else fmt_p(r["pvalue"])]
                for c, r in t.iterrows()]
        head = ["comparison", "k", "prop", "nma", "direct", "indir.",
                "RoR" if back else "Diff", "z", "p"]
        return "\n".join([f"Separating direct from indirect evidence ({self.method}, {model} "
                          "effects)", "", format_table(head, rows)])


def _sidde_indirect(net: NetworkMetaAnalysisResult, model: str
                    ) -> tuple[FloatArray, FloatArray]:
    from metaverdict.network.fit import fit_contrasts
    n = net.n
    te = np.full((n, n), np.nan)
    se = np.full((n, n), np.nan)
    c = net.contrasts
    k = net.pair_heterogeneity.k
    trts = net.treatments
    for i in range(n - 1):
        for j in range(i + 1, n):
            if not k[i, j] > 0:
                continue
            a, b = trts[i], trts[j]
            drop = {s for s, x, y in zip(c.studlab, c.treat1, c.treat2) if {x, y} == {a, b}}
            keep = np.array([s not in drop for s in c.studlab])
            if not keep.any():
                continue
            sub = c.subset(keep)
            if a not in sub.treatments or b not in sub.treatments:
                continue
            if len(components(sub.treat1, sub.treat2, sub.treatments)) > 1:
                continue
            refit = fit_contrasts(sub, sm=net.sm, reference=None, method_tau=net.method_tau
                                  if net.method_tau != "preset" else "DL",
                                  tau_preset=None, level=net.level, level_ma=net.level_ma,
                                  level_predict=net.level_predict, seq=None,
                                  small_values=None)
            est = refit.network(model)
            ia, ib = sub.treatments.index(a), sub.treatments.index(b)
            te[i, j], te[j, i] = est.estimate[ia, ib], est.estimate[ib, ia]
            se[i, j] = se[j, i] = est.se[ia, ib]
    return te, se


def netsplit(net: NetworkMetaAnalysisResult, method: str = "back-calculation") -> Netsplit:
    """Node-splitting of a fitted network (see the module docstring)."""
    code = METHODS.get(str(method).lower().replace("_", "-")) if isinstance(method, str) else None
    if code is None:
        raise InputError(f"field 'method': unknown {method!r}; choose 'back-calculation' or "
                         "'SIDDE'")
    trts = net.treatments
    n = net.n
    pairs: list[tuple[int, int]] = []
    for i in range(n - 1):
        for j in range(i + 1, n):
            pairs.append((j, i) if trts[i] == net.reference else (i, j))
    k_mat = net.pair_heterogeneity.k
    blocks: dict[str, dict[str, Any]] = {}
    props = {}
    for model in ("common", "random"):
        nma = net.network(model)
        direct = net.direct(model)
        prop = net.proportion_common if model == "common" else net.proportion_random
        if code == "Back-calculation":
            ind = net.indirect(model)
            ind_te, ind_se = np.array(ind.estimate), np.array(ind.se)
            only_direct = np.abs(prop - 1) < TOL_DIRECT
            ind_te[only_direct] = np.nan
            ind_se[only_direct] = np.nan
            ind_level = ind.level
        else:
            ind_te, ind_se = _sidde_indirect(net, model)
            ind_level = net.level_ma
        no_direct = np.abs(prop) < TOL_DIRECT
        dir_te = np.where(no_direct, np.nan, direct.estimate)
        dir_se = np.where(no_direct, np.nan, direct.se)
        rows = {"nma": (np.array([nma.estimate[p] for p in pairs]),
                        np.array([nma.se[p] for p in pairs]), net.level_ma),
                "direct": (np.array([dir_te[p] for p in pairs]),
                           np.array([dir_se[p] for p in pairs]), net.level_ma),
                "indirect": (np.array([ind_te[p] for p in pairs]),
                             np.array([ind_se[p] for p in pairs]), ind_level)}
        k0 = np.array([k_mat[p] == 0 for p in pairs])
        te_i, se_i, _ = rows["indirect"]
        te_i[k0], se_i[k0] = rows["nma"][0][k0], rows["nma"][1][k0]
        diff = rows["direct"][0] - te_i
        diff_se = np.sqrt(rows["direct"][1] ** 2 + se_i**2)
        rows["compare"] = (diff, diff_se, net.level_ma)
        for part, (te, se, lev) in rows.items():
            lower, upper, stat, p = wald(te, se, lev)
            if part == "indirect":   # rows without direct evidence: the network's interval
                nma_block = blocks[f"{model}/nma"]
                for key, arr in (("lower", lower), ("upper", upper), ("stat", stat),
                                 ("p", p)):
                    src = {"lower": "ci_lower", "upper": "ci_upper", "stat": "statistic",
                           "p": "pvalue"}[key]
                    arr[k0] = nma_block[src][k0]
            blocks[f"{model}/{part}"] = {"estimate": read_only(te), "se": read_only(se),
                                         "ci_lower": read_only(lower),
                                         "ci_upper": read_only(upper),
                                         "statistic": read_only(stat), "pvalue": read_only(p)}
        props[model] = read_only(np.array([prop[p] for p in pairs]))
    het = net.pair_heterogeneity
    direct_het = {"q": read_only(np.array([het.q[p] for p in pairs])),
                  "tau2": read_only(np.array([het.tau2[p] for p in pairs])),
                  "tau": read_only(np.sqrt(np.array([het.tau2[p] for p in pairs]))),
                  "i2": read_only(np.array([het.i2[p] for p in pairs]))}
    pred = net.prediction
    predict = {"ci_lower": read_only(np.array([pred.ci_lower[p] for p in pairs])),
               "ci_upper": read_only(np.array([pred.ci_upper[p] for p in pairs]))}
    return Netsplit(method=code, sm=net.sm, level=net.level_ma,
                    comparisons=tuple(f"{trts[a]}:{trts[b]}" for a, b in pairs),
                    treat1=tuple(trts[a] for a, _ in pairs),
                    treat2=tuple(trts[b] for _, b in pairs),
                    k=read_only(np.array([int(k_mat[p]) for p in pairs], dtype=np.int64)),
                    proportion_common=props["common"], proportion_random=props["random"],
                    _blocks=blocks, _direct_het=direct_het, _predict=predict)
