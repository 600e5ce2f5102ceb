"""Simulated sources are left out of the evidence unless asked; when asked for, every answer
that names one says so (``simulated`` in the JSON, ``(SIMULATED)`` in the tables)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from metaverdict.evidence import open_store
from metaverdict.evidence.bundled import add_included_trials
from metaverdict.evidence.io import import_rows
from metaverdict.evidence.models import Opinion, Source, Treatment
from metaverdict.synthesis import answers, answers_table, read_evidence, synthesize

from conftest import evidence_row  # noqa: E402

DN = "dry needling"


row = evidence_row


REAL = [row("real2020", "4 weeks", -1.5), row("real2020", "6 months", -0.2)]
SIMULATED = [row("sim2026", "4 weeks", -3.0, simulated="true",
                 citation="SIMULATED: a simulated trial"),
             row("sim2026", "12 months", 2.0, simulated="true",
                 citation="SIMULATED: a simulated trial")]
SIM_REVIEW = [row("simreview", "short term", -2.5, design="meta-analysis", simulated="true",
                  citation="SIMULATED: a review", certainty="GRADE high"),
              row("realreview", "short term", -0.5, design="meta-analysis",
                  certainty="GRADE low")]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('sim') / 'e.sqlite'}"
    with open_store(url, seed=False) as st:
        import_rows(st, REAL + SIMULATED + SIM_REVIEW)
        with st.transaction() as s:
            add_included_trials(s, [{"review_source_id": "simreview", "trial": "sim2026",
                                     "trial_year": "2026", "complete": "true",
                                     "location": "made up"}])
            src = s.query(Source).filter_by(key="simreview").one()
            dn = s.query(Treatment).filter_by(term=DN).one()
            s.add(Opinion(source=src, expert="Dr Sim", claim="It works.", treatment=dn,
                          evidence_level="opinion"))
        yield st


def test_left_out_by_default(store: Any) -> None:
    ev = read_evidence(store)
    assert {r.source_id for r in ev.rows} == {"real2020", "realreview"}
    assert list(ev.sources()["key"]) == ["real2020", "realreview"]
    assert ev.opinions() == [] and ev.included_trials() == []
    assert ev.left_out == ("sim2026", "simreview") and ev.simulated_sources == ()
    assert not ev.include_simulated


def test_kept_when_asked(store: Any) -> None:
    ev = read_evidence(store, include_simulated=True)
    assert {r.source_id for r in ev.rows} == {"real2020", "sim2026", "simreview", "realreview"}
    assert ev.simulated_sources == ("sim2026", "simreview") and ev.left_out == ()
    assert [o.expert for o in ev.opinions()] == ["Dr Sim"] and ev.opinions()[0].simulated
    assert [t.review for t in ev.included_trials()] == ["simreview"]
    assert ev.sources().set_index("key")["simulated"].to_dict() == {
        "real2020": False, "sim2026": True, "simreview": True, "realreview": False}


def test_answers_without_simulated_sources_are_those_of_the_real_evidence(store: Any,
                                                                           tmp_path: Any) -> None:
    with open_store(f"sqlite:///{tmp_path / 'real.sqlite'}", seed=False) as real:
        import_rows(real, REAL + SIM_REVIEW[1:])
        want = [a.to_dict() for a in answers(DN, store=real)]
    got = [a.to_dict() for a in answers(DN, store=store)]
    assert got == want
    assert not any(a["simulated"] for a in got)


def test_simulated_answers_say_so(store: Any) -> None:
    synth = synthesize(read_evidence(store, include_simulated=True), DN)
    by_term = {(a.question.outcome, a.question.term): a for a in synth.answers}
    # the reviews answer "short term": the simulated one (GRADE high) beats the real (low)
    short = by_term[("pain", "short")]
    assert short.source_id == "simreview" and short.simulated
    assert short.source_name == "simreview (SIMULATED)"
    d = short.to_dict()
    assert d["simulated"] is True and d["simulated_sources"] == ["simreview"]
    assert [(o["id"], o["simulated"]) for o in d["other_sources"]] == [("realreview", False)]
    # the two trials measured at 4 weeks (their own visits) are pooled here: the simulated
    # one is named as such, the real one is not
    weeks = by_term[("pain", "4 weeks")]
    assert weeks.source_id == "real2020+sim2026" and weeks.simulated_sources == ("sim2026",)
    assert weeks.source_name == "real2020+sim2026 (SIMULATED)"
    medium = by_term[("pain", "6 months")]                    # only the real trial
    assert medium.source_id == "real2020" and medium.to_dict()["simulated"] is False
    assert medium.source_name == "real2020"
    long = by_term[("pain", "12 months")]                     # only the simulated trial
    assert long.source_id == "sim2026" and long.simulated
    table = answers_table(synth.answers)
    assert "sim2026 (SIMULATED)" in table and "simreview (SIMULATED)" in table
    assert "real2020 (SIMULATED)" not in table and "realreview (SIMULATED)" not in table
    assert "sim2026 (SIMULATED)" in long.summary()
    assert "realreview (" in short.summary() and "SIMULATED" not in medium.summary()
