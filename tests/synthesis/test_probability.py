"""P(effect beyond the MCID) under the sceptical prior (metaverdict.synthesis.probability).

The conjugate normal posterior is checked against the exact normal-normal model of
``mv.bayesian_meta_analysis`` (bayesmeta parity, tests/models/test_bayes_parity.py) with the
answer's summary as a single study, a normal prior for mu and tau held at (almost) zero, and
against a hand computation for the bundled heel-pain answer.
"""
from __future__ import annotations

import json
import math
from typing import Any

import pytest
from markupsafe import escape
from scipy.stats import norm
from typer.testing import CliRunner

import metaverdict as mv
from metaverdict.cli import app
from metaverdict.errors import InputError
from metaverdict.evidence import open_store
from metaverdict.report.build import build_report
from metaverdict.report.render import render_html, render_markdown
from metaverdict.synthesis import (
    SkepticalPrior,
    probability_beyond_mcid,
    read_evidence,
    synthesize,
)


@pytest.mark.parametrize(("est", "lo", "hi", "mcid", "tail"), [
    (0.6, 0.2, 1.0, 0.5, 0.05), (-0.3, -1.1, 0.5, 0.5, 0.05), (14.4, 5.2, 23.5, 19.0, 0.10),
    (2.0, 1.5, 2.5, 1.0, 0.25)])
def test_conjugate_posterior_matches_the_exact_normal_normal_model(
        est: float, lo: float, hi: float, mcid: float, tail: float) -> None:
    p = probability_beyond_mcid(est, lo, hi, mcid, SkepticalPrior(tail))
    se = (hi - lo) / (2 * norm.ppf(0.975))
    s0 = mcid / norm.ppf(1 - tail)
    post = mv.bayesian_meta_analysis([est], [se**2], tau_prior="half-normal", tau_scale=1e-9,
                                     mu_prior=(0.0, s0))
    benefit = post.probability_beyond(mcid, "benefit", lower_is_better=False)
    harm = post.probability_beyond(mcid, "harm", lower_is_better=False)
    assert p.benefit == pytest.approx(benefit, rel=1e-6, abs=1e-12)
    assert p.harm == pytest.approx(harm, rel=1e-6, abs=1e-12)
    assert p.within == pytest.approx(post.probability_within(mcid), rel=1e-6, abs=1e-12)
    assert p.benefit + p.harm + p.within == pytest.approx(1.0, abs=1e-12)


def test_prior_holds_the_stated_tail_probability() -> None:
    prior = SkepticalPrior(0.05)
    # P(mu > MCID) under N(0, s0^2) is the stated 5%
    assert norm.sf(0.5, 0.0, prior.sd(0.5)) == pytest.approx(0.05, rel=1e-12)
    assert "5%" in prior.describe()


@pytest.mark.parametrize("tail", [0.0, 0.5, -0.1, 1.0, float("nan"), "0.05"])
def test_bad_prior_is_an_input_error(tail: Any) -> None:
    with pytest.raises(InputError, match="tail"):
        SkepticalPrior(tail)


@pytest.mark.parametrize(("args", "field"), [
    ((float("nan"), 0.1, 0.2, 0.5), "estimate"), ((0.1, 0.3, 0.2, 0.5), "ci_lower"),
    ((0.1, 0.0, 0.2, 0.0), "mcid"), ((0.1, 0.0, float("inf"), 0.5), "ci_upper")])
def test_bad_numbers_are_input_errors(args: tuple[float, ...], field: str) -> None:
    with pytest.raises(InputError, match=field):
        probability_beyond_mcid(*args)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = "sqlite:///" + str(tmp_path_factory.mktemp("prob") / "e.sqlite")
    with open_store(url) as store:
        return read_evidence(store)


def test_bundled_heel_pain_answer_carries_its_probability(evidence: Any) -> None:
    dn = synthesize(evidence, "dry needling")
    a = next(a for a in dn.answers if a.question.condition == "plantar heel pain"
             and a.question.outcome == "pain" and a.question.comparator_class == "sham")
    # cotchett2014: "VAS first-step pain=-14.4 mm, 95% CI -23.5 to -5.2", MID 19 mm (lower
    # pain is better, so 14.4 on the benefit scale). By hand: se = 18.3 / 3.91993 = 4.66846,
    # prior sd 19 / 1.644854 = 11.55117; posterior precision 1/4.66846^2 + 1/11.55117^2 =
    # 0.0458832 + 0.0074946 = 0.0533778; mean 14.4 * 0.0458832 / 0.0533778 = 12.3782, sd
    # 4.32832; P(> 19) = P(z > 1.52990) = 0.06302.
    assert a.probability is not None
    assert a.probability.benefit == pytest.approx(0.06302, abs=2e-5)
    d = a.to_dict()
    assert d["probability_beyond_mcid"] == pytest.approx(a.probability.benefit)
    assert d["probability"]["prior_tail"] == 0.05
    flat = synthesize(evidence, "dry needling", prior=SkepticalPrior(0.4))
    b = next(x for x in flat.answers if x.question == a.question)
    assert b.probability is not None and b.probability.benefit > a.probability.benefit


def test_only_md_and_smd_with_a_ci_and_an_mcid_get_a_probability(evidence: Any) -> None:
    seen = 0
    for term in ("dry needling", "PRP", "corticosteroid injection"):
        for a in synthesize(evidence, term).answers:
            body = a.chosen.body if a.chosen else None
            expected = bool(body and body.measure in ("MD", "SMD") and body.estimate is not None
                            and body.ci_lower is not None and body.ci_upper is not None
                            and body.lower_is_better is not None and a.chosen.mcid is not None)
            assert (a.probability is not None) == expected, a.question.describe()
            seen += expected
            if a.probability is not None:
                assert math.isclose(a.probability.benefit + a.probability.harm
                                    + a.probability.within, 1.0, abs_tol=1e-12)
    assert seen >= 20


def test_report_shows_the_column_beside_the_certainty(evidence: Any) -> None:
    doc = build_report(evidence, ["dry needling"])
    html, md = render_html(doc), render_markdown(doc)
    assert ">P(beyond MCID)</th>" in html and "| P(beyond MCID) |" in md
    assert "sceptical prior" in doc.probability_note and str(escape(doc.probability_note)) in html
    row = next(r for p in doc.parts for g in p.bottom_line for r in g.rows if r.probability)
    assert str(escape(row.probability_short)) in html and str(escape(row.probability)) in html


def test_cli_prior_tail_option(tmp_path: Any) -> None:
    db = "sqlite:///" + str(tmp_path / "e.sqlite")
    r = CliRunner().invoke(app, ["answer", "dry needling", "--db", db, "--json",
                                 "--prior-tail", "0.2"])
    assert r.exit_code == 0, r.output
    probs = [a["probability"] for a in json.loads(r.stdout) if a["probability"]]
    assert probs and all(p["prior_tail"] == 0.2 for p in probs)
    bad = CliRunner().invoke(app, ["answer", "dry needling", "--db", db, "--prior-tail", "0.7"])
    assert bad.exit_code == 2 and "--prior-tail" in bad.output
    assert "Traceback" not in bad.output
