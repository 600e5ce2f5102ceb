"""The server-rendered pages: what a visitor reads, and the editors' forms."""
from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from web_fixtures import HEEL_QUESTION, NEW_TRIAL, PASSWORD, client_for

from metaverdict.evidence.store import Store
from metaverdict.report.build import build_report
from metaverdict.synthesis import read_evidence, synthesize

# the fixtures (web_store, fresh_store, client, ...)
pytest_plugins = ["web_fixtures"]


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def form_fields(html: str) -> dict[str, str]:
    """The values an edit form shows (inputs, selected options, text areas)."""
    out = dict(re.findall(r'<input id="f-[a-z_0-9]+" name="([a-z_0-9]+)" value="([^"]*)"',
                          html))
    for name, body in re.findall(r'<select id="f-[a-z_0-9]+" name="([a-z_0-9]+)"[^>]*>(.*?)'
                                 r'</select>', html, re.S):
        m = re.search(r'<option value="([^"]*)" selected>', body)
        out[name] = m.group(1) if m else ""
    out.update(re.findall(r'<textarea id="f-[a-z_0-9]+" name="([a-z_0-9]+)"[^>]*>(.*?)'
                          r'</textarea>', html, re.S))
    return {k: unescape(v) for k, v in out.items()}


def form_login(c: TestClient, username: str = "ada", password: str = PASSWORD,
               next_: str = "/") -> str:
    """Log in through the HTML form; returns the page the form redirected to."""
    page = c.get("/login", params={"next": next_})
    r = c.post("/login", data={"username": username, "password": password,
                               "csrf_token": _csrf(page.text), "next": next_},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def test_home_lists_treatments_and_searches(client: TestClient) -> None:
    page = client.get("/").text
    assert 'href="/treatments/dry-needling"' in page and "Platelet-rich plasma" in page
    hits = client.get("/", params={"q": "cushman"}).text
    assert 'href="/studies/cushman2021"' in hits
    none = client.get("/", params={"q": "zzzz qqqq"}).text
    assert "Nothing matches" in none


def test_treatment_page_renders_every_answer(client: TestClient, web_store: Store) -> None:
    synth = synthesize(read_evidence(web_store), "dry needling")
    page = client.get("/treatments/dry-needling").text
    assert 'id="bottom-table"' in page and 'id="map-pain"' in page
    assert "Pain vs sham or placebo, beyond 3 months" in page      # always shown
    for a in synth.answers:
        assert a.headline in page
    assert page.count('href="/treatments/dry-needling/questions/') >= len(synth.answers)
    # the same probability column and network section as the report
    shown = [a.probability.short() for a in synth.answers if a.probability]
    assert ">P(beyond MCID)</th>" in page and shown
    assert sum(p in unescape(page) for p in set(shown)) >= len(set(shown)) // 2
    assert 'id="network-statement"' in page
    assert "No network: the stored direct comparisons of dry needling" in unescape(page)
    # an alias redirects to the treatment's address
    r = client.get("/treatments/DN", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/treatments/dry-needling"
    assert client.get("/treatments/cupping").status_code == 404


def test_question_page_has_working_plot_quotes_and_dois(client: TestClient) -> None:
    page = client.get(HEEL_QUESTION).text
    assert 'id="grade-domains"' in page and "Imprecision" in page
    assert "<svg" in page and 'class="plot"' in page
    assert "https://doi.org/" in page and "<blockquote>" in page
    assert 'href="/studies/cotchett2014"' in page
    course = client.get("/treatments/dry-needling/questions/"
                        "pain--sham--day-1--post-marathon-muscle-soreness").text
    assert "time-course" in course and "<svg" in course


def test_study_claims_and_report_pages(client: TestClient, web_store: Store) -> None:
    study = client.get("/studies/cushman2021").text
    assert "Postrace dry needling" in study and "soleus" in study
    assert client.get("/studies/nope").status_code == 404
    claims = client.get("/claims").text
    assert 'class="claim"' in claims and "unsupported: no trial evidence" in claims
    r = client.get("/treatments/platelet-rich-plasma-injection/report.html")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    doc = build_report(read_evidence(web_store), ["PRP"])
    assert f"<title>{doc.title}</title>" in r.text and "<svg" in r.text


def test_anonymous_pages_are_served_from_the_cache(client: TestClient) -> None:
    first = client.get("/treatments/corticosteroid-injection").text
    site = client.app.state.site                                     # type: ignore[attr-defined]
    snap = site.state.snapshot()
    assert "/treatments/corticosteroid-injection" in snap.pages
    assert client.get("/treatments/corticosteroid-injection").text == first


def test_login_logout_and_refusals(client: TestClient) -> None:
    assert client.get("/edit/study").status_code == 401               # anonymous
    assert form_login(client, "rita", next_="/edit/study") == "/edit/study"
    r = client.get("/edit/study")
    assert r.status_code == 403 and "reader" in r.text                 # a reader may not edit
    page = client.get("/").text
    assert "rita" in page and 'id="logout"' in page
    r = client.post("/logout", data={"csrf_token": _csrf(page)}, follow_redirects=False)
    assert r.status_code == 303
    assert "Log in" in client.get("/").text
    bad = client.get("/login")
    r = client.post("/login", data={"username": "ada", "password": "wrong password!",
                                    "csrf_token": _csrf(bad.text)})
    assert r.status_code == 401 and "Wrong username or password" in r.text


def test_open_redirect_is_refused(client: TestClient) -> None:
    page = client.get("/login")
    r = client.post("/login", data={"username": "rita", "password": PASSWORD,
                                    "csrf_token": _csrf(page.text),
                                    "next": "//evil.example/x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_editor_form_adds_a_study_and_says_what_changed(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        before = c.get(HEEL_QUESTION).text
        assert "may reduce pain slightly" in before
        form_login(c)
        form = c.get("/edit/study")
        assert form.status_code == 200 and 'id="edit-form"' in form.text
        r = c.post("/edit/study", data={**NEW_TRIAL, "csrf_token": _csrf(form.text)},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/changes/")
        change = c.get(r.headers["location"]).text
        assert ("verdict changed from benefit below the MCID to no significant difference"
                in change)
        assert "<b>Why:</b> trial smith2025 was added" in change
        after = c.get(HEEL_QUESTION).text
        assert "may reduce pain slightly" not in after and "smith2025" in after
        audit = c.get("/audit").text
        assert "study-add" in audit and "ada" in audit


def test_form_errors_name_the_field(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        form_login(c)
        form = c.get("/edit/study")
        r = c.post("/edit/study", data={**NEW_TRIAL, "ci_lower": "lots",
                                        "csrf_token": _csrf(form.text)})
        assert r.status_code == 422
        assert "field 'ci_lower': must be a number" in unescape(r.text)
        assert 'class="field bad"' in r.text and 'value="lots"' in r.text   # refilled
        # a form without the CSRF token is refused
        r = c.post("/edit/study", data=NEW_TRIAL)
        assert r.status_code == 403 and "CSRF" in r.text


def test_result_edit_form_round_trip(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        form_login(c)
        rid = next(r.id for r in read_evidence(fresh_store).rows if r.source_id == "cotchett2014")
        form = c.get(f"/results/{rid}/edit").text
        version = re.search(r'name="version" value="([^"]+)"', form).group(1)  # type: ignore
        fields = form_fields(form)
        assert fields["source_id"] == "cotchett2014" and fields["comparator"] == "sham"
        r = c.post(f"/results/{rid}/edit", data={**fields, "notes": "checked against the PDF",
                                                  "version": version,
                                                  "csrf_token": _csrf(form)},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        again = c.post(f"/results/{rid}/edit", data={**fields, "version": version,
                                                      "csrf_token": _csrf(form)})
        assert again.status_code == 409 and "changed by someone else" in again.text
        row = next(r for r in read_evidence(fresh_store).rows if r.id == rid)
        assert row.notes == "checked against the PDF" and row.estimate == -14.4


def test_admin_adds_users(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        form_login(c, "root")
        page = c.get("/admin/users").text
        r = c.post("/admin/users", data={"username": "newbie", "password": "long enough pw",
                                         "role": "editor", "csrf_token": _csrf(page)})
        assert r.status_code == 200 and "added newbie (editor)" in r.text
        r = c.post("/admin/users", data={"username": "x", "password": "short",
                                         "role": "editor", "csrf_token": _csrf(page)})
        assert r.status_code == 422 and "field 'username'" in unescape(r.text)
    with client_for(fresh_store) as c:
        form_login(c, "ada")
        assert c.get("/admin/users").status_code == 403
