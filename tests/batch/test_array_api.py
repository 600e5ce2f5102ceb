"""The batch kernels on other array libraries: the strict array-API reference implementation
(which rejects anything outside the standard, so it proves the kernels portable) on the CPU,
PyTorch on the CPU, and CuPy / PyTorch on a GPU where one exists (CI has none: those tests
skip, and only they). Every library must give the NumPy results (to rounding).

array_api_strict and torch (the CPU build, ``torch==2.13.0``) come with the ``dev`` extra: in CI
(``CI`` set) a missing one is a failure, not a skip; elsewhere the test skips, naming the extra.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from metaverdict.batch import meta_analyses
from metaverdict.errors import InputError

METHODS = ["EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM", "GENQ"]


def _frame(seed: int = 11, n: int = 300) -> pd.DataFrame:
    """Ragged analyses (k = 1..12), a tenth of them with tau² on the boundary."""
    rng = np.random.default_rng(seed)
    ks = rng.integers(1, 13, n)
    ids = np.repeat(np.arange(n), ks)
    v = rng.uniform(0.01, 0.2, ids.size) * np.where(ids % 10 == 0, 50.0, 1.0)
    y = rng.normal(0.2, np.sqrt(v + 0.05))
    return pd.DataFrame({"analysis_id": ids, "yi": y, "vi": v})


FRAME = _frame()


def _require(module: str) -> ModuleType:
    """The CPU array library ``module``: CI installs the dev extra, so there it must import."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install -e "
                               "'.[dev]' installs it; CI fails without it)")


def _assert_same(a: pd.DataFrame, b: pd.DataFrame, rtol: float) -> None:
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if col == "reason":          # text: why a row is not an ordinary fit ("" if it is)
            assert list(a[col]) == list(b[col]), col
            continue
        x, y = a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), col
        ok = ~np.isnan(x)
        if col == "iterations":      # another summation order may stop one step sooner or later
            assert np.all(np.abs(x - y) <= 2), col
            continue
        assert np.allclose(x[ok], y[ok], rtol=rtol, atol=rtol), col


@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("method", METHODS)
def test_strict_array_api_matches_numpy(method: str, test: str) -> None:
    xps = _require("array_api_strict")
    want = meta_analyses(FRAME, method=method, test=test)
    got = meta_analyses(FRAME, method=method, test=test, backend=xps)
    _assert_same(want, got, rtol=1e-12)


@pytest.mark.parametrize("method", ["DL", "REML", "PM"])
def test_torch_cpu_matches_numpy(method: str) -> None:
    torch = _require("torch")
    want = meta_analyses(FRAME, method=method)
    got = meta_analyses(FRAME, method=method, backend=torch, device="cpu")
    _assert_same(want, got, rtol=1e-12)


def _gpu_backends() -> list:
    found = []
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            found.append(pytest.param(cupy, None, id="cupy"))
    except Exception:          # not installed, or no CUDA driver
        pass
    try:
        import torch
        if torch.cuda.is_available():
            found.append(pytest.param(torch, "cuda", id="torch-cuda"))
    except Exception:
        pass
    return found or [pytest.param(None, None, marks=pytest.mark.skip(
        reason="GPU only: no CuPy or CUDA PyTorch with a GPU here (CI has no GPU)"))]


@pytest.mark.gpu
@pytest.mark.parametrize("backend, device", _gpu_backends())
@pytest.mark.parametrize("method", ["DL", "REML"])
def test_gpu_matches_numpy(backend, device, method: str) -> None:
    want = meta_analyses(FRAME, method=method)
    got = meta_analyses(FRAME, method=method, backend=backend, device=device)
    _assert_same(want, got, rtol=1e-10)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="field 'backend'"):
        meta_analyses(FRAME, backend="no_such_array_library")
