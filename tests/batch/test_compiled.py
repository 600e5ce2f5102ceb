"""The compiled kernel is optional and equals the array kernels: Numba stays out of
``import metaverdict`` and single fits, the NumPy path serves every call without it, threads
and chunks do not change a result, the on-disk cache follows the sources, and the kernel's
special functions equal SciPy's."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from metaverdict.batch import compiled, fit_arrays, group_rows, meta_analyses
from metaverdict.errors import InputError
from metaverdict.models.random_effects import SolverControl

needs_numba = pytest.mark.skipif(not compiled.available(),
                                 reason="the compiled kernel needs Numba (the 'fast' extra; "
                                        "the 'dev' extra has it)")
METHODS = ["EE", "DL", "HE", "PM", "ML", "REML"]


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return out.strip().splitlines()[-1]


def _frame(n: int = 200, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ks = rng.integers(1, 9, n)
    ids = np.repeat(np.arange(n), ks)
    v = rng.uniform(0.01, 0.3, ids.size)
    return pd.DataFrame({"analysis_id": ids, "yi": rng.normal(0.2, np.sqrt(v + 0.05)), "vi": v})


def test_import_and_single_fits_never_load_numba() -> None:
    code = ("import sys, metaverdict as mv\n"
            "mv.meta_analysis([0.1, 0.3, 0.5], [0.01, 0.02, 0.015], method='REML')\n"
            "mv.meta_analysis([0.1, 0.3, 0.5], [0.01, 0.02, 0.015], method='DL', test='knha')\n"
            "import metaverdict.batch\n"
            "print('numba' in sys.modules)")
    assert _python(code) == "False"


_WITHOUT_NUMBA = """
import json, sys
sys.modules["numba"] = None                    # as if Numba were not installed
import pandas as pd
from metaverdict.batch import compiled, meta_analyses
from metaverdict.errors import InputError
frame = pd.read_parquet(sys.argv[1])
out = {"available": compiled.available()}
for method in sys.argv[2].split(","):
    for test in ("z", "knha"):
        res = meta_analyses(frame, method=method, test=test)
        out[method + "-" + test] = res.drop(columns="reason").to_dict(orient="list")
try:
    meta_analyses(frame, method="REML", backend="numba")
except InputError as exc:
    out["numba_error"] = str(exc)
print(json.dumps(out))
"""


def test_without_numba_the_numpy_kernels_serve_every_call(tmp_path: Path) -> None:
    frame = _frame()
    src = tmp_path / "frame.parquet"
    frame.to_parquet(src)
    got = json.loads(subprocess.run(
        [sys.executable, "-c", _WITHOUT_NUMBA, str(src), ",".join(METHODS)], check=True,
        capture_output=True, text=True).stdout.strip().splitlines()[-1])
    assert got["available"] is False
    assert "pip install 'metaverdict[fast]'" in got["numba_error"]
    for method in METHODS:
        for test in ("z", "knha"):
            want = meta_analyses(frame, method=method, test=test).drop(columns="reason")
            have = pd.DataFrame(got[f"{method}-{test}"])
            for col in want.columns:
                a, b = have[col].to_numpy(float), want[col].to_numpy(float)
                if col == "iterations":       # another summation order may stop a step apart
                    assert np.all(np.abs(a - b) <= 2), method
                    continue
                assert np.allclose(a, b, rtol=1e-10, atol=1e-10, equal_nan=True), (method, col)


@needs_numba
@pytest.mark.parametrize("method", METHODS)
def test_threads_and_chunks_do_not_change_results(method: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    v = rng.uniform(0.01, 0.3, (3000, 6))
    y = rng.normal(0.1, np.sqrt(v + 0.04))
    one = fit_arrays(y, v, method=method, test="knha", threads=1)
    monkeypatch.setattr(compiled, "CHUNK_VALUES", 6 * 96)         # 96 analyses a chunk
    many = fit_arrays(y, v, method=method, test="knha", threads=3)
    pd.testing.assert_frame_equal(one, many, check_exact=True)


def test_threads_are_checked() -> None:
    with pytest.raises(InputError, match="field 'threads'"):
        fit_arrays(np.zeros((2, 3)), np.ones((2, 3)), threads=0)


@needs_numba
def test_the_cache_key_follows_the_sources(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Numba's cache checks only the kernel module's own file; the salt in the key (a closure
    variable of the entry point) covers the formulas and the schema it is compiled from."""
    from metaverdict.batch import _kernels
    from metaverdict.models import formulas
    cells = [c.cell_contents for c in _kernels.fit_range.py_func.__closure__]
    assert _kernels._source_salt() in cells
    edited = tmp_path / "formulas.py"
    edited.write_text(Path(formulas.__file__).read_text() + "\n# an edit\n")
    before = _kernels._source_salt()
    monkeypatch.setattr(formulas, "__file__", str(edited))
    assert _kernels._source_salt() != before


