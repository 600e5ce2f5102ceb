"""models/formulas.py, the one written copy of each element-wise formula: plain arithmetic
(no namespace calls), so each function broadcasts over NumPy arrays and compiles with Numba
for the batch kernel, with the same values both ways."""
from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from metaverdict.batch import compiled
from metaverdict.models import formulas

FUNCTIONS = {name: fn for name, fn in vars(formulas).items()
             if inspect.isfunction(fn) and fn.__module__ == formulas.__name__}


def _arguments(fn: Callable[..., Any], rng: np.random.Generator) -> list[np.ndarray]:
    """Positive arguments (an array of 50 per parameter) that keep every formula finite."""
    return [rng.uniform(0.5, 3.0, 50) for _ in inspect.signature(fn).parameters]


def test_every_formula_is_plain_arithmetic() -> None:
    assert len(FUNCTIONS) >= 20
    for name, fn in FUNCTIONS.items():
        tree = ast.parse(inspect.getsource(fn))
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
        assert all(isinstance(c.func, ast.Name) and c.func.id == "abs" for c in calls), name
        assert fn.__doc__ and len(fn.__doc__) > 40, name


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_formulas_broadcast_over_arrays(name: str) -> None:
    fn = FUNCTIONS[name]
    args = _arguments(fn, np.random.default_rng(len(name)))
    vectorised = _as_tuple(fn(*args))
    for i in range(0, 50, 7):
        scalar = _as_tuple(fn(*(float(a[i]) for a in args)))
        assert len(scalar) == len(vectorised)
        for got, want in zip(vectorised, scalar):
            assert np.shape(got) == (50,), name
            assert got[i] == pytest.approx(want, rel=1e-15), name


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.skipif(not compiled.available(), reason="the compiled kernel needs Numba (the "
                                                     "'fast' extra; the 'dev' extra has it)")
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_compiled_formulas_equal_the_python_ones(name: str) -> None:
    from metaverdict.batch import _kernels
    fn = FUNCTIONS[name]
    jitted = getattr(_kernels, name, None)
    assert jitted is not None and jitted.py_func is fn, f"the kernel does not compile {name}"
    args = _arguments(fn, np.random.default_rng(7 + len(name)))
    for i in range(0, 50, 11):
        scalars = [float(a[i]) for a in args]
        assert jitted(*scalars) == pytest.approx(fn(*scalars), rel=1e-15), name
