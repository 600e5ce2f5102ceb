"""CSV import (validated, all or nothing) and export (round trip)."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from metaverdict.errors import InputError
from metaverdict.evidence import writer
from metaverdict.evidence.bundled import RAW_FILE, data_path
from metaverdict.evidence.io import export_csv, export_frame, import_csv
from metaverdict.evidence.records import CSV_COLUMNS, EXTRA_COLUMNS

from evidence_fixtures import N_RESULTS, SUPPLEMENT, csv_row

RAW = data_path(RAW_FILE)


def _row(i: int, **over: str) -> dict[str, str]:
    return csv_row(i, **over)


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_import_user_rows(empty_store, tmp_path: Path) -> None:
    n = import_csv(empty_store, _write(tmp_path / "ok.csv", [_row(i) for i in range(1, 11)]))
    assert n == 10
    rows = empty_store.results(treatment="dry needling", condition="neck pain", outcome="pain")
    assert len(rows) == 10
    r = rows[0]
    assert r.kind == "primary" and r.study == "mytrial1"
    assert r.harmonised_estimate == pytest.approx(-0.1)
    assert r.sign_convention == "treatment-minus-comparator"
    assert "import default" in (r.sign_reason or "")
    assert r.timepoint_days == 14 and r.lower_is_better is True


def test_error_names_row_and_column(empty_store, tmp_path: Path) -> None:
    rows = [_row(i) for i in range(1, 10)]
    rows[6]["n_treatment"] = "abc"
    with pytest.raises(InputError) as exc:
        import_csv(empty_store, _write(tmp_path / "bad.csv", rows))
    assert "row 7, column 'n_treatment': must be a positive integer, got 'abc'" in str(exc.value)


def test_all_errors_are_listed(empty_store, tmp_path: Path) -> None:
    rows = [_row(i) for i in range(1, 10)]
    rows[0]["estimate"] = "big"
    rows[2]["comparator"] = "magic"
    rows[3]["ci_lower"], rows[3]["ci_upper"] = "2", "1"
    rows[4]["design"] = "cohort"
    rows[5]["verbatim_quote"] = ""
    rows[6]["outcome"] = "wellbeing score"
    rows[7]["i2"] = "140"
    rows[8].update(source_id="mytrial2", citation="Another citation")
    with pytest.raises(InputError) as exc:
        import_csv(empty_store, _write(tmp_path / "bad.csv", rows))
    msg = str(exc.value)
    for part in ("row 1, column 'estimate': must be a number, got 'big'",
                 "row 3, column 'comparator'", "row 4, column 'ci_lower'",
                 "row 5, column 'design'", "row 6, column 'verbatim_quote'",
                 "row 7, column 'outcome'", "row 8, column 'i2'", "row 9, column 'citation'"):
        assert part in msg, part
    assert empty_store.is_empty()


def test_failed_import_on_row_57_writes_nothing(empty_store, tmp_path: Path) -> None:
    rows = [_row(i) for i in range(1, 61)]
    rows[56]["n_control"] = "-3"
    with pytest.raises(InputError, match="row 57, column 'n_control'"):
        import_csv(empty_store, _write(tmp_path / "bad.csv", rows))
    assert empty_store.counts() == {"sources": 0, "results": 0, "opinions": 0}


def test_failure_while_writing_rolls_back(empty_store, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure in the write phase (after validation) also leaves the store untouched."""
    import_csv(empty_store, _write(tmp_path / "first.csv", [_row(1)]))
    before = empty_store.counts()
    original = writer._outcome
    calls = {"n": 0}

    def failing(c, d):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 57:
            raise RuntimeError("disk full at row 57")
        return original(c, d)

    monkeypatch.setattr(writer, "_outcome", failing)
    with pytest.raises(RuntimeError, match="row 57"):
        import_csv(empty_store, _write(tmp_path / "big.csv", [_row(i) for i in range(1, 61)]))
    assert empty_store.counts() == before


def test_conflict_with_stored_source_writes_nothing(empty_store, tmp_path: Path) -> None:
    import_csv(empty_store, _write(tmp_path / "a.csv", [_row(1)]))
    rows = [_row(3), _row(4, citation="Changed")]      # mytrial1 again, other citation
    with pytest.raises(InputError, match="row 2, column 'citation'"):
        import_csv(empty_store, _write(tmp_path / "b.csv", rows))
    assert empty_store.counts()["results"] == 1


