"""What every command shares: bad input becomes a one-line message and exit code 2.

:func:`fail_on_input_error` wraps each command (``main.py`` also wraps any command registered
without it): an :class:`InputError`, an ``OSError`` on a file and a busy or unusable evidence
store print ``error: <message>`` on stderr and exit with status 2. Anything else is a bug: the
installed ``metaverdict`` command (:class:`main.App`) prints ``internal error: ... (please
report)`` and exits with status 1, while ``typer.testing.CliRunner`` still sees the exception.
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from metaverdict.errors import InputError

# For the signatures only: the functions import these when called, so that
# `metaverdict --help` stays fast (tests/test_startup.py).
if TYPE_CHECKING:
    from metaverdict.grade.mcid import MCIDTable
    from metaverdict.synthesis.claim_check import StatedClaim
    from metaverdict.synthesis.probability import SkepticalPrior

F = TypeVar("F", bound=Callable[..., Any])
EXIT_BAD_INPUT = 2
BUSY_MESSAGE = ("the evidence store is busy (another process is writing to it), try again "
                "in a moment")
_GUARDED = "_metaverdict_guarded"


def expected_error_message(exc: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug."""
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"cannot read the input as UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, OSError):
        if exc.filename is not None:
            return f"{exc.filename}: {exc.strerror or exc}"
        return str(exc)
    sa_exc = sys.modules.get("sqlalchemy.exc")        # never imported here (start-up time)
    if sa_exc is not None and isinstance(exc, sa_exc.OperationalError):
        text = str(getattr(exc, "orig", None) or exc)
        if is_busy_message(text):
            return BUSY_MESSAGE
        return f"the evidence store cannot be used: {text.splitlines()[0] if text else exc}"
    return None


def is_busy_message(text: str) -> bool:
    """True for SQLite's "database is locked" and PostgreSQL's lock timeout."""
    low = text.lower()
    return ("database is locked" in low or "database table is locked" in low
            or "lock timeout" in low)


def fail_on_input_error(fn: F) -> F:
    """Turn :class:`InputError` (and file/store errors) into ``error: <message>`` on stderr and
    exit status 2."""
    if getattr(fn, _GUARDED, False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            message = expected_error_message(exc)
            if message is None:
                raise
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(code=EXIT_BAD_INPUT) from None
    setattr(wrapper, _GUARDED, True)
    return wrapper  # type: ignore[return-value]


def output_path(path: Path, option: str) -> Path:
    """Check an output file option: not a folder; missing parent folders are created (as
    ``report --out`` always did)."""
    if path.is_dir():
        raise InputError(f"option '{option}': {str(path)!r} is a folder, give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"option '{option}': cannot create the folder {str(path.parent)!r} "
                         f"({exc.strerror or exc})") from None
    if not path.parent.is_dir():
        raise InputError(f"option '{option}': {str(path.parent)!r} is not a folder")
    return path


def input_file(path: Path, what: str) -> Path:
    """Check an input file: it exists and is not a folder."""
    if not path.exists():
        raise InputError(f"{what}: file {str(path)!r} does not exist")
    if path.is_dir():
        raise InputError(f"{what}: {str(path)!r} is a folder, not a file")
    return path


def decode_error(exc: UnicodeDecodeError, path: Path, what: str) -> InputError:
    """An InputError naming the line of a file that is not UTF-8."""
    try:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
    except OSError:
        line = 0
    where = f"line {line}, " if line else ""
    return InputError(f"{what} {str(path)!r}: {where}byte {exc.start}: not UTF-8 text "
                      f"({exc.reason}); save the file as UTF-8")


def load_claims_option(path: Path, option: str) -> list[StatedClaim]:
    """Read a claims file given on the command line: .csv or .json, at least one claim, no
    claim id twice."""
    from metaverdict.synthesis.claim_check import load_claims
    if path.suffix.lower() not in (".csv", ".json"):
        raise InputError(f"{option}: {str(path)!r} must be a .csv or .json claims file, "
                         f"got suffix {path.suffix or '(none)'!r}")
    input_file(path, option)
    try:
        claims = load_claims(path)
    except UnicodeDecodeError as exc:
        raise decode_error(exc, path, f"{option}: claims file") from None
    if not claims:
        raise InputError(f"{option}: claims file {str(path)!r} holds no claims")
    seen: set[str] = set()
    for c in claims:
        if c.id in seen:
            raise InputError(f"{option}: claims file {str(path)!r}: claim id {c.id!r} appears "
                             "more than once")
        seen.add(c.id)
    return claims


#: ``--prior-tail``: the sceptical prior of the probability beyond the MCID.
PriorTailOption = Annotated[float, typer.Option(
    "--prior-tail", help="Sceptical prior of P(effect beyond the MCID): the prior probability "
                         "of an effect beyond the MCID, each way (default 0.05, Spiegelhalter "
                         "et al. 1994); in (0, 0.5).")]


def sceptical_prior(tail: float) -> SkepticalPrior:
    """The ``--prior-tail`` option as a prior (an InputError naming the option if invalid)."""
    from metaverdict.synthesis.probability import SkepticalPrior
    try:
        return SkepticalPrior(tail)
    except InputError as exc:
        raise InputError(f"option '--prior-tail': {exc}") from None


def load_mcid_option(path: Path, option: str = "--mcid") -> MCIDTable:
    """Read an MCID override file given on the command line (over the bundled table)."""
    from metaverdict.grade.mcid import MCIDTable
    input_file(path, option)
    try:
        return MCIDTable.from_csv(path, base=MCIDTable.bundled())
    except UnicodeDecodeError as exc:
        raise decode_error(exc, path, f"{option}: MCID file") from None
