"""The report's header states the truth about simulated data: "Nothing is simulated." only when
no included source is simulated; otherwise a warning naming the simulated sources, which are
labelled SIMULATED wherever the report names them (references, bottom line, details)."""
from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metaverdict.evidence import open_store
from metaverdict.evidence.io import import_rows
from metaverdict.report.build import build_report
from metaverdict.report.document import ReportDocument
from metaverdict.report.render import render_html, render_markdown
from metaverdict.synthesis import read_evidence

from conftest import evidence_row  # noqa: E402

DN = "dry needling"
SIM = ("sim2026", "simreview")


row = evidence_row


ROWS = [row("real2020", "4 weeks", -1.5), row("real2020", "6 months", -0.2),
        row("realreview", "short term", -0.5, design="meta-analysis", certainty="GRADE low"),
        row("sim2026", "4 weeks", -3.0, simulated="true", citation="SIMULATED: a trial"),
        row("sim2026", "12 months", 2.0, simulated="true", citation="SIMULATED: a trial"),
        row("simreview", "short term", -2.5, design="meta-analysis", simulated="true",
            citation="SIMULATED: a review", certainty="GRADE high")]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('simreport') / 'e.sqlite'}"
    with open_store(url, seed=False) as st:
        import_rows(st, ROWS)
        yield st


@pytest.fixture(scope="module")
def with_sim(store: Any) -> ReportDocument:
    return build_report(read_evidence(store, include_simulated=True), [DN])


@pytest.fixture(scope="module")
def without(store: Any) -> ReportDocument:
    return build_report(store, [DN])          # a store is read with the default: left out


def _visible(page: str) -> str:
    page = re.sub(r"<svg.*?</svg>|<style.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _unlabelled(text: str, keys: tuple[str, ...] = SIM) -> list[str]:
    """Places where a simulated key is named neither as ``key (SIMULATED)`` (or with a
    SIMULATED badge, or ``key: SIMULATED: citation``) nor in a sentence about SIMULATED
    sources."""
    out = []
    for key in keys:
        for m in re.finditer(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text):
            if re.match(r"`?\s*\**(\(SIMULATED\)|SIMULATED|: SIMULATED)", text[m.end():]):
                continue                         # key (SIMULATED), key SIMULATED (a badge)
            start = max(text.rfind("\n", 0, m.start()), text.rfind(". ", 0, m.start()))
            if "SIMULATED" not in text[start + 1:m.start()]:
                out.append(text[max(0, m.start() - 60):m.end() + 20])
    return out


def test_header_without_simulated_sources(without: ReportDocument) -> None:
    assert without.simulated.startswith("Nothing is simulated")
    assert without.simulated_sources == () and without.simulated_left_out == SIM
    assert "left out of this report" in without.simulated       # and says what was left out
    page = render_html(without)
    summary = page[page.index('id="provenance-details"'):page.index('id="provenance"')]
    assert "Nothing is simulated." in summary and "SIMULATED data included" not in summary
    assert 'class="box ok" id="simulated"' in page and 'id="simulated-warning"' not in page
    assert all(r.key not in SIM for r in without.references)
    md = render_markdown(without)
    assert "Nothing is simulated" in md and "SIMULATED data included" not in md


def test_header_with_simulated_sources(with_sim: ReportDocument) -> None:
    assert with_sim.simulated_keys == SIM
    assert [s.split(":")[0] for s in with_sim.simulated_sources] == list(SIM)
    assert "Nothing is simulated" not in with_sim.simulated
    assert with_sim.simulated.startswith("WARNING: this report includes SIMULATED data")
    assert all(k in with_sim.simulated for k in SIM)
    page = render_html(with_sim)
    summary = page[page.index('id="provenance-details"'):page.index('id="provenance"')]
    assert "Nothing is simulated" not in page
    assert "SIMULATED data included: 2 source(s) (sim2026, simreview)" in summary
    assert 'class="box warn" id="simulated"' in page and 'id="simulated-warning"' in page
    md = render_markdown(with_sim)
    assert "Nothing is simulated" not in md
    assert md.splitlines()[2].startswith("> ⚠ **SIMULATED data included.** 2 sources")


def test_every_place_that_names_a_simulated_source_says_so(with_sim: ReportDocument,
                                                           tmp_path: Path) -> None:
    refs = {r.key: r for r in with_sim.references}
    assert {k for k, r in refs.items() if r.simulated} == set(SIM)
    assert refs["sim2026"].name == "sim2026 (SIMULATED)" and refs["real2020"].name == "real2020"
    part = with_sim.parts[0]
    sources = {r.term: r.source for g in part.bottom_line for r in g.rows}
    assert sources["short term (up to 3 months)"] == "simreview (SIMULATED)"
    assert sources["4 weeks"] == "real2020+sim2026 (SIMULATED)"
    assert sources["6 months"] == "real2020"
    short = next(r for r in part.answers if r.term.startswith("short"))
    assert short.simulated and short.others[0].startswith("realreview: ")
    sim_findings = [f for f in part.findings if set(f.sources) & set(SIM)]
    assert sim_findings and all(f.simulated and any("(SIMULATED)" in n for n in f.source_names)
                                for f in sim_findings)
    page = render_html(with_sim)
    assert _unlabelled(_visible(page)) == []
    assert re.search(r'<span class="key">sim2026</span> <span class="flag">SIMULATED</span>',
                     page)
    md = render_markdown(with_sim)
    assert _unlabelled(md) == []
    assert "`sim2026` **SIMULATED** SIMULATED: a trial" in md
    assert "| real2020+sim2026 (SIMULATED) |" in md
    for fig in with_sim.figures:
        assert _unlabelled(fig.caption) == []


def test_real_sources_are_never_labelled(with_sim: ReportDocument) -> None:
    page = _visible(render_html(with_sim))
    assert "real2020 (SIMULATED)" not in page and "realreview (SIMULATED)" not in page
