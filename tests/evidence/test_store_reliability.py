"""The store under bad input and concurrent writers (reliability review 2026-12, D10-D12).

Every bad file is rejected with an InputError naming row and column, before anything is
written, and identically on SQLite and PostgreSQL (the PostgreSQL cases run when
METAVERDICT_TEST_POSTGRES_URL is set); two processes writing to one SQLite store both succeed.
"""
from __future__ import annotations

import csv
import multiprocessing as mp
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from metaverdict.errors import InputError
from metaverdict.evidence import Store, open_store
from metaverdict.evidence.io import import_csv, import_rows
from metaverdict.evidence.models import Result
from metaverdict.evidence.records import CSV_COLUMNS

from evidence_fixtures import csv_row


def _row(i: int, **over: str) -> dict[str, str]:
    return csv_row(i, source_prefix="rel", citation_prefix="Reliability trial", **over)


def _write(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    """Write rows under ``header`` (default: every key); keys outside it become extra fields."""
    header = header or list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header] + [v for k, v in r.items()
                                                          if k not in header])
    return path


def _snapshot(store: Store) -> tuple[Any, ...]:
    """Row counts plus every result's (id, position, estimate): equal means unchanged."""
    with store.session() as s:
        results = tuple(s.execute(select(Result.id, Result.position, Result.estimate)
                                  .order_by(Result.id)).all())
    return (tuple(store.counts().items()), results)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An unseeded store on each backend (PostgreSQL skipped unless configured)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rel.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
        from sqlalchemy import MetaData, text
        with open_store(url, seed=False) as st_, st_.engine.begin() as conn:
            meta = MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    with open_store(url, seed=False) as store:
        import_rows(store, [_row(1)])
        yield store


# -- D11/D12: bad values, the same verdict on both backends -----------------------------------
BAD_VALUES = [
    ({"estimate": "inf"}, "row 1, column 'estimate': must be a finite number, got 'inf'"),
    ({"estimate": "nan"}, "row 1, column 'estimate': must be a finite number, got 'nan'"),
    ({"ci_lower": "-Infinity"}, "row 1, column 'ci_lower': must be a finite number"),
    ({"ci_upper": "1e400"}, "row 1, column 'ci_upper': must be a finite number"),
    ({"estimate": "1_000"}, "row 1, column 'estimate': must be a number"),
    ({"estimate": "(1+2j)"}, "row 1, column 'estimate': must be a number"),
    ({"sd_treatment": "nan"}, "row 1, column 'sd_treatment': must be a non-negative finite"),
    ({"n_treatment": "1e400"}, "row 1, column 'n_treatment': must be a positive integer"),
    ({"n_treatment": str(2**70)}, "row 1, column 'n_treatment': must be a positive integer "
                                  "of at most 2147483647"),
    ({"n_control": "2147483648"}, "row 1, column 'n_control': must be a positive integer of"),
    ({"source_id": "s" * 500}, "row 1, column 'source_id': at most 120 characters, got 500"),
    ({"mean_treatment": "1" * 500}, "row 1, column 'mean_treatment': at most 100 characters"),
    ({"notes": "a\x00b"}, "row 1, column 'notes': must not contain a NUL character"),
    ({"comparator_name": "c" * 301}, "row 1, column 'comparator_name': at most 300 characters"),
    ({"stated_mid": "inf"}, "row 1, column 'stated_mid': must be a finite number"),
]


@pytest.mark.parametrize("over, message", BAD_VALUES, ids=[k for o, _ in BAD_VALUES for k in o])
def test_bad_values_are_rejected_by_row_and_column(any_store: Store, tmp_path: Path,
                                                   over: dict[str, str], message: str) -> None:
    before = _snapshot(any_store)
    path = _write(tmp_path / "bad.csv", [_row(2), _row(3, **over)])
    with pytest.raises(InputError) as exc:
        import_csv(any_store, path)
    assert message.replace("row 1", "row 2") in str(exc.value)
    assert _snapshot(any_store) == before


def test_largest_valid_values_are_stored(any_store: Store, tmp_path: Path) -> None:
    row = _row(4, n_treatment="2147483647", source_id="s" * 120, estimate="-1.5e300",
               ci_lower="-1.6e300", ci_upper="-1.4e300", effect_measure="MD")
    assert import_csv(any_store, _write(tmp_path / "ok.csv", [row])) == 1
    got = any_store.results(source="s" * 120)[0]
    assert got.n_treatment == 2147483647 and got.estimate == -1.5e300


# -- D12: structure of the file -----------------------------------------------------------------
def test_duplicate_header_is_rejected(empty_store: Store, tmp_path: Path) -> None:
    row = _row(1)
    path = _write(tmp_path / "dup.csv", [{**row, "estimate2": "9"}],
                  header=[*row, "estimate"])
    with pytest.raises(InputError, match=r"column 'estimate' appears twice in the header "
                                         r"\(columns 11 and 27\)"):
        import_csv(empty_store, path)
    assert empty_store.is_empty()


def test_extra_fields_in_a_row_are_rejected(empty_store: Store, tmp_path: Path) -> None:
    row = _row(1)
    path = _write(tmp_path / "extra.csv", [row, {**row, "x": "EXTRA"}], header=list(row))
    with pytest.raises(InputError, match=r"row 2: 27 fields but the header has 26 columns"):
        import_csv(empty_store, path)
    assert empty_store.is_empty()


def test_non_utf8_file_names_the_line(empty_store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path / "latin.csv", [_row(1), _row(2, notes="café")])
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    with pytest.raises(InputError, match=r"line 3: not UTF-8 text"):
        import_csv(empty_store, path)


