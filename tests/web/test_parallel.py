"""Concurrent edits against PostgreSQL never lose a write: two server processes on one
database, many editors writing at once; every write is stored or was refused with a clear
error (409: changed by someone else; 422: the study already exists; 503: busy)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from web_fixtures import NEW_TRIAL, PASSWORD, live_server, postgres_database, seeded_store

from metaverdict.evidence import open_store
from metaverdict.synthesis import read_evidence
from metaverdict.web.accounts import audit_log

pytestmark = pytest.mark.postgres
INSECURE = {"METAVERDICT_WEB_INSECURE_COOKIES": "1"}      # plain-HTTP clients keep the cookie
N_ADDS = 16
N_EDITS = 6
N_SAME_STUDY = 4


@pytest.fixture
def two_servers(postgres_url: str) -> Iterator[tuple[str, list[str]]]:
    with postgres_database(postgres_url) as url:
        seeded_store(url).close()
        with live_server(url, env=INSECURE) as a, live_server(url, env=INSECURE) as b:
            yield url, [a, b]


def _editor(base: str) -> tuple[httpx.Client, dict[str, str]]:
    c = httpx.Client(base_url=base, timeout=120)
    r = c.post("/api/session", json={"username": "ada", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, {"x-csrf-token": r.json()["csrf_token"]}


def _refusal_is_clear(r: httpx.Response) -> None:
    assert r.status_code in (409, 422, 503), r.text
    detail = r.json()["detail"]
    assert ("changed by someone else" in detail or "already stored" in detail
            or "busy" in detail), detail


def test_parallel_edits_are_all_kept_or_refused(two_servers: tuple[str, list[str]]) -> None:
    url, bases = two_servers
    with open_store(url, seed=False) as store:
        before = read_evidence(store)
    target = next(r for r in before.rows if r.source_id == "cotchett2014")
    clients = [_editor(bases[i % 2]) for i in range(N_ADDS + N_EDITS + N_SAME_STUDY)]
    version = clients[0][0].get(f"/api/results/{target.id}").json()
    start = threading.Barrier(len(clients))

    def add(i: int) -> tuple[str, Any, httpx.Response]:
        c, h = clients[i]
        row = {k: v for k, v in NEW_TRIAL.items()
               if k not in ("citation", "design", "url_or_location")}
        row.update(source_id="cotchett2014", timepoint=f"{i + 1} days",
                   estimate=f"{-i - 0.5}", verbatim_quote=f"parallel add {i}")
        start.wait()
        return "add", i, c.post("/api/results", json=row, headers=h)

    def edit(j: int) -> tuple[str, Any, httpx.Response]:
        c, h = clients[N_ADDS + j]
        fields = {**version["fields"], "notes": f"edit {j}"}
        start.wait()
        return "edit", j, c.put(f"/api/results/{target.id}", headers=h,
                                json={"version": version["version"], "fields": fields})

    def same_study(k: int) -> tuple[str, Any, httpx.Response]:
        c, h = clients[N_ADDS + N_EDITS + k]
        start.wait()
        return "study", k, c.post("/api/studies", headers=h,
                                  json={**NEW_TRIAL, "source_id": "twice2025",
                                        "verbatim_quote": f"MD 1.0 (editor {k})"})

    jobs = ([(add, i) for i in range(N_ADDS)] + [(edit, j) for j in range(N_EDITS)]
            + [(same_study, k) for k in range(N_SAME_STUDY)])
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda job: job[0](job[1]), jobs))
    for c, _ in clients:
        c.close()

    with open_store(url, seed=False) as store:
        after = read_evidence(store)
        log = audit_log(store, limit=1000)
    by_id = {r.id: r for r in after.rows}
    kept_adds = 0
    for kind, i, r in results:
        if r.status_code in (200, 201):
            continue
        _refusal_is_clear(r)
    # every add that was answered 201 is stored with its own numbers
    for kind, i, r in results:
        if kind == "add" and r.status_code == 201:
            kept_adds += 1
            (rid,) = r.json()["result_ids"]
            assert by_id[rid].verbatim_quote == f"parallel add {i}"
            assert by_id[rid].estimate == -i - 0.5
    assert kept_adds == N_ADDS, "adds of different results never conflict"
    # exactly one of the concurrent edits of one version wins; the others are refused
    edits = [r for kind, _, r in results if kind == "edit"]
    won = [r for r in edits if r.status_code == 200]
    assert len(won) == 1 and all(r.status_code in (409, 503) for r in edits if r not in won)
    winner = next(j for kind, j, r in results if kind == "edit" and r.status_code == 200)
    assert by_id[target.id].notes == f"edit {winner}"
    # one study key, added by several editors at once: stored once
    studies = [r for kind, _, r in results if kind == "study"]
    assert sum(r.status_code == 201 for r in studies) == 1
    assert sum(1 for r in after.rows if r.source_id == "twice2025") == 1
    # the store holds every accepted write and nothing else; each is audited
    accepted = [r for _, _, r in results if r.status_code in (200, 201)]
    assert len(after.rows) == len(before.rows) + N_ADDS + 1
    audited = {e.id for e in log}
    assert all(r.json()["entry_id"] in audited for r in accepted)
