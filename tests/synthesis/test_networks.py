"""Networks of active comparisons (metaverdict.synthesis.networks) on hand-made evidence.

Expected network estimates are derived by hand in the comments (inverse-variance combination
of the direct and the indirect evidence of a triangle), not read off the code.
"""
from __future__ import annotations

import math
from typing import Any

import pytest
from markupsafe import escape
from test_answers import DN, row  # the hand-made row builder of the answers tests

from metaverdict.evidence import open_store
from metaverdict.evidence.io import import_rows
from metaverdict.report.build import build_report
from metaverdict.report.render import render_html, render_markdown
from metaverdict.synthesis import read_evidence, synthesize
from metaverdict.synthesis.networks import active_networks

EX, MT = "exercise therapy", "manual therapy"


def active(source: str, year: int, est: float, lo: float, hi: float, *,
           treatment: str = DN, comparator: str, **kw: Any) -> dict[str, str]:
    return row(source, year, treatment=treatment, comparator="other-active",
               comparator_name=comparator, estimate=est, ci_lower=lo, ci_upper=hi, **kw)


def networks(rows: list[dict[str, str]], treatment: str = DN) -> Any:
    with open_store("sqlite://", seed=False) as store:
        import_rows(store, rows)
        ev = read_evidence(store)
    answers = [a for t in (DN, EX) for a in synthesize(ev, t).answers] if any(
        r["treatment"] == EX for r in rows) else list(synthesize(ev, DN).answers)
    return active_networks(answers, treatment), ev


# pain SMDs (lower is better), all with 95% CI half-width 0.4, i.e. se = 0.4 / 1.959964
TRIANGLE = [active("r1", 2020, -0.5, -0.9, -0.1, comparator=MT),
            active("r2", 2021, -0.2, -0.6, 0.2, comparator=EX),
            active("r3", 2022, -0.4, -0.8, 0.0, treatment=EX, comparator=MT),
            active("r4", 2022, -0.4, -0.8, 0.0, comparator="other treatments")]


def test_a_coherent_triangle_is_networked_and_ranked() -> None:
    res, _ = networks(TRIANGLE)
    (net,) = res.networks
    assert set(net.treatments) == {DN, EX, MT} and net.measure == "SMD"
    # benefit scale: DN vs MT +0.5 direct; indirect DN vs EX + EX vs MT = 0.2 + 0.4 = 0.6 with
    # twice the variance; Q = 0.1^2 / (3 se^2) = 0.08 < 1 df, so tau^2 = 0 and the mixed
    # estimate is (0.5 * 2 + 0.6) / 3 = 0.5333
    league = net.fit.league(model="random")
    i, j = league.seq.index(MT), league.seq.index(DN)
    assert league.estimate[i, j] == pytest.approx(1.6 / 3, abs=1e-6)
    assert net.fit.tau2 == pytest.approx(0.0, abs=1e-8)
    assert net.rankable and net.ranking[0][0] == DN
    assert "no node-split with P < 0.10" in " ".join(net.caveats)
    # the bucket "other treatments" is not a node, and says why
    assert any("other treatments" in e and "group of different treatments" in e
               for e in res.excluded)


def test_an_incoherent_triangle_is_not_ranked() -> None:
    rows = [TRIANGLE[0], TRIANGLE[1],
            active("r3", 2022, 0.8, 0.4, 1.2, treatment=EX, comparator=MT)]
    # benefit scale: direct EX vs MT -0.8, indirect DN vs MT - DN vs EX = 0.5 - 0.2 = 0.3;
    # z = 1.1 / (se sqrt(3)) with se = 0.4 / 1.959964 = 0.20409: z = 3.112, P = 0.00186
    (net,) = networks(rows)[0].networks
    assert not net.rankable and net.ranking == ()
    assert net.verdict.startswith("too thin to rank: direct and indirect evidence disagree")
    assert any(c.startswith("incoherence:") and "common effects: P = 0.002" in c
               for c in net.caveats)


