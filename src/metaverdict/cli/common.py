"""What every command shares: bad input becomes a one-line message and exit code 2."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from metaverdict.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


def fail_on_input_error(fn: F) -> F:
    """Turn :class:`InputError` into ``error: <message>`` on stderr and exit status 2."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None
    return wrapper  # type: ignore[return-value]