@needs_numba
def test_the_kernel_is_compiled_without_fastmath() -> None:
    """The kernel keeps IEEE semantics (the order of every sum is the reference engine's up to
    the lane layout), so no result depends on fast-math reassociation."""
    from metaverdict.batch import _kernels
    assert not _kernels.fit_range.targetoptions.get("fastmath")


@needs_numba
def test_special_functions_equal_scipy() -> None:
    import numba

    from metaverdict.batch import _kernels as K

    lanes = K.LANES

    @numba.njit
    def erfc(x: np.ndarray) -> np.ndarray:
        L = np.zeros(K.N_LANE_FIELDS * lanes)
        out = np.empty_like(x)
        for a in range(0, x.shape[0], lanes):
            for ln in range(lanes):
                L[K.Lane.o_q * lanes + ln] = x[min(a + ln, x.shape[0] - 1)]
            K._erfc_lanes(L, K.Lane.o_q, K.Lane.o_p)
            for ln in range(min(lanes, x.shape[0] - a)):
                out[a + ln] = L[K.Lane.o_p * lanes + ln]
        return out

    @numba.njit
    def chi2(x: np.ndarray, df: int) -> np.ndarray:
        L = np.zeros(K.N_LANE_FIELDS * lanes)
        out = np.empty_like(x)
        for a in range(0, x.shape[0], lanes):
            for ln in range(lanes):
                L[K.Lane.o_q * lanes + ln] = x[min(a + ln, x.shape[0] - 1)]
            K._chi2_sf_lanes(L, K.Lane.o_q, K.Lane.o_qp, df)
            for ln in range(min(lanes, x.shape[0] - a)):
                out[a + ln] = L[K.Lane.o_qp * lanes + ln]
        return out

    x = np.concatenate([[0.0, 1e-300, 1e-12], np.linspace(0, 27, 20_001), [30.0, 1e10]])
    want = special.erfc(x)
    got = erfc(x)
    big = want > 1e-290
    assert np.all(np.abs(got[big] / want[big] - 1) < 5e-14)
    assert np.all(got[~big] < 1e-280)
    assert erfc(np.array([math.inf]))[0] == 0.0 and np.isnan(erfc(np.array([math.nan]))[0])
    q = np.concatenate([[0.0, 1e-10], np.geomspace(1e-6, 1500, 4_000), [math.inf]])
    for df in range(1, 61):
        want = special.chdtrc(df, q)
        got = chi2(q, df)
        ok = want > 1e-290
        assert np.all(np.abs(got[ok] - want[ok]) <= 1e-13 * want[ok] + 1e-15), df
        assert got[-1] == 0.0


@needs_numba
def test_the_rough_logarithm_is_within_its_bound() -> None:
    """The grid's screen (``_log_rough``) is within ``_LOG_ROUGH_ERR`` of the logarithm over
    float64's normal range, and that bound is small enough that the screen rarely passes
    a point on to the exact logarithm."""
    import numba

    from metaverdict.batch import _kernels as K

    rough = numba.njit(lambda x: [K._log_rough(a) for a in x])
    rng = np.random.default_rng(3)
    x = np.concatenate([np.exp(rng.uniform(-705, 705, 100_000)), np.linspace(0.5, 2, 100_001),
                        [np.finfo(float).tiny, np.finfo(float).max, 1.0]])
    err = np.abs(np.array(rough(x)) - np.log(x))
    assert err.max() <= K._LOG_ROUGH_ERR < 1e-7
    assert err.max() > K._LOG_ROUGH_ERR / 4          # the bound is not slack either


