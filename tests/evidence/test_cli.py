"""The ``evidence`` Typer sub-app."""
from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from metaverdict.cli.evidence import evidence_app
from metaverdict.evidence.bundled import RAW_FILE, data_path

from evidence_fixtures import N_RESULTS

RAW = data_path(RAW_FILE)


def test_list_export_import(tmp_path: Path) -> None:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    res = runner.invoke(evidence_app, ["list", "--treatment", "dry needling", "--outcome",
                                       "pain", "--db", db], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    assert "result(s)" in res.output and "cushman2021" in res.output
    out = tmp_path / "out.csv"
    res = runner.invoke(evidence_app, ["export", str(out), "--db", db])
    assert res.exit_code == 0 and f"exported {N_RESULTS} result(s)" in res.output
    db2 = f"sqlite:///{tmp_path / 'cli2.sqlite'}"
    res = runner.invoke(evidence_app, ["import", str(out), "--db", db2])
    assert res.exit_code == 0, res.output      # seeded store + every exported row
    assert f"imported {N_RESULTS} result(s)" in res.output


def test_import_error_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    text = RAW.read_text(encoding="utf-8").splitlines()
    header, first = text[0], text[1]
    bad.write_text(header + "\n" + first.replace(",28,34,", ",abc,34,") + "\n", encoding="utf-8")
    res = CliRunner().invoke(evidence_app, ["import", str(bad), "--db",
                                            f"sqlite:///{tmp_path / 'x.sqlite'}"])
    assert res.exit_code == 2      # bad input: exit status 2, as every command
    assert "row 1, column 'n_treatment'" in res.output
