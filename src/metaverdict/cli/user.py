"""``metaverdict user add NAME --role editor``: accounts of the web app.

The password is read from a prompt (typed twice, not echoed) or, with ``--password-stdin``,
from the first line of standard input; it is stored only as its Argon2 hash.
"""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from metaverdict.cli.common import fail_on_input_error

user_app = typer.Typer(help="Accounts of the web app (readers, editors, admins).",
                       no_args_is_help=True)


@user_app.command("add")
@fail_on_input_error
def add_command(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="reader, editor or admin.")] = "editor",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard "
                                 "input instead of a prompt.")] = False,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (default: METAVERDICT_DATABASE_URL or the user data "
                     "SQLite file).")] = None,
) -> None:
    """Create a user of the web app."""
    from metaverdict.evidence import open_store
    from metaverdict.web.accounts import add_user, check_new_user
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    check_new_user(username, password, role)
    with open_store(db) as store:
        acc = add_user(store, username, password, role)
    typer.echo(f"added user {acc.username} ({acc.role})")


@user_app.command("list")
@fail_on_input_error
def list_command(db: Annotated[str | None, typer.Option(
        "--db", help="Database URL.")] = None) -> None:
    """List the users and their roles."""
    from metaverdict.evidence import open_store
    from metaverdict.web.accounts import users
    with open_store(db) as store:
        for acc in users(store):
            typer.echo(f"{acc.username}\t{acc.role}")
