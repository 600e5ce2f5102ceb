"""Security, one test per defence: no SQL built from strings, output escaped, upload size
limit, login rate limit, secure cookie flags, CSRF, security headers, sessions that end."""
from __future__ import annotations

import ast
import io
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from web_fixtures import NEW_TRIAL, PASSWORD, client_for, login

import metaverdict.web
from metaverdict.evidence.accounts import User
from metaverdict.evidence.store import Store
from metaverdict.web.editing import MAX_UPLOAD_BYTES

# the fixtures (web_store, fresh_store, client, ...)
pytest_plugins = ["web_fixtures"]

WEB = Path(metaverdict.web.__file__).parent
SQL_WORDS = ("select ", "insert ", "update ", "delete from", " where ", "drop ", "union ")


def test_no_sql_is_built_from_strings() -> None:
    """The web package talks to the database only through SQLAlchemy expressions: no
    ``text()``, no ``exec_driver_sql``, no raw ``execute("...")``, no SQL in a string."""
    files = sorted(WEB.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = (node.func.attr if isinstance(node.func, ast.Attribute)
                        else getattr(node.func, "id", ""))
                assert name not in ("text", "exec_driver_sql", "literal_column"), \
                    f"{path.name}:{node.lineno}: {name}()"
                if name == "execute" and node.args:
                    assert not isinstance(node.args[0], ast.Constant | ast.JoinedStr), \
                        f"{path.name}:{node.lineno}: execute() of a string"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                low = node.value.lower()
                assert not (low.lstrip().startswith(("select ", "insert ", "update ",
                                                     "delete ", "drop "))
                            and any(w in low for w in SQL_WORDS[4:])), \
                    f"{path.name}:{node.lineno}: SQL in a string: {node.value[:60]!r}"


def test_search_text_never_reaches_the_database(client: TestClient) -> None:
    for q in ("' OR 1=1 --", "\"; DROP TABLE results; --", "%' UNION SELECT *"):
        assert client.get("/", params={"q": q}).status_code == 200
        assert client.get("/api/search", params={"q": q}).json() == []
    assert len(client.get("/api/studies").json()) >= 40          # nothing dropped


XSS = '<script>alert("x")</script>'


def test_output_is_escaped(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        csrf = login(c)
        evil = {**NEW_TRIAL, "source_id": "xss2025", "citation": f"Evil {XSS} et al.",
                "notes": f"<img src=x onerror=alert(1)> {XSS}",
                "verbatim_quote": f"MD 1.0 {XSS}", "comparator_name": f"sham {XSS}"}
        assert c.post("/api/studies", json=evil, headers={"x-csrf-token": csrf}
                      ).status_code == 201
        pages = [c.get("/studies/xss2025").text, c.get("/", params={"q": "evil"}).text,
                 c.get("/treatments/dry-needling").text, c.get("/studies").text,
                 c.get("/treatments/dry-needling/questions/"
                       "pain--sham--short--plantar-heel-pain").text]
        for page in pages:
            assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[0]
        # reflected: the search text is escaped too
        page = c.get("/", params={"q": XSS}).text
        assert XSS not in page and "&lt;script&gt;" in page
        # the JSON API returns the text as data, with a JSON content type
        r = c.get("/api/studies/xss2025")
        assert r.headers["content-type"].startswith("application/json")
        assert XSS in r.json()["citation"]


def test_upload_size_limit(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        csrf = login(c)
        big = b"source_id,citation\n" + b"x" * (MAX_UPLOAD_BYTES + 100 * 1024)
        r = c.post("/api/upload", headers={"x-csrf-token": csrf},
                   files={"file": ("big.csv", io.BytesIO(big), "text/csv")})
        assert r.status_code == 413 and "too large" in r.text
        # a body that streams in without a Content-Length is cut off too
        def chunks():                                            # type: ignore[no-untyped-def]
            for _ in range(40):
                yield b"y" * (128 * 1024)
        r = c.post("/api/studies", content=chunks(), headers={
            "x-csrf-token": csrf, "content-type": "application/json"})
        assert r.status_code == 413
        # under the limit, the same endpoint works
        small = ",".join(NEW_TRIAL) + "\n" + ",".join(f'"{v}"' for v in NEW_TRIAL.values())
        r = c.post("/api/upload", headers={"x-csrf-token": csrf},
                   files={"file": ("ok.csv", io.BytesIO(small.encode()), "text/csv")})
        assert r.status_code == 201, r.text


def test_login_rate_limit(fresh_store: Store) -> None:
    with client_for(fresh_store, login_max_failures=3, login_window_s=60.0) as c:
        for _ in range(3):
            r = c.post("/api/session", json={"username": "ada", "password": "wrong guess!"})
            assert r.status_code == 401
        r = c.post("/api/session", json={"username": "ada", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "too many failed logins" in r.json()["detail"]
        # the same address is limited for other usernames too (no password spraying)
        r = c.post("/api/session", json={"username": "rita", "password": PASSWORD})
        assert r.status_code == 429


def test_session_cookie_flags(client: TestClient) -> None:
    r = client.post("/api/session", json={"username": "ada", "password": PASSWORD})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("mv_session=")
    flags = [p.strip().lower() for p in cookie.split(";")]
    assert "httponly" in flags and "secure" in flags and "samesite=strict" in flags
    assert "path=/" in flags
    login_form = client.get("/login").headers["set-cookie"].lower()
    assert "httponly" in login_form and "secure" in login_form and "samesite=strict" in login_form


def test_csrf_is_required_for_writes(client: TestClient) -> None:
    login(client)
    r = client.post("/api/studies", json=NEW_TRIAL)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = client.post("/api/studies", json=NEW_TRIAL, headers={"x-csrf-token": "forged"})
    assert r.status_code == 403
    r = client.post("/login", data={"username": "ada", "password": PASSWORD})
    assert r.status_code == 403                                  # login form without its token


def test_security_headers(client: TestClient) -> None:
    for path in ("/", "/api/treatments", "/static/site.css"):
        h = client.get(path).headers
        assert "script-src 'self'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"


def test_logout_ends_the_session_and_passwords_are_hashed(fresh_store: Store) -> None:
    with client_for(fresh_store) as c:
        csrf = login(c)
        token = c.cookies.get("mv_session")
        assert c.delete("/api/session", headers={"x-csrf-token": csrf}).status_code == 200
        c.cookies.set("mv_session", token, domain="testserver")  # replay the old token
        assert c.get("/api/session").status_code == 401
        r = c.post("/api/studies", json=NEW_TRIAL, headers={"x-csrf-token": csrf})
        assert r.status_code == 401
    with fresh_store.session() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(PASSWORD in h for h in hashes)