def _grid_lanes(y: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
    """The lane layout of ``(LANES, k)`` analyses as the kernel's loading leaves it, with the
    grid's top (see ``_likelihood_checks``)."""
    from metaverdict.batch import _kernels as K

    lanes, k = y.shape
    d = y - y.mean(axis=1, keepdims=True)
    L = np.zeros(K.N_LANE_FIELDS * lanes)
    for field, value in ((K.Lane.vmin, v.min(1)), (K.Lane.vmax, v.max(1)),
                         (K.Lane.ss, (d * d).sum(1)),
                         (K.Lane.top, 4 * ((d * d).sum(1) / (k - 1) + v.max(1)))):
        L[field * lanes:(field + 1) * lanes] = value
    return d.T.reshape(-1).copy(), v.T.reshape(-1).copy(), L


@needs_numba
@pytest.mark.parametrize("kind, k, polynomial", [
    ("usual", 2, True), ("usual", 3, True), ("usual", 10, True), ("usual", 17, True),
    ("outliers", 5, True), ("outliers", 10, True),
    ("tiny", 18, True),        # products of two of the values would underflow
    ("huge", 10, True), ("usual", 32, True), ("usual", 33, False),   # k: what pays
    ("tiny", 30, False), ("extreme", 10, False)])
def test_the_likelihood_grid_equals_the_formula(kind: str, k: int, polynomial: bool) -> None:
    """Every grid point's ML and REML log-likelihood of every lane, from the polynomials of
    ``_grid`` (where they fit float64's range) or study by study (where not), equals the
    formula evaluated here with NumPy, to 1e-13 relative."""
    import numba

    from metaverdict.batch import _kernels as K
    from metaverdict.batch.fitting import _GRID

    lanes = K.LANES
    rng = np.random.default_rng(k)
    scale = {"usual": 1.0, "outliers": 1.0, "tiny": 1e-9, "huge": 1e9, "extreme": 1.0}[kind]
    v = (10 ** rng.uniform(-3, 0.5, (lanes, k)) if kind == "outliers"
         else rng.uniform(0.01, 0.3, (lanes, k)))
    if kind == "extreme":
        v[0, 0] = 1e-80                        # below the polynomials' range
    y = rng.normal(0, 1, (lanes, k)) * np.sqrt(v)
    if kind == "outliers":
        y += rng.choice([0, 2, -2], (lanes, k), p=[0.6, 0.2, 0.2])
    y, v = y * np.sqrt(scale), v * scale
    Y, V, L = _grid_lanes(y, v)
    G = np.empty(3 * (k + 1) * lanes)
    assert K._polynomial_grid_fits(L, k, _GRID[-1]) == polynomial

    @numba.njit
    def each_point(Y, V, L, G, k, method, grid, out):  # type: ignore[no-untyped-def]
        for j in range(grid.shape[0]):        # one point at a time: its value is the best
            L[K.Lane.best * lanes:(K.Lane.best + 1) * lanes] = -1e300
            K._grid(Y, V, L, G, k, method, grid[j:j + 1])
            out[j] = L[K.Lane.best * lanes:(K.Lane.best + 1) * lanes]

    t = L[K.Lane.top * lanes:(K.Lane.top + 1) * lanes, None] * _GRID       # (lanes, points)
    w = 1 / (v[:, None, :] + t[..., None])
    mu = (w * y[:, None, :]).sum(-1) / w.sum(-1)
    rss = (w * (y[:, None, :] - mu[..., None]) ** 2).sum(-1)
    logs = np.log(v[:, None, :] + t[..., None]).sum(-1)
    want = {K.Method.ML: -0.5 * k * np.log(2 * np.pi) - 0.5 * logs - 0.5 * rss,
            K.Method.REML: (-0.5 * (k - 1) * np.log(2 * np.pi) + 0.5 * np.log(k)
                            - 0.5 * (logs + np.log(w.sum(-1))) - 0.5 * rss)}
    for method, ll in want.items():
        got = np.empty((len(_GRID), lanes))
        each_point(Y, V, L, G, k, int(method), _GRID, got)
        assert np.abs(got.T - ll).max() <= 1e-13 * (1 + np.abs(ll).max()), method


@needs_numba
@pytest.mark.parametrize("sort", [True, False])
def test_grouping_is_the_same_with_and_without_numba(sort: bool,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _frame(3000)
    keys = frame["analysis_id"] if sort else frame["analysis_id"].sample(frac=1, random_state=1)
    fast = group_rows(keys.reset_index(drop=True), threads=2)
    monkeypatch.setattr(compiled, "available", lambda: False)
    slow = group_rows(keys.reset_index(drop=True))
    pd.testing.assert_index_equal(fast.keys, slow.keys)
    assert np.array_equal(fast.sizes, slow.sizes)
    assert np.array_equal(fast.first_rows, slow.first_rows)
    assert [(b.k, b.positions.tolist()) for b in fast] == [(b.k, b.positions.tolist())
                                                           for b in slow]


def _outliers(n: int = 1500, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Analyses with outlying studies: ML/REML likelihoods with two maxima are common here."""
    rng = np.random.default_rng(5)
    v = 10 ** rng.uniform(-3, 0.5, (n, k))
    y = rng.normal(0, 1, (n, k)) * np.sqrt(v) + rng.choice([0, 2, -2], (n, k), p=[0.6, 0.2, 0.2])
    return y, v


@needs_numba
@pytest.mark.parametrize("method", ["ML", "REML"])
@pytest.mark.parametrize("control", [
    SolverControl(step="newton"), SolverControl(step="newton", global_search=False),
    SolverControl(step="newton", global_search="screened"),
    SolverControl(step="newton", max_iter=2)], ids=["grid", "no-grid", "screened", "max_iter=2"])
def test_every_path_of_the_solver_equals_the_array_kernels(method: str,
                                                           control: SolverControl) -> None:
    """The grid restarts (a second, higher maximum), the comparison with tau² = 0, the
    screened checks and the bracketing search after max_iter Newton steps."""
    y, v = _outliers()
    got = fit_arrays(y, v, method=method, control=control)
    want = fit_arrays(y, v, method=method, control=control, backend="numpy")
    if control.global_search is True and control.max_iter > 2:
        local = fit_arrays(y, v, method=method, backend="numpy",
                           control=SolverControl(step="newton", global_search=False))
        assert (np.abs(local["tau2"] - want["tau2"]) > 1e-6).sum() >= 5    # restarts happen
    if control.max_iter == 2:
        assert (want["iterations"] > 2).sum() >= 10                       # searches happen
    for col in ("estimate", "se", "tau2", "tau2_se", "pvalue", "q_pvalue", "pi_lower"):
        assert np.allclose(got[col], want[col], rtol=1e-10, atol=1e-12), col
    assert (got["converged"] == want["converged"]).all()


@needs_numba
@pytest.mark.parametrize("method", ["ML", "REML"])
@pytest.mark.parametrize("max_iter", [100, 1, 4])
def test_newton_steps_in_lanes_equal_the_array_kernels(method: str, max_iter: int) -> None:
    """k = 10 and thousands of analyses, as in the benchmark: most Newton steps are taken by
    all lanes of a block at once (``_newton_lanes``), the last lanes of a block finish in
    slots, and with a small ``max_iter`` the lanes hand over to the slots (and those to the
    bracketing search) at every step count."""
    rng = np.random.default_rng(11)
    n, k = 3000, 10
    v = rng.uniform(0.01, 0.3, (n, k))
    tau2 = np.where(rng.random(n) < 0.3, 0.0, rng.exponential(0.05, n))
    y = rng.normal(0.2, 0.3, n)[:, None] + rng.standard_normal((n, k)) * np.sqrt(v + tau2[:, None])
    control = SolverControl(step="newton", max_iter=max_iter)
    got = fit_arrays(y, v, method=method, control=control)
    want = fit_arrays(y, v, method=method, control=control, backend="numpy")
    assert (want["iterations"] > 4).sum() >= 100                     # long iterations happen
    for col in ("estimate", "se", "tau2", "tau2_se", "pvalue", "pi_lower", "pi_upper"):
        assert np.allclose(got[col], want[col], rtol=1e-10, atol=1e-12), col
    assert (got["converged"] == want["converged"]).all()
    if max_iter == 100:                      # the same Newton steps: the same step counts
        assert (got["iterations"] == want["iterations"]).mean() > 0.99
