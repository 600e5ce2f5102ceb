"""Shared test helpers: the metafor reference cases copied from shared/reference (schema in
tests/data/metafor/README.md)."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from metaverdict.evidence.store import Store

# Property tests: random examples locally ("dev"); CI (.ci/run sets HYPOTHESIS_PROFILE=ci) runs
# a fixed, derandomized set so that a red build is reproducible. No deadline on a shared machine.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

FIXTURES = Path(__file__).parent / "data" / "metafor"


def _num(x: Any) -> Any:
    if x is None:
        return np.nan
    if isinstance(x, list):
        return [_num(v) for v in x]
    return x


@cache
def case_ids() -> tuple[str, ...]:
    index = json.loads((FIXTURES / "index.json").read_text())
    return tuple(c["case_id"] for c in index["cases"])


@cache
def load_case(case_id: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{case_id}.json").read_text())


def case_data(case: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({k: _num(v) for k, v in case["data"].items()})


def case_yi_vi(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(_num(case["data"]["yi"]), dtype=float),
            np.asarray(_num(case["data"]["vi"]), dtype=float))


def assert_close(got: Any, want: Any, what: str, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """Compare with a reference value; R's NA (null) entries in ``want`` are not compared."""
    want_arr = np.atleast_1d(np.asarray(_num(want), dtype=float))
    got_arr = np.atleast_1d(np.asarray(got, dtype=float))
    assert got_arr.shape == want_arr.shape, f"{what}: shape {got_arr.shape} != {want_arr.shape}"
    keep = ~np.isnan(want_arr)
    ok = np.abs(got_arr[keep] - want_arr[keep]) <= atol + rtol * np.abs(want_arr[keep])
    assert ok.all(), f"{what}: got {got_arr[keep][~ok]}, metafor {want_arr[keep][~ok]}"


@pytest.fixture(params=case_ids())
def case(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load_case(request.param)


# Evidence store fixtures (tests/evidence): SQLite stores in tmp_path, PostgreSQL by env URL.
# Here rather than in a tests/evidence/conftest.py, which would shadow this module's helpers.

@pytest.fixture(scope="module")
def bundled_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A SQLite file store seeded with the bundled evidence (shared by a module; read only)."""
    from metaverdict.evidence.store import open_store

    path = tmp_path_factory.mktemp("bundled") / "evidence.sqlite"
    with open_store(f"sqlite:///{path}") as store:
        yield store


@pytest.fixture
def empty_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated, unseeded SQLite file store."""
    from metaverdict.evidence.store import open_store

    with open_store(f"sqlite:///{tmp_path / 'empty.sqlite'}", seed=False) as store:
        yield store


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL URL from METAVERDICT_TEST_POSTGRES_URL (skips when unset)."""
    url = os.environ.get("METAVERDICT_TEST_POSTGRES_URL", "").strip()
    if not url:
        pytest.skip("METAVERDICT_TEST_POSTGRES_URL is not set")
    return url
