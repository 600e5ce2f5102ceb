"""Helpers for the web tests: stores with users, an in-process client, a live server.

Not a conftest.py (tests/ has no packages, so a second conftest would shadow the top-level
one): test modules import what they use from here, fixtures included.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from metaverdict.evidence import open_store
from metaverdict.evidence.store import Store
from metaverdict.web.accounts import add_user
from metaverdict.web.app import create_app
from metaverdict.web.context import WebSettings

PASSWORD = "correct horse battery staple"
USERS = {"ada": "editor", "rita": "reader", "root": "admin"}
#: A valid new trial of dry needling for heel pain on cotchett2014's scale: it is pooled with
#: cotchett2014, so the answer to "pain vs sham, short term (plantar heel pain)" changes.
NEW_TRIAL = {
    "source_id": "smith2025", "citation": "Smith J, Jones K. Dry needling for plantar heel "
    "pain: a randomised sham-controlled trial. 2025.", "design": "rct",
    "url_or_location": "https://example.org/smith2025", "treatment": "dry needling",
    "comparator": "sham", "comparator_name": "sham dry needling",
    "condition": "plantar heel pain", "outcome": "pain (VAS first-step, mm)",
    "timepoint": "6 weeks", "effect_measure": "MD", "estimate": "1.0", "ci_lower": "-5.0",
    "ci_upper": "7.0", "n_treatment": "40", "n_control": "40", "certainty": "PEDro 8/10",
    "verbatim_quote": "MD 1.0 mm (95% CI -5.0 to 7.0)"}
HEEL_QUESTION = "/treatments/dry-needling/questions/pain--sham--short--plantar-heel-pain"
SRC = Path(__file__).parents[2] / "src"


def seeded_store(url: str) -> Store:
    """Open (migrate, seed) a store and add the test users (if missing)."""
    store = open_store(url)
    from metaverdict.web.accounts import users
    have = {u.username for u in users(store)}
    for name, role in USERS.items():
        if name not in have:
            add_user(store, name, PASSWORD, role)
    return store


def client_for(store: Store, **settings: object) -> TestClient:
    """An in-process client over HTTPS (so that Secure cookies are sent back)."""
    opts: dict[str, object] = {"check_interval": 0.0, **settings}
    return TestClient(create_app(store=store, settings=WebSettings(**opts)),  # type: ignore
                      base_url="https://testserver")


def login(client: TestClient | httpx.Client, username: str = "ada") -> str:
    """Log in through the API; returns the session's CSRF token."""
    r = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('web') / 'evidence.sqlite'}"


@pytest.fixture(scope="module")
def web_store(sqlite_url: str) -> Iterator[Store]:
    store = seeded_store(sqlite_url)
    yield store
    store.close()


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Store]:
    """A store of its own for tests that write."""
    store = seeded_store(f"sqlite:///{tmp_path / 'evidence.sqlite'}")
    yield store
    store.close()


@pytest.fixture
def client(web_store: Store) -> Iterator[TestClient]:
    with client_for(web_store) as c:
        yield c


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``url`` (dropped afterwards), so
    these tests never touch the database other tests reset."""
    name = f"mv_web_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(url: str, *, env: dict[str, str] | None = None,
                timeout: float = 120.0) -> Iterator[str]:
    """``uvicorn`` serving the app on a free loopback port (its own process); yields the base
    URL. The store at ``url`` must exist (seeded) already."""
    port = free_port()
    environ = {**os.environ, "METAVERDICT_DATABASE_URL": url, **(env or {})}
    environ["PYTHONPATH"] = str(SRC) + os.pathsep + environ.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "metaverdict.web.app:app_from_environment",
         "--factory", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, proc, timeout)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_serving(base: str, proc: subprocess.Popen[str], timeout: float) -> None:
    """Poll ``base`` until it answers (or fail with the server's output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"server exited with {proc.returncode}:\n{out[-3000:]}")
        try:
            if httpx.get(base + "/api/treatments", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    out = proc.stdout.read() if proc.stdout else ""
    raise AssertionError(f"server did not answer within {timeout} s:\n{out[-3000:]}")
