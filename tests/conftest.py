"""Shared test helpers: the metafor reference cases copied from shared/reference (schema in
tests/data/metafor/README.md)."""
from __future__ import annotations

import os

# One BLAS thread per test process: the suite runs in parallel processes (-n 2), and threaded
# BLAS in each makes the small dense solves of the multivariate models about 10x slower on a
# shared machine. Set before NumPy is imported here (and inherited by the xdist workers).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
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
#: the metafor reference sets: the same cases computed with metafor 3.8-1 (tests/data/metafor)
#: and 5.0-1 (tests/data/metafor5; its README lists what changed); "3.8" is the default of
#: load_case / case_ids, so tests that name no version keep comparing with 3.8-1
FIXTURE_SETS = {"3.8": FIXTURES, "5.0": FIXTURES.parent / "metafor5"}
METAFOR_VERSIONS = tuple(FIXTURE_SETS)


def _num(x: Any) -> Any:
    if x is None:
        return np.nan
    if isinstance(x, list):
        return [_num(v) for v in x]
    return x


@cache
def case_ids(version: str = "3.8") -> tuple[str, ...]:
    index = json.loads((FIXTURE_SETS[version] / "index.json").read_text())
    return tuple(c["case_id"] for c in index["cases"])


@cache
def load_case(case_id: str, version: str = "3.8") -> dict[str, Any]:
    case = json.loads((FIXTURE_SETS[version] / f"{case_id}.json").read_text())
    assert case["versions"]["metafor"].startswith(f"{version}."), (case_id, version)
    return case


def versioned_case_ids() -> list[tuple[str, str]]:
    """``(version, case_id)`` for every case of every reference set (parametrize over it)."""
    return [(version, cid) for version in METAFOR_VERSIONS for cid in case_ids(version)]