def test_a_star_is_too_thin_to_rank() -> None:
    rows = [TRIANGLE[0], TRIANGLE[1]]
    res, _ = networks(rows)
    (net,) = res.networks
    assert not net.rankable
    assert "no closed loop" in net.verdict
    assert "incoherence: cannot be checked (no closed loop)" in net.caveats
    assert any(c.startswith("heterogeneity: one source per comparison") for c in net.caveats)
    # indirect EX vs MT = DN vs MT - DN vs EX = 0.5 - 0.2 = 0.3 (benefit of EX over MT)
    league = net.fit.league(model="random")
    i, j = league.seq.index(MT), league.seq.index(EX)
    assert league.estimate[i, j] == pytest.approx(0.3, abs=1e-9)


def test_a_single_comparison_and_unusable_ones_stand_alone() -> None:
    rows = [TRIANGLE[0], active("r5", 2020, -1.0, -2.0, 0.0, comparator=EX,
                                effect_measure="MD")]
    res, _ = networks(rows)
    assert res.networks == () and res.statement.startswith("No network")
    assert len(res.single) == 1 and MT in res.single[0]
    assert any("unreported scale" in e for e in res.excluded)


def test_report_renders_the_league_table_and_caveats() -> None:
    with open_store("sqlite://", seed=False) as store:
        import_rows(store, TRIANGLE)
        doc = build_report(read_evidence(store), [DN, EX])
    html, md = render_html(doc), render_markdown(doc)
    part = doc.parts[0]
    assert part.network is not None and len(part.network.networks) == 1
    view = part.network.networks[0]
    assert view.league[0][1:] and all(len(r) == len(view.league[0]) for r in view.league)
    assert "Against other active treatments: network" in html
    assert '<table class="league">' in html
    assert str(escape(view.verdict[:1].upper() + view.verdict[1:40])) in html
    assert "### Against other active treatments: network" in md
    assert not math.isnan(float(view.league[2][1].split(" ")[0]))


def test_bundled_report_says_plainly_there_is_no_network(tmp_path: Any) -> None:
    with open_store("sqlite:///" + str(tmp_path / "e.sqlite")) as store:
        doc = build_report(read_evidence(store), [DN])
    section = doc.parts[0].network
    assert section is not None and section.networks == ()
    assert section.statement.startswith("No network: the stored direct comparisons of dry "
                                        "needling with named active treatments do not connect")
    assert any("wet needling" in s for s in section.single + section.excluded)


def test_a_bucket_does_not_come_back_under_another_treatment() -> None:
    # "other therapies incl. physiotherapy" is a bucket; the exercise-therapy synthesis reads
    # the same stored result as "exercise therapy vs dry needling" (physiotherapy is an alias),
    # which must not make exercise therapy a node (the bundled liu2015 row did, before)
    rows = [active("r1", 2020, -0.5, -0.9, -0.1, comparator="wet needling"),
            active("r2", 2021, 0.6, 0.0, 1.2, comparator="other therapies incl. physiotherapy"),
            active("r3", 2022, -0.4, -0.8, 0.0, treatment=EX, comparator=MT)]
    res, _ = networks(rows)
    assert res.networks == ()
    assert any("other therapies incl. physiotherapy" in e for e in res.excluded)
    assert len(res.single) == 1 and "wet needling" in res.single[0]


def test_a_group_comparator_is_not_mirrored_as_one_treatment(tmp_path: Any) -> None:
    # bundled liu2015: dry needling vs "other therapies incl. physiotherapy" (SMD 0.62); the
    # exercise-therapy answers must not read it as exercise therapy vs dry needling
    with open_store("sqlite:///" + str(tmp_path / "e.sqlite")) as store:
        ev = read_evidence(store)
    ex = synthesize(ev, "exercise therapy")
    assert not any(a.source_id == "liu2015" for a in ex.answers)
