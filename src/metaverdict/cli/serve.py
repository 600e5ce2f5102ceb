"""``metaverdict serve``: the web app on this machine (FastAPI + uvicorn).

FastAPI and uvicorn are imported only when the command runs, so ``metaverdict --help`` stays
fast. On a fresh clone it opens the embedded SQLite store (seeded with the bundled evidence)
and serves the site on http://127.0.0.1:8000.
"""
from __future__ import annotations

from typing import Annotated

import typer

from metaverdict.cli.common import fail_on_input_error
from metaverdict.errors import InputError


@fail_on_input_error
def serve(
    host: Annotated[str, typer.Option(
        help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (default: METAVERDICT_DATABASE_URL or the user data "
                     "SQLite file, seeded with the bundled evidence).")] = None,
    insecure_cookies: Annotated[bool, typer.Option(
        "--insecure-cookies", help="Send cookies without the Secure flag (only for plain "
                                   "HTTP on a host name other than localhost).")] = False,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the web app: treatments, answers, plots and studies for everyone; editing for
    editors (create one with "metaverdict user add")."""
    try:
        import uvicorn

        from metaverdict.web.app import create_app
        from metaverdict.web.context import WebSettings
    except ImportError as exc:
        raise InputError(f"the web app needs its extra: pip install 'metaverdict[web]' "
                         f"({exc.name} is missing)") from None
    if not 1 <= port <= 65535:
        raise InputError(f"option '--port': must be between 1 and 65535, got {port}")
    if workers < 1:
        raise InputError(f"option '--workers': must be at least 1, got {workers}")
    settings = WebSettings(secure_cookies=not insecure_cookies)
    typer.echo(f"metaverdict: serving on http://{host}:{port} (Ctrl+C stops)", err=True)
    if workers == 1:
        uvicorn.run(create_app(db, settings=settings), host=host, port=port,
                    log_level=log_level)
        return
    import os
    if db:
        os.environ["METAVERDICT_DATABASE_URL"] = db
    os.environ["METAVERDICT_WEB_INSECURE_COOKIES"] = "1" if insecure_cookies else ""
    uvicorn.run("metaverdict.web.app:app_from_environment", factory=True, host=host,
                port=port, workers=workers, log_level=log_level)
