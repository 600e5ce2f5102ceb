"""Simulated sources in the store: the ``sources.simulated`` column (migration 0003), the CSV
column ``simulated`` (exported, re-imported, consistent per source), ``ResultRow.simulated``,
``Store.sources()`` and imports of new sources only."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from metaverdict.errors import InputError
from metaverdict.evidence import open_store
from metaverdict.evidence.io import export_csv, export_frame, import_csv, import_rows
from metaverdict.evidence.records import EXTRA_COLUMNS

from evidence_fixtures import csv_row, upgrade_from_0002


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)),
                           restval="")
        w.writeheader()
        w.writerows(rows)
    return path


def _sim(i: int, **over: str) -> dict[str, str]:
    """A row of the simulated source ``simtrial``."""
    return csv_row(i, source_prefix="x", **{"source_id": "simtrial",
                                           "citation": "SIMULATED: a trial", "simulated": "true",
                                           **over})


def test_simulated_column_is_stored_exported_and_reimported(empty_store, tmp_path: Path) -> None:
    rows = [csv_row(1), csv_row(4), _sim(2), _sim(3)]      # mytrial1 (real) x2, simtrial x2
    assert import_csv(empty_store, _write(tmp_path / "in.csv", rows)) == 4
    got = {r.source_id: r.simulated for r in empty_store.results()}
    assert got == {"mytrial1": False, "simtrial": True}
    src = empty_store.sources()
    assert src[["key", "simulated"]].values.tolist() == [["mytrial1", False], ["simtrial", True]]
    assert "simulated" in EXTRA_COLUMNS
    frame = export_frame(empty_store)
    assert frame["simulated"].tolist() == ["false", "false", "true", "true"]
    export_csv(empty_store, tmp_path / "out.csv")
    with open_store(f"sqlite:///{tmp_path / 'again.sqlite'}", seed=False) as again:
        import_csv(again, tmp_path / "out.csv")
        pd.testing.assert_frame_equal(again.results_frame().drop(columns=["id"]),
                                      empty_store.results_frame().drop(columns=["id"]))
        assert again.sources()["simulated"].tolist() == [False, True]


def test_blank_simulated_is_false_and_a_csv_without_the_column_imports(empty_store,
                                                                        tmp_path: Path) -> None:
    import_csv(empty_store, _write(tmp_path / "a.csv", [csv_row(1)]))       # no column at all
    import_csv(empty_store, _write(tmp_path / "b.csv", [csv_row(4, simulated="")]))
    assert [r.simulated for r in empty_store.results()] == [False, False]


def test_simulated_must_agree_across_a_sources_rows(empty_store, tmp_path: Path) -> None:
    rows = [_sim(1), _sim(2, simulated="false"), _sim(3, simulated="")]
    with pytest.raises(InputError) as exc:
        import_csv(empty_store, _write(tmp_path / "bad.csv", rows))
    msg = str(exc.value)
    assert ("row 2, column 'simulated': differs from row 1 of source_id 'simtrial', got 'false'"
            in msg)
    assert "row 3, column 'simulated'" in msg
    assert empty_store.is_empty()


def test_simulated_must_agree_with_the_stored_source(empty_store, tmp_path: Path) -> None:
    import_csv(empty_store, _write(tmp_path / "a.csv", [csv_row(1)]))       # mytrial1, real
    with pytest.raises(InputError, match="row 1, column 'simulated': the store already holds "
                                         "source_id 'mytrial1' with simulated False, got True"):
        import_csv(empty_store, _write(tmp_path / "b.csv", [csv_row(4, simulated="true")]))
    assert empty_store.counts()["results"] == 1


def test_simulated_value_is_validated(empty_store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="row 1, column 'simulated': must be true or false, "
                                         "got 'maybe'"):
        import_csv(empty_store, _write(tmp_path / "bad.csv", [_sim(1, simulated="maybe")]))


def test_new_sources_only(empty_store) -> None:
    import_rows(empty_store, [_sim(1)], new_sources=True)
    with pytest.raises(InputError, match="source_id 'simtrial': the store already holds this "
                                         r"source \(1 result\(s\)\); nothing was imported"):
        import_rows(empty_store, [csv_row(1), _sim(2)], new_sources=True)
    assert empty_store.counts() == {"sources": 1, "results": 1, "opinions": 0}
    import_rows(empty_store, [_sim(2)])                     # without the flag: added to it
    assert empty_store.counts()["results"] == 2


def test_migration_0003_on_sqlite(tmp_path: Path) -> None:
    upgrade_from_0002(f"sqlite:///{tmp_path / 'old.sqlite'}")