def test_unknown_kind_filter_is_an_error(empty_store: Store) -> None:
    with pytest.raises(InputError, match="option 'kind': must be one of primary, review"):
        empty_store.results(kind="bogus")


# -- D10: store URLs ------------------------------------------------------------------------
@pytest.mark.parametrize("url, message", [
    ("nonsense://x", "not a database URL this installation can use"),
    ("not a url", "the database URL (--db or METAVERDICT_DATABASE_URL) cannot be parsed"),
    ("NOTSQLITE", "cannot be opened (file is not a database)"),
    ("FOLDER", "cannot be opened (unable to open database file)"),
])
def test_unusable_store_url_is_an_input_error(tmp_path: Path, url: str, message: str) -> None:
    not_sqlite = tmp_path / "x.db"
    not_sqlite.write_text("this is not a database " * 100)
    url = url.replace("NOTSQLITE", f"sqlite:///{not_sqlite}").replace(
        "FOLDER", f"sqlite:///{tmp_path}")
    with pytest.raises(InputError) as exc:
        open_store(url, seed=False)
    assert message in str(exc.value)


# -- atomicity -----------------------------------------------------------------------------------
def test_failure_while_writing_leaves_the_store_unchanged(empty_store: Store) -> None:
    import_rows(empty_store, [_row(1)])
    before = _snapshot(empty_store)
    rows = [_row(i) for i in range(2, 40)] + [_row(4, citation="Another citation for rel1")]
    with pytest.raises(InputError, match="column 'citation'"):
        import_rows(empty_store, rows)
    assert _snapshot(empty_store) == before


def test_busy_store_gives_operational_error_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite"
    open_store(f"sqlite:///{path}", seed=False).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")                      # another writer holds the lock
    try:
        with open_store(f"sqlite:///{path}?timeout=0.2", seed=False) as store:
            with pytest.raises(OperationalError, match="database is locked"):
                import_rows(store, [_row(1)])
            assert store.is_empty()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- D11: two processes writing to one SQLite store ---------------------------------------------
def _import_worker(url: str, path: str, seed: bool, queue: Any) -> None:
    try:
        with open_store(url, seed=seed) as store:
            queue.put(("ok", import_csv(store, path)))
    except Exception as exc:  # noqa: BLE001 (reported to the parent)
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def _run_pair(url: str, paths: list[Path], seed: bool = True) -> list[tuple[str, Any]]:
    """Import ``paths`` into ``url`` from one fresh process each, at the same time."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_import_worker, args=(url, str(p), seed, queue))
             for p in paths]
    for p in procs:
        p.start()
    out = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    return out


def test_two_processes_import_into_a_fresh_store(tmp_path: Path) -> None:
    """Both open a fresh store (migrate + seed race) and import different files at once:
    both succeed, nothing is lost or duplicated, positions stay unique."""
    url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    a = _write(tmp_path / "a.csv", [_row(i, source_id="a", citation="A") for i in range(60)])
    b = _write(tmp_path / "b.csv", [_row(i, source_id="b", citation="B") for i in range(60)])
    outcomes = _run_pair(url, [a, b])
    assert outcomes == [("ok", 60), ("ok", 60)], outcomes
    with open_store(url) as store:
        assert len(store.results(source="a")) == 60 and len(store.results(source="b")) == 60
        assert store.counts()["opinions"] == 2                       # seeded once
        with store.session() as s:
            n, distinct = s.execute(select(func.count(Result.position),
                                           func.count(Result.position.distinct()))).one()
        assert n == distinct


def test_two_processes_import_the_same_new_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'same.sqlite'}"
    open_store(url, seed=False).close()
    a = _write(tmp_path / "a.csv", [_row(i, source_id="same", citation="S") for i in range(30)])
    outcomes = _run_pair(url, [a, a], seed=False)
    assert outcomes == [("ok", 30), ("ok", 30)], outcomes   # the second adds to the first
    with open_store(url, seed=False) as store:
        assert store.counts()["sources"] == 1 and store.counts()["results"] == 60


# -- property: malformed rows never raise anything but InputError ------------------------------
_CELLS = st.one_of(
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e400", "-0", "0", "1", "2147483648",
                     str(2**70), "1_0", "1,5", "0x1F", "(1+2j)", "True", "−0.4", "5%",
                     "27 (90%)", "<0.001", ">=2", "p=0.03", "a\x00b", "x" * 400, "é", "\ufeff",
                     "rct", "sham", "MD", "SMD", "RR", "review", "primary", "true", "maybe"]),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
)
_MUTABLE = [*CSV_COLUMNS, "kind", "study", "sign_convention", "lower_is_better",
            "comparator_class", "direction_reported", "stated_mid"]


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(_MUTABLE), _CELLS),
                        min_size=1, max_size=6),
       extra_field=st.booleans())
def test_malformed_rows_give_input_error_or_success(empty_store: Store, tmp_path: Path,
                                                    changes: list[tuple[int, str, str]],
                                                    extra_field: bool) -> None:
    rows = [_row(i) for i in range(3)]
    for i, col, value in changes:
        rows[i][col] = value
    header = list(dict.fromkeys(k for r in rows for k in r))
    if extra_field:
        rows[1] = {**rows[1], "__extra__": "surplus"}
    path = _write(tmp_path / "prop.csv", rows, header=header)
    before = _snapshot(empty_store)
    try:
        n = import_csv(empty_store, path)
    except InputError:
        assert _snapshot(empty_store) == before
    else:
        assert n == 3 and not extra_field
        assert _snapshot(empty_store)[0] != before[0]
