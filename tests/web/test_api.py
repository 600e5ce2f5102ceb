"""The JSON API: the same answers as ``metaverdict answer``, every page's content, the schema,
and editors' writes (each recomputing the answers and saying what changed and why)."""
from __future__ import annotations

import io

from fastapi.testclient import TestClient
from web_fixtures import NEW_TRIAL, client_for, login

from metaverdict.evidence.store import Store
from metaverdict.synthesis import read_evidence, synthesize

# the fixtures (web_store, fresh_store, client, ...)
pytest_plugins = ["web_fixtures"]


def test_treatments_lead_with_the_three_bundled(client: TestClient) -> None:
    body = client.get("/api/treatments").json()
    terms = [t["term"] for t in body]
    assert terms[:3] == ["dry needling", "platelet-rich plasma injection",
                         "corticosteroid injection"]
    dn = body[0]
    assert dn["slug"] == "dry-needling" and "DN" in dn["aliases"] and dn["results"] > 50
    assert client.get(dn["url"]).status_code == 200


def test_answers_are_the_cli_answers(client: TestClient, web_store: Store) -> None:
    """GET /api/answers renders the very objects `metaverdict answer --json` prints."""
    expected = [a.to_dict() for a in synthesize(read_evidence(web_store), "PRP").answers]
    got = client.get("/api/answers", params={"treatment": "PRP"}).json()
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert {k: g[k] for k in e} == e
        assert g["url"].startswith("/treatments/platelet-rich-plasma-injection/questions/")
    # aliases resolve; an unknown treatment lists the known ones
    assert client.get("/api/answers", params={"treatment": "platelet-rich plasma"}).json() == got
    r = client.get("/api/answers", params={"treatment": "cupping"})
    assert r.status_code == 404 and "dry needling" in r.json()["detail"]


def test_question_detail_has_domains_and_every_number(client: TestClient) -> None:
    answers = client.get("/api/answers", params={"treatment": "dry needling"}).json()
    heel = next(a for a in answers if a["question_id"] == "pain--sham--short--plantar-heel-pain")
    q = client.get("/api/treatments/dry-needling/questions/"
                   "pain--sham--short--plantar-heel-pain").json()
    assert q["verdict"] == heel["verdict"] and q["source_id"] == "cotchett2014"
    assert [d["domain"] for d in q["grade_domains"]] == [
        "risk of bias", "inconsistency", "indirectness", "imprecision", "publication bias"]
    assert all(d["reason"] for d in q["grade_domains"])
    numbers = {n["key"]: n for n in q["numbers"]}
    cot = numbers["cotchett2014"]
    assert cot["doi"] and cot["doi_url"].startswith("https://doi.org/")
    assert any("14.4" in x["quote"] for x in cot["numbers"])
    assert q["figures"], "a question with an estimate has a plot"
    assert client.get("/api/treatments/dry-needling/questions/nope").status_code == 404


def test_treatment_study_claims_search(client: TestClient) -> None:
    t = client.get("/api/treatments/DN").json()
    assert t["slug"] == "dry-needling" and t["report"].endswith("/report.html")
    titles = [g["title"] for g in t["bottom_line"]]
    assert "Pain vs sham or placebo, up to 3 months" in titles
    assert any(g["title"].startswith("Adverse events") for g in t["bottom_line"])
    s = client.get("/api/studies/cushman2021").json()
    assert s["doi"] and s["results"] and s["answers"]
    assert all(r["source_id"] == "cushman2021" for r in s["results"])
    assert client.get("/api/studies/nope").status_code == 404
    listing = client.get("/api/studies").json()
    assert any(x["key"] == "cotchett2014" and x["results"] >= 1 for x in listing)
    c = client.get("/api/claims").json()
    assert c["claims"] and any(o["no_trial_evidence"] for o in c["opinions"])
    hits = client.get("/api/search", params={"q": "heel dry needling"}).json()
    assert any(h["kind"] == "question" for h in hits)


def test_openapi_schema_lists_the_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for p in ("/api/treatments", "/api/answers", "/api/studies/{key}", "/api/studies",
              "/api/results", "/api/upload", "/api/session", "/api/claims"):
        assert p in paths, p
    assert "post" in paths["/api/studies"] and "post" in paths["/api/results"]
    assert not any(p.startswith("/treatments") for p in paths), "pages are not API"