def case_data(case: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({k: _num(v) for k, v in case["data"].items()})


def case_yi_vi(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(_num(case["data"]["yi"]), dtype=float),
            np.asarray(_num(case["data"]["vi"]), dtype=float))


# --- strict comparison with metafor ----------------------------------------------------------
#
# ``null`` in a fixture is R's NA (or NaN / Inf / -Inf: tests/data/metafor/README.md). A
# comparison is strict about it: where metafor has NA metaverdict must give NaN / None (or an
# infinity), and where metafor has a number metaverdict must give a finite number within the
# tolerance. The only departures are the entries of EXEMPTIONS below, each naming the cases, the
# fields (and rows) and the reason, checked against the fixtures and metafor's sources by
# tests/test_metafor_exemptions.py. A field is named by its path in the fixture file, e.g.
# ``models/EE/predict/pi.lb`` or ``diagnostics/REML/influence/dfbs/intrcpt``; the ``what`` of a
# comparison is ``"<case_id> <path>"`` (so an exemption can only apply to a comparison that says
# which fixture field it compares).

METAFOR_NA = "metafor NA"          # metafor has NA where metaverdict has a number
NOT_REPORTED = "not reported"      # the fixture holds [] (metafor has no such column)


@dataclass(frozen=True)
class Exemption:
    """One documented departure from the strict NA rule.

    ``case`` and ``fields`` are fnmatch patterns over case ids and fixture paths; ``rows``
    (1-based, in data order) restricts the exemption to those positions of a per-study field.
    ``substitute`` is what metaverdict's value must equal instead: the name of a sibling field
    in the same fixture block (str) or a constant (float); ``None`` where our number is checked
    independently in tests/test_metafor_exemptions.py.
    """

    name: str
    case: str
    fields: tuple[str, ...]
    kind: str
    reason: str
    rows: tuple[int, ...] | None = None
    substitute: str | float | None = None

    def applies(self, what: str) -> bool:
        case, _, path = what.partition(" ")
        return fnmatch(case, self.case) and any(fnmatch(path, f) for f in self.fields)


#: every departure from the strict NA rule, with its reason (one place; ``name`` is the key
#: used in the session summary and in tests/test_metafor_exemptions.py)
EXEMPTIONS: tuple[Exemption, ...] = (
    Exemption(
        "EE/FE prediction interval", "*", ("models/EE/predict/pi.lb", "models/FE/predict/pi.lb"),
        METAFOR_NA, substitute="ci.lb",
        reason="metafor's predict.rma drops the PI bounds of FE/EE/CE models (R/predict.rma.r: "
               "'for FE/EE/CE models, remove the PI bounds'), so the fixture has null; "
               "metaverdict reports pred -/+ crit * sqrt(se^2 + tau2) with tau2 = 0, which is "
               "the CI: compared with metafor's ci.lb"),
    Exemption(
        "EE/FE prediction interval (upper)", "*",
        ("models/EE/predict/pi.ub", "models/FE/predict/pi.ub"), METAFOR_NA, substitute="ci.ub",
        reason="as for pi.lb: metafor drops the bound for FE/EE/CE models; ours equals ci.ub"),
    Exemption(
        "EE leave1out/cumul tau2", "*",
        ("diagnostics/EE/leave1out/tau2", "diagnostics/EE/cumul/tau2"), NOT_REPORTED,
        substitute=0.0,
        reason="metafor's leave1out/cumul of an equal-effects model have no tau2 column (the "
               "fixture holds []); metaverdict reports tau2 = 0 for every refit"),
    Exemption(
        "normand1999 REML refits of studies 2 and 6", "dat.normand1999__MD",
        tuple(f"diagnostics/REML/leave1out/{f}" for f in (
            "estimate", "se", "zval", "pval", "ci.lb", "ci.ub", "Q", "Qp", "tau2", "I2", "H2"))
        + tuple(f"diagnostics/REML/influence/{f}" for f in (
            "rstudent", "dffits", "cook.d", "cov.r", "tau2.del", "QE.del", "dfbs/*", "is.infl")),
        METAFOR_NA, rows=(2, 6),
        reason="metafor's refits without study 2 and without study 6 gave NA (leave1out.rma.uni "
               "and influence wrap each refit in try() and leave NA where it fails). The cause: "
               "the fixtures' Fisher-scoring threshold 1e-13 is below the spacing of doubles "
               "(1.14e-13) at these tau2 (773.3, 756.8, in [512, 1024)), so the iteration stops "
               "only if it lands exactly on a fixed point, else it runs out of iterations "
               "('did not converge'); a Python replica of metafor's iteration fails the same "
               "way on 4 of the 9 refits (which ones depends on rounding). metaverdict's "
               "refits are the REML solutions (checked against an independent root of the "
               "REML score equation in tests/test_metafor_exemptions.py)"),
)

#: session totals, printed by pytest_terminal_summary (merged from xdist workers)
COMPARED: Counter[str] = Counter()


def _exemption(what: str) -> Exemption | None:
    found = [e for e in EXEMPTIONS if e.applies(what)]
    assert len(found) <= 1, f"{what}: several exemptions apply: {[e.name for e in found]}"
    return found[0] if found else None


def _strict_na(got_arr: np.ndarray, want_arr: np.ndarray, what: str) -> np.ndarray:
    """Positions to compare numerically; fails on an NA mismatch that no exemption covers."""
    want_na = np.isnan(want_arr)
    got_na = ~np.isfinite(got_arr)
    bad = want_na != got_na
    if bad.any():
        ex = _exemption(what)
        allowed = np.zeros_like(bad)
        if ex is not None and ex.kind == METAFOR_NA:
            allowed = want_na & ~got_na
            if ex.rows is not None:
                rows = np.zeros(want_arr.size, dtype=bool)
                rows[[r - 1 for r in ex.rows if r <= want_arr.size]] = True
                allowed &= rows.reshape(want_arr.shape)
        unexplained = bad & ~allowed
        idx = np.flatnonzero(unexplained.ravel())
        assert not idx.size, (
            f"{what}: NA mismatch at positions {(idx + 1).tolist()} (1-based): metaverdict "
            f"{got_arr.ravel()[idx].tolist()}, metafor "
            f"{[None if np.isnan(w) else float(w) for w in want_arr.ravel()[idx]]} "
            "(add a documented entry to EXEMPTIONS in tests/conftest.py only if this is not a "
            "real difference)")
        assert ex is not None
        COMPARED[f"exempt:{ex.name}"] += int(bad.sum())
    COMPARED["na_agreed"] += int((want_na & got_na).sum())
    return ~want_na & ~got_na


def assert_close(got: Any, want: Any, what: str, rtol: float = 1e-6, atol: float = 1e-8) -> int:
    """Compare with a reference value, strictly: R's NA (null) in ``want`` must be NaN / None in
    ``got`` and a number must be a finite number within ``atol + rtol * |want|``, except where
    an entry of EXEMPTIONS covers ``what`` (``"<case_id> <fixture path>"``). Returns the number
    of values compared (also counted for the session summary)."""
    want_arr = np.atleast_1d(np.asarray(_num(want), dtype=float))
    got_arr = np.atleast_1d(np.asarray(_num(got), dtype=float))
    assert got_arr.shape == want_arr.shape, f"{what}: shape {got_arr.shape} != {want_arr.shape}"
    keep = _strict_na(got_arr, want_arr, what)
    ok = np.abs(got_arr[keep] - want_arr[keep]) <= atol + rtol * np.abs(want_arr[keep])
    assert ok.all(), f"{what}: got {got_arr[keep][~ok]}, metafor {want_arr[keep][~ok]}"
    COMPARED["fields"] += 1
    COMPARED["values"] += int(want_arr.size)
    return int(want_arr.size)


class FixtureBlock:
    """Accounts for every key of one fixture block (a dict) while comparing it.

    ``close(key, got)`` compares a numeric field strictly (``assert_close``; ``on`` maps both
    values to the scale of the comparison first), ``equal(key, got)``
    a label, flag or count exactly, ``note(key, why)`` marks a key as descriptive only (the why
    is part of the test), ``block(key)`` opens a nested block. ``done(floor)`` fails if a key of
    the fixture was not accounted for (a renamed or new key cannot turn into zero assertions)
    or if fewer than ``floor`` fields (the number the schema in tests/data/metafor/README.md
    promises) were compared, and returns the number compared.
    """

    def __init__(self, ref: dict[str, Any], what: str, parent: FixtureBlock | None = None):
        assert isinstance(ref, dict), f"{what}: not a fixture block: {ref!r}"
        self.ref, self.what, self.parent = ref, what, parent
        self.seen: set[str] = set()
        self.compared = 0
        self.children: list[FixtureBlock] = []

    def _take(self, key: str) -> Any:
        assert key in self.ref, f"{self.what}: the fixture has no field {key!r}"
        assert key not in self.seen, f"{self.what}/{key} compared twice"
        self.seen.add(key)
        return self.ref[key]

    def close(self, key: str, got: Any, on: Callable[[Any], Any] | None = None,
              **tol: float) -> None:
        want = self._take(key)
        what = f"{self.what}/{key}"
        if on is not None:   # compare on another scale, e.g. tau on the tau2 scale
            got = on(np.asarray(_num(got), dtype=float))
            want = on(np.asarray(_num(want), dtype=float))
        ex = _exemption(what)
        empty = isinstance(want, list) and not want
        if empty and ex is not None and ex.kind == NOT_REPORTED:
            got_arr = np.atleast_1d(np.asarray(got, dtype=float))
            assert got_arr.size, f"{what}: metaverdict gives nothing"
            assert_close(got_arr, np.full(got_arr.shape, float(ex.substitute)),  # type: ignore
                         f"{what} (instead of the field metafor does not report)", **tol)
            COMPARED[f"exempt:{ex.name}"] += int(got_arr.size)
        else:
            assert not empty, f"{what}: the fixture holds [] and no exemption explains it"
            assert_close(got, want, what, **tol)
            if ex is not None and isinstance(ex.substitute, str):
                # where metafor has NA, metaverdict's number must equal the named sibling field
                want_arr = np.atleast_1d(np.asarray(_num(want), dtype=float))
                sub = np.atleast_1d(np.asarray(_num(self.ref[ex.substitute]), dtype=float))
                na = np.isnan(want_arr)
                if na.any():
                    assert_close(np.atleast_1d(np.asarray(got, dtype=float))[na], sub[na],
                                 f"{what} (vs metafor's {ex.substitute})", **tol)
        self.compared += 1

    def equal(self, key: str, got: Any) -> None:
        want = self._take(key)
        assert got == want, f"{self.what}/{key}: metaverdict {got!r}, metafor {want!r}"
        COMPARED["fields"] += 1
        COMPARED["values"] += len(want) if isinstance(want, list) else 1
        self.compared += 1

    def note(self, key: str, why: str) -> Any:
        """A descriptive key (a call, a label of how metafor was run): not a result."""
        assert why
        return self._take(key)

    def block(self, key: str) -> FixtureBlock:
        child = FixtureBlock(self._take(key), f"{self.what}/{key}", self)
        self.children.append(child)
        return child

    def total(self) -> int:
        return self.compared + sum(c.total() for c in self.children)

    def _check_keys(self) -> None:
        missing = sorted(set(self.ref) - self.seen)
        assert not missing, (f"{self.what}: fixture fields not compared: {missing} (map them "
                             "in the test, or note why they are not results)")
        for child in self.children:
            child._check_keys()

    def done(self, floor: int = 1) -> int:
        self._check_keys()
        n = self.total()
        assert n >= floor, f"{self.what}: compared {n} fields, the schema promises {floor}"
        COMPARED["blocks"] += 1
        return n


# pytest-xdist: each worker counts its own comparisons; the controller adds them up
def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["metafor_compared"] = json.dumps(dict(COMPARED))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    data = getattr(node, "workeroutput", {}).get("metafor_compared")
    if data:
        COMPARED.update(json.loads(data))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COMPARED["fields"]:
        return
    tr = terminalreporter
    tr.section("metafor comparisons")
    tr.write_line(
        f"{COMPARED['fields']} fields, {COMPARED['values']} values compared with metafor "
        f"({COMPARED['na_agreed']} of them NA in both); {COMPARED['blocks']} fixture blocks with "
        "every key accounted for")
    for ex in EXEMPTIONS:
        n = COMPARED[f"exempt:{ex.name}"]
        tr.write_line(f"  exemption {ex.name!r}: {n} values" + ("" if n else " (unused)"))


def evidence_row(source: str, timepoint: str, estimate: float, **kw: Any) -> dict[str, str]:
    """One studies.csv row of a dry-needling neck-pain trial (MD with a CI of ±1), for import
    tests; keyword arguments set or add columns."""
    out = {"source_id": source, "citation": f"Author {source}. A trial. 2020.", "design": "rct",
           "treatment": "dry needling", "comparator": "sham", "condition": "neck pain",
           "outcome": "pain (VAS, 0-10)", "timepoint": timepoint, "effect_measure": "MD",
           "estimate": str(estimate), "ci_lower": str(estimate - 1),
           "ci_upper": str(estimate + 1), "n_treatment": "20", "n_control": "20",
           "certainty": "PEDro 8/10", "url_or_location": "https://example.org/t",
           "verbatim_quote": f"MD {estimate}"}
    out.update({k: str(v) for k, v in kw.items()})
    return out


@pytest.fixture(params=case_ids())
def case(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load_case(request.param)


# Evidence store fixtures (tests/evidence): SQLite stores in tmp_path, PostgreSQL by env URL.
# Here rather than in a tests/evidence/conftest.py, which would shadow this module's helpers.

@pytest.fixture(scope="module")
def bundled_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A SQLite file store seeded with the bundled evidence (shared by a module; read only)."""
    from metaverdict.evidence import open_store

    path = tmp_path_factory.mktemp("bundled") / "evidence.sqlite"
    with open_store(f"sqlite:///{path}") as store:
        yield store


@pytest.fixture
def empty_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated, unseeded SQLite file store."""
    from metaverdict.evidence import open_store

    with open_store(f"sqlite:///{tmp_path / 'empty.sqlite'}", seed=False) as store:
        yield store


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL URL from METAVERDICT_TEST_POSTGRES_URL (skips when unset)."""
    url = os.environ.get("METAVERDICT_TEST_POSTGRES_URL", "").strip()
    if not url:
        pytest.skip("METAVERDICT_TEST_POSTGRES_URL is not set")
    return url