def test_missing_required_column(empty_store, tmp_path: Path) -> None:
    rows = [{k: v for k, v in _row(1).items() if k != "outcome"}]
    with pytest.raises(InputError, match="'outcome'"):
        import_csv(empty_store, _write(tmp_path / "bad.csv", rows))


def _content(store) -> pd.DataFrame:
    return store.results_frame().drop(columns=["id"])


def test_round_trip_of_bundled_evidence(bundled_store, empty_store, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    assert export_csv(bundled_store, path) == N_RESULTS      # raw + supplement rows
    assert import_csv(empty_store, path) == N_RESULTS
    pd.testing.assert_frame_equal(_content(empty_store), _content(bundled_store))


#: Raw rows (1-based) whose vocabulary overrides set the arm sizes and append to the notes:
#: coombes2013 corticosteroid (n=43) vs placebo injection (n=41), as its raw notes give them;
#: kearney2021 PRP (n = 121) vs sham (n = 119), from the abstract quoted in supplement.csv.
OVERRIDDEN_N = {81: ("43", "41"), 82: ("43", "41"), 108: ("121", "119")}


def test_export_keeps_the_original_columns(bundled_store) -> None:
    exported = export_frame(bundled_store)
    assert list(exported.columns) == list(CSV_COLUMNS) + list(EXTRA_COLUMNS)
    raw = pd.read_csv(RAW, dtype=str, keep_default_na=False)
    supplement = pd.read_csv(SUPPLEMENT, dtype=str, keep_default_na=False)
    # the export lists the raw rows, then the supplement rows
    raw = pd.concat([raw, supplement[raw.columns]], ignore_index=True)
    assert len(exported) == len(raw) == N_RESULTS
    for pos, (n_t, n_c) in OVERRIDDEN_N.items():
        i = pos - 1
        assert raw.loc[i, "n_treatment"] == raw.loc[i, "n_control"] == ""
        raw.loc[i, ["n_treatment", "n_control"]] = [n_t, n_c]
        got = exported.loc[i, "notes"]              # raw notes kept, override's note appended
        assert got.startswith(raw.loc[i, "notes"] + " ") and len(got) > len(raw.loc[i, "notes"]) + 1
        raw.loc[i, "notes"] = got
    text_cols = ["source_id", "citation", "doi", "design", "treatment", "comparator",
                 "condition", "outcome", "timepoint", "effect_measure", "mean_treatment",
                 "mean_control", "certainty", "url_or_location", "verbatim_quote", "p_value",
                 "notes"]
    pd.testing.assert_frame_equal(exported[text_cols], raw[text_cols])
    # the supplement's own extra columns come back as written
    tail = exported.iloc[len(raw) - len(supplement):].reset_index(drop=True)
    for col in ("comparator_name", "direction_reported", "comparator_class", "stated_mid_text"):
        pd.testing.assert_series_equal(tail[col], supplement[col], check_names=False)
    for col in ("estimate", "ci_lower", "ci_upper", "n_treatment", "n_control", "sd_control",
                "i2"):
        got = pd.to_numeric(exported[col].replace("", None))
        want = pd.to_numeric(raw[col].replace("", None))
        pd.testing.assert_series_equal(got, want, check_dtype=False)


def test_round_trip_of_user_rows(empty_store, tmp_path: Path) -> None:
    rows = [_row(i) for i in range(1, 6)]
    rows[0].update(outcome="pain (my new scale, higher=better)", effect_measure="RR",
                   estimate="1.5", ci_lower="1.1", ci_upper="2.0", p_value="<0.01")
    import_csv(empty_store, _write(tmp_path / "in.csv", rows))
    export_csv(empty_store, tmp_path / "out.csv")
    from metaverdict.evidence import open_store
    with open_store(f"sqlite:///{tmp_path / 'again.sqlite'}", seed=False) as again:
        import_csv(again, tmp_path / "out.csv")
        pd.testing.assert_frame_equal(_content(again), _content(empty_store))
        r = again.results()[0]
        assert r.lower_is_better is False and r.harmonised_measure == "RR"
        assert r.favours_treatment_when == "harmonised > 1"