def test_editor_adds_a_study_and_the_answer_changes(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        q = "/api/treatments/dry-needling/questions/pain--sham--short--plantar-heel-pain"
        before = c.get(q).json()
        csrf = login(c)
        r = c.post("/api/studies", json=NEW_TRIAL, headers={"x-csrf-token": csrf})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["because"].startswith("trial smith2025 was added")
        change = next(x for x in body["changes"] if x["url"].endswith(
            "pain--sham--short--plantar-heel-pain"))
        assert change["before"]["verdict"] == before["verdict"]
        assert f"verdict changed from {before['verdict']} to" in change["sentence"]
        assert change["sentence"].endswith("because trial smith2025 was added "
                                           "(pain (VAS first-step, mm), 6 weeks).")
        after = c.get(q).json()
        assert after["verdict"] == change["after"]["verdict"] != before["verdict"]
        assert after["source_id"] == "cotchett2014+smith2025"
        # the change is in the audit log, with who made it
        entry = c.get(f"/api/changes/{body['entry_id']}").json()
        assert entry["username"] == "ada" and entry["action"] == "study-add"
        assert entry["changes"] == body["changes"]
        assert c.get("/api/audit").json()[0]["id"] == body["entry_id"]


def test_add_result_edit_and_conflict(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        csrf = login(c)
        h = {"x-csrf-token": csrf}
        row = {k: v for k, v in NEW_TRIAL.items() if k not in (
            "citation", "design", "url_or_location", "doi")}
        row.update(source_id="cotchett2014", timepoint="12 weeks", estimate="-9.0",
                   ci_lower="-15.0", ci_upper="-3.0", verbatim_quote="MD -9.0 at 12 weeks")
        r = c.post("/api/results", json=row, headers=h)
        assert r.status_code == 201, r.text
        rid = r.json()["result_ids"][0]
        stored = c.get(f"/api/results/{rid}").json()
        assert stored["source_id"] == "cotchett2014" and stored["estimate"] == -9.0
        fields = {**stored["fields"], "estimate": "-8.0", "verbatim_quote": "MD -8.0"}
        ok = c.put(f"/api/results/{rid}", json={"version": stored["version"], "fields": fields},
                   headers=h)
        assert ok.status_code == 200, ok.text
        assert "estimate: -9 \u2192 -8" in ok.json()["because"]
        assert c.get(f"/api/results/{rid}").json()["estimate"] == -8.0   # same id kept
        stale = c.put(f"/api/results/{rid}", json={"version": stored["version"],
                                                    "fields": fields}, headers=h)
        assert stale.status_code == 409
        assert "changed by someone else" in stale.json()["detail"]
        gone = c.delete(f"/api/results/{rid}",
                        params={"version": c.get(f"/api/results/{rid}").json()["version"]},
                        headers=h)
        assert gone.status_code == 200 and c.get(f"/api/results/{rid}").status_code == 404


def test_bad_rows_name_row_and_column_and_write_nothing(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        csrf = login(c)
        n = len(c.get("/api/studies").json())
        bad = {**NEW_TRIAL, "estimate": "about one", "comparator": "nothing"}
        r = c.post("/api/studies", json=bad, headers={"x-csrf-token": csrf})
        assert r.status_code == 422
        text = r.json()["detail"] + " " + " ".join(r.json().get("errors", []))
        assert "row 1, column 'estimate'" in text or "row 1, column 'comparator'" in text
        # an upload with one bad row among good ones writes nothing
        header = ",".join(NEW_TRIAL)
        good = ",".join(f'"{v}"' for v in NEW_TRIAL.values())
        wrong = good.replace('"40"', '"forty"', 1)
        csv = "\n".join([header, good.replace("smith2025", "upl1"),
                         wrong.replace("smith2025", "upl2")]) + "\n"
        r = c.post("/api/upload", headers={"x-csrf-token": csrf},
                   files={"file": ("mine.csv", io.BytesIO(csv.encode()), "text/csv")})
        assert r.status_code == 422
        assert "row 2, column 'n_treatment'" in " ".join([r.json()["detail"],
                                                           *r.json().get("errors", [])])
        assert len(c.get("/api/studies").json()) == n
        ok = c.post("/api/upload", headers={"x-csrf-token": csrf},
                    files={"file": ("mine.csv", io.BytesIO(
                        "\n".join([header, good.replace("smith2025", "upl1")]).encode()),
                        "text/csv")})
        assert ok.status_code == 201, ok.text
        assert ok.json()["because"].startswith("1 result was imported from mine.csv")
        assert len(c.get("/api/studies").json()) == n + 1


def test_readers_and_visitors_cannot_write(client: TestClient) -> None:
    r = client.post("/api/studies", json=NEW_TRIAL)
    assert r.status_code == 401 and "log in" in r.json()["detail"]
    csrf = login(client, "rita")
    r = client.post("/api/studies", json=NEW_TRIAL, headers={"x-csrf-token": csrf})
    assert r.status_code == 403 and "reader" in r.json()["detail"]
    assert client.get("/api/audit").status_code == 403


def test_edit_a_study_citation(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        csrf = login(c)
        h = {"x-csrf-token": csrf}
        study = c.get("/api/studies/cotchett2014").json()
        body = {"version": study["version"], "citation": study["citation"] + " (corrected)",
                "doi": study["doi"], "url_or_location": study["url_or_location"]}
        r = c.put("/api/studies/cotchett2014", json=body, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["because"].startswith("study cotchett2014 was edited (citation:")
        assert c.get("/api/studies/cotchett2014").json()["citation"].endswith("(corrected)")
        stale = c.put("/api/studies/cotchett2014", json=body, headers=h)
        assert stale.status_code == 409
        empty = c.put("/api/studies/cotchett2014", headers=h, json={
            **body, "version": c.get("/api/studies/cotchett2014").json()["version"],
            "citation": " "})
        assert empty.status_code == 422 and "column 'citation'" in empty.json()["detail"]
