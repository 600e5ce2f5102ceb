"""Top-level Typer application; sub-commands live in sibling modules.

No Python traceback reaches a user: every command is wrapped by
:func:`~metaverdict.cli.common.fail_on_input_error` (bad input, file and store errors:
``error: ...``, exit status 2), and :class:`App` turns any other exception into ``internal
error: ... (please report)`` with exit status 1. ``METAVERDICT_DEBUG=1`` shows the traceback
instead; ``typer.testing.CliRunner`` bypasses :meth:`App.__call__`, so tests see the exception.
"""
from __future__ import annotations

import os
import sys
from typing import Any

import typer

from metaverdict.cli.answer import answer
from metaverdict.cli.batch import batch
from metaverdict.cli.claims import claims_app
from metaverdict.cli.common import EXIT_BAD_INPUT, expected_error_message, fail_on_input_error
from metaverdict.cli.evidence import evidence_app
from metaverdict.cli.meta import meta
from metaverdict.cli.network import network
from metaverdict.cli.report import report
from metaverdict.cli.serve import serve
from metaverdict.cli.trial import app as trial_app
from metaverdict.cli.user import user_app

DEBUG_ENV = "METAVERDICT_DEBUG"
EXIT_INTERNAL_ERROR = 1


class App(typer.Typer):
    """The ``metaverdict`` command: a Typer app that never prints a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
            return super().__call__(*args, **kwargs)
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:           # SystemExit / KeyboardInterrupt pass through
            message = expected_error_message(exc)
            if message is not None:
                typer.echo(f"error: {message}", err=True)
                sys.exit(EXIT_BAD_INPUT)
            first = str(exc).strip().splitlines()
            typer.echo(f"internal error: {type(exc).__name__}"
                       + (f": {first[0]}" if first else "")
                       + f" (please report; {DEBUG_ENV}=1 shows the traceback)", err=True)
            sys.exit(EXIT_INTERNAL_ERROR)


def guard_commands(typer_app: typer.Typer) -> None:
    """Wrap every command of ``typer_app`` and of its sub-apps in ``fail_on_input_error``."""
    for info in typer_app.registered_commands:
        if info.callback is not None:
            info.callback = fail_on_input_error(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            guard_commands(group.typer_instance)


app = App(help="metaverdict: meta-analysis, certainty and verdicts from trial evidence.",
          no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.command(help="Effect sizes and a meta-analysis from a CSV file (metafor-style summary).")(meta)
app.add_typer(evidence_app, name="evidence", help="The evidence base: import, export, list.")
app.add_typer(claims_app, name="claims", help="Check stated claims against the stored evidence.")
app.add_typer(trial_app, name="trial",
              help="One randomized trial: power, randomization lists, analysis (MMRM).")
app.command(help="Network meta-analysis (R netmeta) from a CSV file.")(network)
app.add_typer(user_app, name="user", help="Accounts of the web app: add and list users.")
app.command(help="Serve the web app on this machine (http://127.0.0.1:8000).")(serve)
app.command(help="The evidence report for a treatment (HTML or Markdown).")(report)
app.command(help="The bottom line for a treatment: one answer per clinical question.")(answer)
app.command(help="Many meta-analyses from one CSV/Parquet file (one row per analysis out).")(batch)
guard_commands(app)
