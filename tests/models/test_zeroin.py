"""R's root finder (:func:`metaverdict.models.zeroin.zeroin`) against R's ``uniroot``.

The expected roots were printed by R 4.2.2 (Debian's r-base-core) with ``options(digits=17)``:

    uniroot(function(x) cos(x) - x, c(0, 1), tol = 1e-4)                -> 0.73909105828536981
    uniroot(function(x) x^3 - 2*x - 5, c(2, 3), tol = .Machine$double.eps^0.25)
                                                                          -> 2.0945412049478809
    uniroot(function(x) exp(x) - 2, c(0, 3))                             -> 0.69313263751219356
    uniroot(function(x) log(x) + x, c(0.01, 5), tol = 1e-3)              -> 0.56729965704448693
    f <- function(x) ifelse(x < 0.3, -1, ifelse(x < 0.7, 0, 1))
    uniroot(f, c(0, 1), tol = 1e-12)                                     -> 0.5

At these loose tolerances SciPy's brentq stops elsewhere on the last three (2.0945289,
0.6931657, 0.5669961), so equality to the digit checks that the iterates are R's.
"""
from __future__ import annotations

import math

import pytest

from metaverdict.models.zeroin import zeroin

R_DEFAULT_TOL = 2.220446049250313e-16 ** 0.25


def _solve(f, a: float, b: float, tol: float, max_iter: int = 1000) -> tuple[float, bool]:
    return zeroin(f, a, b, f(a), f(b), tol, max_iter)


@pytest.mark.parametrize(("f", "a", "b", "tol", "expected"), [
    (lambda x: math.cos(x) - x, 0.0, 1.0, 1e-4, 0.73909105828536981),
    (lambda x: x ** 3 - 2 * x - 5, 2.0, 3.0, R_DEFAULT_TOL, 2.0945412049478809),
    (lambda x: math.exp(x) - 2, 0.0, 3.0, R_DEFAULT_TOL, 0.69313263751219356),
    (lambda x: math.log(x) + x, 0.01, 5.0, 1e-3, 0.56729965704448693),
    (lambda x: -1.0 if x < 0.3 else (0.0 if x < 0.7 else 1.0), 0.0, 1.0, 1e-12, 0.5),
], ids=["cos", "cubic", "exp", "log", "plateau"])
def test_same_point_as_r_uniroot(f, a: float, b: float, tol: float, expected: float) -> None:
    root, converged = _solve(f, a, b, tol)
    assert converged
    assert root == expected


def test_a_zero_at_an_end_is_returned() -> None:
    assert zeroin(lambda x: x, 0.0, 1.0, 0.0, 1.0, 1e-12) == (0.0, True)
    assert zeroin(lambda x: x - 1, 0.0, 1.0, -1.0, 0.0, 1e-12) == (1.0, True)


def test_too_few_iterations_are_flagged() -> None:
    root, converged = _solve(lambda x: math.cos(x) - x, 0.0, 1.0, 1e-15, max_iter=2)
    assert not converged and 0.0 < root < 1.0
    root, converged = _solve(lambda x: math.cos(x) - x, 0.0, 1.0, 1e-15)
    assert converged and abs(math.cos(root) - root) < 1e-14
