"""Claim files: validation errors name row and column; the CLI prints a table."""
from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from metaverdict.cli.claims import claims_app
from metaverdict.errors import InputError
from metaverdict.synthesis import load_claims

HEAD = ("id,treatment,comparator,condition,outcome,timepoint,days_min,days_max,direction,"
        "significance\n")


@pytest.mark.parametrize("row, col", [
    ("x,dry needling,sham,c,pain,,,,better,\n", "direction"),
    ("x,,sham,c,pain,,,,benefit,\n", "treatment"),
    ("x,dry needling,sham,c,pain,,abc,,benefit,\n", "days_min"),
    ("x,dry needling,sham,c,pain,,5,2,benefit,\n", "days_max"),
    ("x,dry needling,sham,c,pain,,,,benefit,hugely\n", "significance"),
])
def test_csv_errors_name_row_and_column(tmp_path, row, col):
    p = tmp_path / "c.csv"
    p.write_text(HEAD + "ok,dry needling,sham,c,pain,,,,benefit,\n" + row)
    with pytest.raises(InputError, match=rf"row 2, column '{col}'"):
        load_claims(p)


def test_json_claims(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps([{"treatment": "dry needling", "direction": "harm",
                              "condition": "a; b"}]))
    (c,) = load_claims(p)
    assert c.conditions == ("a", "b") and c.direction == "harm"
    p.write_text(json.dumps([{"treatment": "x", "direction": "harm", "colour": "red"}]))
    with pytest.raises(InputError, match="row 1, column 'colour'"):
        load_claims(p)


def test_cli_check(tmp_path):
    db = "sqlite:///" + str(tmp_path / "e.sqlite")
    p = tmp_path / "c.csv"
    p.write_text(HEAD + "m,dry needling,sham,post-marathon muscle soreness,cramping,,,,"
                 "no difference,\n")
    app = typer.Typer()
    app.add_typer(claims_app, name="claims")
    r = CliRunner().invoke(app, ["claims", "check", str(p), "--db", db], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "supported" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text(HEAD + "m,dry needling,sham,c,pain,,,,sideways,\n")
    r = CliRunner().invoke(app, ["claims", "check", str(bad), "--db", db])
    assert r.exit_code == 2 and "column 'direction'" in r.output
