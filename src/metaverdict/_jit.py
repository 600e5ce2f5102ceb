"""Optional Numba for the few compiled loops outside the batch kernel.

:func:`njit` compiles with ``numba.njit`` when Numba is installed (the ``fast`` extra) and
returns the plain Python function otherwise: the same numbers, only slower. Numba is imported
only when a decorated module is, never by ``import metaverdict``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def numba_available() -> bool:
    """Whether Numba can be imported (``sys.modules["numba"] = None`` hides it, as in tests)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def njit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(**options)`` when Numba is installed, else the identity decorator."""
    if numba_available():
        import numba

        return numba.njit(**options)  # type: ignore[no-any-return]

    def identity(fn: F) -> F:
        return fn

    return identity
