"""The evidence report renders the synthesis: sections, data-derived content, HTML and
Markdown output.

These tests check the plumbing (every verdict, answer, claim part and quote reaches the page)
against the API's values; what the answers *say* is tested on hand-made evidence in
tests/synthesis/test_answers.py and on the bundled evidence in tests/analyses/.
"""
from __future__ import annotations

import html
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from metaverdict.evidence import open_store
from metaverdict.report.build import build_report
from metaverdict.report.document import ReportDocument, slug
from metaverdict.report.render import figures_dir, render_html, write_report
from metaverdict.synthesis import article_claims, assess, check_claims, read_evidence, synthesize
from metaverdict.synthesis.bodies import verification

DN = "dry needling"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("report") / "e.sqlite"
    with open_store("sqlite:///" + str(path)) as s:
        yield s


@pytest.fixture(scope="module")
def dn_doc(store: Any) -> ReportDocument:
    return build_report(store, [DN])


@pytest.fixture(scope="module")
def dn_html(dn_doc: ReportDocument, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("html") / "report.html"
    assert write_report(dn_doc, out) == [out]
    return out.read_text(encoding="utf-8")


class _Collector(HTMLParser):
    """Ids (outside SVG), links, and visible text outside SVG/style."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self._skip = 0
        self._svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self._svg += 1
        if tag in ("svg", "style"):
            self._skip += 1
        if self._svg == 0 and a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("svg", "style"):
            self._skip -= 1
        if tag == "svg":
            self._svg -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _parse(page: str) -> _Collector:
    c = _Collector()
    c.feed(page)
    c.close()
    return c


def _esc(text: str) -> str:
    """``text`` as the page's templates escape it (quotes included)."""
    return str(escape(text))


def _section(page: str, element_id: str) -> str:
    """The markup from the element with ``id`` (and its own heading) to the next heading."""
    start = page.index(f'id="{element_id}"')
    body = page.index(">", start) + 1
    heading = re.compile(r"\s*<h[23][ >].*?</h[23]>", re.S).match(page, body)   # its own title
    end = re.compile(r"<h[23][ >]").search(page, heading.end() if heading else body)
    return page[start:end.start() if end else len(page)]


def test_page_is_self_contained_and_ids_unique(dn_html: str) -> None:
    parsed = _parse(dn_html)
    assert not re.search(r"<script|<link\b|src=\"https?:", dn_html)
    dupes = [i for i, n in Counter(parsed.ids).items() if n > 1]
    assert dupes == []
    for needed in ("provenance", "simulated", "secondary", "claims", "claims-table",
                   "references", f"{slug(DN)}-sof-table", f"{slug(DN)}-not-shown",
                   f"{slug(DN)}-opinions"):
        assert needed in parsed.ids


def test_no_nan_or_none_leaks(dn_html: str) -> None:
    text = " ".join(_parse(dn_html).text)
    assert not re.search(r"\b(nan|NaN|None|null)\b", text), \
        re.search(r".{40}\b(nan|NaN|None|null)\b.{40}", text)


def test_header_states_source_simulation_and_secondary_rows(store: Any, dn_html: str) -> None:
    box = dn_html[dn_html.index('id="provenance"'):dn_html.index('id="legend"')]
    assert "Nothing is simulated" in box
    assert f"{store.counts()['results']} results" in box
    secondary = {r.source_id for r in store.results(treatment=DN)
                 if any("secondary summary" in x for x in verification(r))}
    assert secondary                                   # gattie2017 for dry needling
    for key in secondary:
        assert key in box


def test_summary_of_findings_has_every_verdict(store: Any, dn_html: str) -> None:
    a = assess(store, DN)
    rows = re.findall(r'<tr class="finding" data-category="([^"]+)"', dn_html)
    assert Counter(html.unescape(r) for r in rows) == Counter(v.category for v in a)
    for v in a:
        assert _esc(v.statement) in dn_html


def test_section_per_condition(store: Any, dn_doc: ReportDocument, dn_html: str) -> None:
    conditions = sorted({v.claim.condition for v in assess(store, DN)})
    assert [s.condition for s in dn_doc.parts[0].sections] == conditions
    for c in conditions:
        assert f'id="{slug(DN, c)}"' in dn_html
    # every condition with a stored estimate gets a summary-estimates plot (inline SVG)
    with_estimates = {v.claim.condition for v in assess(store, DN)
                      if v.body is not None and v.body.estimate is not None}
    for c in with_estimates:
        fig = f'<figure id="fig-{slug(DN, c)}-summary">'
        assert fig in dn_html and "<svg" in dn_html.split(fig, 1)[1][:400]


def test_marathon_time_course_is_inline_svg(dn_doc: ReportDocument, dn_html: str) -> None:
    fid = f"fig-{slug(DN, 'post-marathon muscle soreness', 'pain')}-time-course"
    tc = [t for t in dn_doc.parts[0].time_courses if t.figure.id == fid]
    assert tc, [t.figure.id for t in dn_doc.parts[0].time_courses]
    start = dn_html.index(f'<figure id="{fid}"')
    block = dn_html[start:dn_html.index("</figure>", start)]
    assert "<svg" in block and "</svg>" in block
    assert "measured but the source reports no result" in block and "cushman2021" in block
    for gap in tc[0].gaps:
        assert _esc(gap) in dn_html


def test_claim_check_table_matches_check_claims(store: Any, dn_html: str) -> None:
    claims = article_claims()
    checks = check_claims(claims, store)
    table = _section(dn_html, "claims-table")
    for c in checks:
        assert f'data-claim-id="{c.claim.id}" data-status="{c.status}"' in table
        for part in c.holds + c.fails + c.not_assessable:
            assert _esc(part) in table
    assert "goes beyond the stored data" in table


def test_bottom_line_renders_every_answer(store: Any, dn_doc: ReportDocument,
                                          dn_html: str) -> None:
    synth = synthesize(read_evidence(store), DN)
    part = dn_doc.parts[0]
    assert len(part.answers) == len(synth.answers)
    for a, row in zip(synth.answers, part.answers):
        assert row.headline == a.headline and row.verdict == a.verdict
        assert f'id="{row.anchor}"' in dn_html
    shown = [r for g in part.bottom_line for r in g.rows]
    assert shown and all(_esc(r.headline) in dn_html for r in shown)
    # no tallies of verdict rows anywhere
    assert not re.search(r"\d+ × (important|inconclusive|benefit|harm)", dn_html)
    # adverse events always have a row; pain and function vs sham always have rows
    titles = [g.title for g in part.bottom_line]
    assert any(t.startswith("Adverse events") for t in titles)
    for t in ("Pain vs sham or placebo, up to 3 months", "Function vs sham or placebo, up to 3 "
              "months", "Function vs sham or placebo, beyond 3 months"):
        assert t in titles


def test_not_shown_and_opinions(store: Any, dn_html: str) -> None:
    a = assess(store, DN)
    block = _section(dn_html, f"{slug(DN)}-not-shown")
    for s in a.not_shown:
        assert _esc(s) in block
    opinions = _section(dn_html, f"{slug(DN)}-opinions")
    for o in a.opinions:
        assert _esc(o.claim) in opinions
        if o.trial_results == 0:
            assert "unsupported: no trial evidence" in opinions


def test_references_link_every_doi_and_quote(store: Any, dn_html: str) -> None:
    hrefs = set(_parse(dn_html).hrefs)
    rows = store.results(treatment=DN)
    for doi in {r.doi for r in rows if r.doi}:
        assert f"https://doi.org/{doi}" in hrefs
    refs = _section(dn_html, "references")
    for r in rows:
        if r.verbatim_quote:
            assert _esc(r.verbatim_quote) in refs
    assert "<details>" in refs and "<summary>" in refs


def test_markdown_report_writes_figures(dn_doc: ReportDocument, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    written = write_report(dn_doc, out)
    assert written[0] == out and len(written) == 1 + len(dn_doc.figures)
    text = out.read_text(encoding="utf-8")
    folder = figures_dir(out)
    for fig in dn_doc.figures:
        assert (folder / f"{fig.id}.svg").read_text().startswith("<?xml")
        assert f"]({folder.name}/{fig.id}.svg)" in text
    for c in dn_doc.claims:
        assert re.search(rf"^\| {re.escape(c.id)} \|.*\*\*{re.escape(c.status)}\*\*", text, re.M)
    assert "## Claim check" in text and "## References" in text
    assert not re.search(r"\b(nan|NaN|None)\b", text)
    for ref in dn_doc.references:
        if ref.doi:
            assert f"(https://doi.org/{ref.doi})" in text


def test_prp_report(store: Any) -> None:
    doc = build_report(store, ["PRP"])
    assert [p.treatment for p in doc.parts] == ["platelet-rich plasma injection"]
    page = render_html(doc)
    a = assess(store, "platelet-rich plasma injection")
    assert len(re.findall(r'<tr class="finding"', page)) == len(a)
    assert doc.claims == () and "metaverdict claims check" in page     # no PRP claims on file
    keys = {r.key for r in doc.references}
    assert keys == {r.source_id for r in store.results(treatment="PRP")}
    assert "cushman2021" not in keys
    assert not re.search(r"\b(nan|None)\b", " ".join(_parse(page).text))


def test_unknown_treatment_lists_available(store: Any) -> None:
    from metaverdict import InputError
    with pytest.raises(InputError, match="available: .*dry needling"):
        build_report(store, ["homeopathy"])


def test_forest_plot_for_trials_pooled_here(store: Any) -> None:
    doc = build_report(store, ["acupuncture"])
    pooled = [v for v in assess(store, "acupuncture") if v.body and v.body.meta is not None]
    forests = [f for f in doc.figures if "-forest-" in f.id]
    assert pooled and len(forests) == len(pooled)
    page = render_html(doc)
    for f in forests:
        block = page[page.index(f'<figure id="{f.id}">'):]
        assert block.index("<svg") < block.index("</figure>")
    for v in pooled:                               # each caption names the trials pooled
        assert any(v.body.label in f.caption for f in forests)


def test_findings_from_a_secondary_summary_are_flagged(store: Any) -> None:
    """A verdict whose numbers were read from a secondary summary is flagged in its finding
    (the marker lives in the body's verification flags, not in indirectness)."""
    from metaverdict.report.document import finding
    from metaverdict.synthesis import read_evidence, synthesize

    syn = synthesize(read_evidence(store), DN)
    flagged = [v for v in syn.assessment.verdicts
               if v.body and any("secondary summary" in x for x in v.body.verification)]
    assert flagged                                     # gattie2017's pooled SMDs
    assert all(finding(v).secondary for v in flagged)
    others = [v for v in syn.assessment.verdicts if v not in flagged]
    assert not any(finding(v).secondary for v in others)
