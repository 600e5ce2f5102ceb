"""``metaverdict serve`` and ``metaverdict user add``: a fresh machine's embedded store is
served on localhost; users are created from the command line; neither command slows
``metaverdict --help``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import typer
from sqlalchemy import select
from typer.testing import CliRunner
from web_fixtures import SRC, free_port, wait_until_serving

from metaverdict.cli.user import user_app
from metaverdict.evidence import open_store
from metaverdict.evidence.accounts import User
from metaverdict.web.accounts import authenticate

runner = CliRunner()


def test_user_add(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'evidence.sqlite'}"
    r = runner.invoke(user_app, ["add", "grace", "--role", "admin", "--password-stdin",
                                 "--db", db], input="a long enough secret\n")
    assert r.exit_code == 0, r.output
    assert "added user grace (admin)" in r.output
    with open_store(db, seed=False) as store:
        assert authenticate(store, "grace", "a long enough secret") is not None
        with store.session() as s:
            h = s.scalar(select(User.password_hash).where(User.username == "grace"))
    assert h is not None and h.startswith("$argon2id$")
    again = runner.invoke(user_app, ["add", "grace", "--password-stdin", "--db", db],
                          input="another long secret\n")
    assert again.exit_code == 2 and "already taken" in again.output
    short = runner.invoke(user_app, ["add", "bob", "--password-stdin", "--db", db],
                          input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    role = runner.invoke(user_app, ["add", "bob", "--role", "owner", "--password-stdin",
                                    "--db", db], input="long enough secret\n")
    assert role.exit_code == 2 and "reader, editor, admin" in role.output
    listing = runner.invoke(user_app, ["list", "--db", db])
    assert listing.exit_code == 0 and "grace\tadmin" in listing.output


def test_serve_on_a_fresh_machine(tmp_path: Path) -> None:
    """No database URL, an empty user data folder: the embedded SQLite store is created,
    seeded with the bundled evidence and served on 127.0.0.1."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "METAVERDICT_DATABASE_URL"}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path),
               PYTHONPATH=str(SRC) + os.pathsep + env.get("PYTHONPATH", ""))
    code = "import typer; from metaverdict.cli.serve import serve; typer.run(serve)"
    proc = subprocess.Popen([sys.executable, "-c", code, "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, proc, 180)
        assert httpx.get(base + "/").status_code == 200
        page = httpx.get(base + "/treatments/dry-needling", timeout=120)
        assert page.status_code == 200 and 'id="bottom-table"' in page.text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"serving on http://127.0.0.1:{port}" in out
    assert (tmp_path / "data" / "metaverdict" / "evidence.sqlite").is_file()


def test_serve_rejects_a_bad_port() -> None:
    from metaverdict.cli.serve import serve
    app = typer.Typer()
    app.command()(serve)
    r = runner.invoke(app, ["--port", "70000"])
    assert r.exit_code == 2 and "between 1 and 65535" in r.output


def test_commands_are_registered_and_help_stays_light() -> None:
    """``metaverdict --help`` lists both commands and imports no web or database library."""
    probe = ("import sys, json\nfrom metaverdict.cli import app\n"
             "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', "
             "'sqlalchemy', 'pwdlib', 'jinja2') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert " serve " in out and " user " in out
    assert json.loads(out.strip().splitlines()[-1]) == []
