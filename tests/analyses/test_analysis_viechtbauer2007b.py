"""Viechtbauer (2007b): random-effects analysis of the St John's wort trials (Linde et al.).

Viechtbauer W (2007). Accounting for heterogeneity via random-effects models and moderator
analyses in meta-analysis. *Zeitschrift für Psychologie / Journal of Psychology* 215:104-121.

Published values as printed in Viechtbauer (2007b), pages 106, 107 and 109; located via metafor's
analysis-example tests (tests/testthat/test_analysis_example_viechtbauer2007b.r in
wviechtb/metafor).

Data: dat.linde2005 (fixture ``dat.linde2005__RR``), restricted as in the paper to rows 7-10 and
13-25 of the dataset (17 placebo-controlled trials); log relative rates (risk ratios) of
response. Compared: the 95% CIs of trials 13 and 17 of that subset (rows 21 and 25 of the
dataset; page 106), the equal-effects model (pooled relative rate with CI, Q; page 107) and the
DerSimonian-Laird random-effects model (pooled relative rate with CI, tau², and the paper's
interval for the true relative rates, exp(mu ± 1.96 tau), which ignores Var(mu) as metafor's
test notes; page 109). The paper's meta-regression on dosage and baseline severity (pages
112-113) needs the trials' dosage and duration, which the fixture does not hold, so it is not
compared.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from _data import load_data, printed, published

import metaverdict as mv

ROWS = [*range(7, 11), *range(13, 26)]   # rows of dat.linde2005 analysed in the paper
Z975 = 1.959964
AGREES_WITH_METAFOR = ("the paper prints {paper}; metafor (whose test records the paper's value) "
                       "and metaverdict both give {ours}: unresolved, probably {why}")


@cache
def fits() -> dict:
    df = load_data("dat.linde2005__RR")
    df = df[df.row_in_dataset.isin(ROWS)].reset_index(drop=True)
    es = mv.effect_sizes("RR", data=df, ai="ai", n1i="n1i", ci="ci", n2i="n2i")
    out: dict = {"ee": mv.meta_analysis(es, method="EE"), "dl": mv.meta_analysis(es, method="DL")}
    for row in (21, 25):
        i = int(np.flatnonzero(df.row_in_dataset.to_numpy() == row)[0])
        half = Z975 * np.sqrt(es.vi[i])
        out[row] = (np.exp(es.yi[i] - half), np.exp(es.yi[i] + half))
    dl = out["dl"]
    out["true_rr"] = np.exp(dl.estimate + np.array([-1.0, 1.0]) * 1.96 * np.sqrt(dl.tau2))
    return out


def rate(model: str, field: str):
    return lambda: float(np.exp(getattr(fits()[model], field)))


def item(key, i: int):
    return lambda: float(fits()[key][i])


CHECKS = [
    # 95% CIs of individual trials, page 106
    published("trial 13 ci lower p106", item(21, 0), 0.7397, 4),
    published("trial 13 ci upper p106", item(21, 1), 1.2793, 4),
    published("trial 17 ci lower p106", item(25, 0), 1.01, 2,
              xfail=AGREES_WITH_METAFOR.format(paper="1.01", ours="1.0039",
                                               why="a rounding slip in the paper")),
    published("trial 17 ci upper p106", item(25, 1), 1.5434, 4),
    # equal-effects model, page 107
    published("EE rate p107", rate("ee", "estimate"), 1.39, 2,
              xfail=AGREES_WITH_METAFOR.format(paper="1.39", ours="1.3840",
                                               why="a rounding slip in the paper")),
    published("EE ci lower p107", rate("ee", "ci_lower"), 1.2599, 4),
    published("EE ci upper p107", rate("ee", "ci_upper"), 1.5204, 4),
    published("EE Q p107", lambda: fits()["ee"].q, 55.54, 2,
              xfail=AGREES_WITH_METAFOR.format(paper="Q = 55.54", ours="51.5454",
                                               why="a typographical error in the paper")),
    # DerSimonian-Laird random-effects model, page 109
    published("DL rate p109", rate("dl", "estimate"), 1.5722, 4),
    published("DL ci lower p109", rate("dl", "ci_lower"), 1.3103, 4),
    published("DL ci upper p109", rate("dl", "ci_upper"), 1.90, 2,
              xfail=AGREES_WITH_METAFOR.format(paper="1.90", ours="1.8864",
                                               why="a rounding slip in the paper")),
    published("DL true-rate interval lower p109", item("true_rr", 0), 0.87, 2),
    published("DL true-rate interval upper p109", item("true_rr", 1), 2.83, 2),
    published("DL tau2 p109", lambda: fits()["dl"].tau2, 0.091, 3,
              xfail=AGREES_WITH_METAFOR.format(paper="0.091", ours="0.0903",
                                               why="a rounding slip in the paper")),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
