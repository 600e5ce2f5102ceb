"""DerSimonian & Kacker (2007): tau², mu and SE by eleven estimators on the CLASP trials, among
them the two-step estimators CA2 and DL2, random-effects fits with a fixed tau².

DerSimonian R, Kacker R (2007). Random-effects model for meta-analysis of clinical trials: an
update. *Contemporary Clinical Trials* 28:105-114.

Published values as printed in DerSimonian & Kacker (2007), Tables 3 and 4 (pages 111-112):
tau (the square root of tau²), mu (the pooled log odds ratio) and its SE, 4 decimals, for the
Paule-Mandel (PM), Cochran-ANOVA (CA, metafor "HE"), DerSimonian-Laird (DL), two-step CA2 and
DL2, empirical Bayes (EB), ML, REML, Hunter-Schmidt (HS) and Sidik-Jonkman (SJ, and SJ2 started
at the CA estimate) estimators.

Source of the numbers, stated plainly: the article's full text was not available here. The data
and the values were taken from metafor's analysis-example test
(tests/testthat/test_analysis_example_dersimonian2007.r in wviechtb/metafor), which types the
CLASP counts and attributes the values to "results on page 111-112 (Tables 3 and 4)" of the
article; that file is a secondary source. No value here comes from running metaverdict or
metafor.

The two-step estimators (the feature under test): CA2 and DL2 are generalised-Q (method of
moments) estimates with weights 1/(v_i + tau²_CA) and 1/(v_i + tau²_DL); mu and its SE are
then those of the random-effects model with tau² fixed at that value
(``meta_analysis(..., tau2=...)``, metafor ``rma(yi, vi, tau2=...)``).

Data: the CLASP trials (aspirin and pre-eclampsia), six 2x2 tables typed below; log odds
ratios with the usual large-sample variances (no zero cells).
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from _data import printed, published

import metaverdict as mv

N1 = [156, 303, 565, 1570, 103, 4659]
N2 = [74, 303, 477, 1565, 105, 4650]
A = [5, 5, 12, 69, 9, 313]
C = [8, 17, 9, 94, 11, 352]


@cache
def fits() -> dict[str, mv.MetaAnalysisResult]:
    es = mv.effect_sizes("OR", ai=A, n1i=N1, ci=C, n2i=N2)
    y, v = np.asarray(es.yi), np.asarray(es.vi)
    out = {name: mv.meta_analysis(y, v, method=method)
           for name, method in (("PM", "PM"), ("CA", "HE"), ("DL", "DL"), ("EB", "EB"),
                                ("ML", "ML"), ("REML", "REML"), ("HS", "HS"), ("SJ", "SJ"))}
    for two_step, first in (("CA2", "CA"), ("DL2", "DL")):
        genq = mv.meta_analysis(y, v, method="GENQ", weights=1 / (v + out[first].tau2))
        out[two_step] = mv.meta_analysis(y, v, tau2=genq.tau2)
    return out


#: Tables 3 and 4 (pp. 111-112): tau, mu, se per estimator, 4 decimals
TABLE = {
    "PM": (0.3681, -0.3811, 0.2060), "CA": (0.4410, -0.4035, 0.2327),
    "DL": (0.2323, -0.3240, 0.1540), "CA2": (0.3831, -0.3861, 0.2115),
    "DL2": (0.3254, -0.3655, 0.1901), "EB": (0.3681, -0.3811, 0.2060),
    "ML": (0.0023, -0.1974, 0.0694), "REML": (0.1843, -0.2980, 0.1343),
    "HS": (0.1330, -0.2666, 0.1125),
}
# SJ and SJ2 (SJ started at the CA estimate) are printed too; SJ2 needs a user-set starting
# value, which metaverdict's SJ does not take, so only SJ is compared
TABLE_SJ = (0.4572, -0.4079, 0.2386)


def _getter(name: str, what: str):
    def value() -> float:
        res = fits()[name]
        return {"tau": float(np.sqrt(res.tau2)), "mu": res.estimate, "se": res.se}[what]
    return value


#: The ML likelihood of these data is maximal at tau² = 0 (metafor with threshold=1e-13 gives
#: tau = 8.5e-8, mu = -0.1973470, as metaverdict); the printed tau = 0.0023 and mu = -0.1974
#: are where Fisher scoring stops under metafor's default threshold of 1e-5 (tau 0.00228,
#: mu -0.19738), so metaverdict does not reproduce those two numbers.
ML_XFAIL = ("the printed ML tau and mu are a loosely converged Fisher-scoring iterate; the "
            "maximum is at tau² = 0 (metafor agrees at tight convergence)")

CHECKS = [published(f"{name} {what} Tables3-4 p111-112", _getter(name, what), expected, 4,
                    xfail=ML_XFAIL if name == "ML" and what in ("tau", "mu") else None)
          for name, row in (*TABLE.items(), ("SJ", TABLE_SJ))
          for what, expected in zip(("tau", "mu", "se"), row)]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)


def test_two_step_fits_keep_tau2_fixed():
    for name in ("CA2", "DL2"):
        assert fits()[name].fit_statistics.aic_reml == pytest.approx(
            -2 * fits()[name].fit_statistics.ll_reml + 2)          # mu only: tau² not counted
