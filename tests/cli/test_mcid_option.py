"""``--mcid FILE`` (answer, report, claims check): a bad MCID file is one line naming the row
and the field, exit status 2, no traceback; a good one changes the verdicts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metaverdict.cli import app
from metaverdict.evidence import open_store

runner = CliRunner()
HEAD = "outcome_domain,scale,measure,value\n"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("mciddb") / "evidence.sqlite"
    open_store(f"sqlite:///{path}").close()
    return f"sqlite:///{path}"


BAD = {
    "missing column": ("outcome_domain,scale,value\npain,0-10,1\n",
                       "header row, column 'measure': missing"),
    "non-numeric": (HEAD + "pain,0-10,MD,1\npain,0-100,MD,ten\n",
                    "row 2, column 'value': must be a number, got 'ten'"),
    "zero": (HEAD + "pain,0-10,MD,0\n", "row 1, column 'value': must be a positive number"),
    "negative": (HEAD + "*,*,SMD,-0.5\n", "row 1, column 'value': must be a positive number"),
    "unknown measure": (HEAD + "pain,0-10,MDD,1\n",
                        "row 1, column 'measure': must be one of MD, SMD, RR, OR, HR"),
    "duplicate key": (HEAD + "pain,0-10,MD,1\npain,0-10,MD,2\n",
                      "row 2, columns 'outcome_domain', 'scale', 'measure': pain, 0-10, MD is "
                      "already given in row 1"),
}
COMMANDS = {
    "answer": ["answer", "PRP", "--mcid", "M", "--db", "DB"],
    "report": ["report", "PRP", "--out", "OUT", "--mcid", "M", "--db", "DB"],
    "claims": ["claims", "check", "--mcid", "M", "--db", "DB"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", BAD)
def test_bad_mcid_file_is_one_line_with_row_and_field(tmp_path: Path, db: str, command: str,
                                                      case: str) -> None:
    body, message = BAD[case]
    mcid = tmp_path / "mcid.csv"
    mcid.write_text(body)
    subs = {"M": str(mcid), "DB": db, "OUT": str(tmp_path / "r.html")}
    res = runner.invoke(app, [subs.get(a, a) for a in COMMANDS[command]])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert lines[0].startswith(f"error: MCID file {str(mcid)!r}, {message}"), lines
    assert not (tmp_path / "r.html").exists()


def test_good_mcid_file_changes_the_answers(tmp_path: Path, db: str) -> None:
    base = runner.invoke(app, ["answer", "PRP", "--json", "--db", db])
    assert base.exit_code == 0, base.output
    mcid = tmp_path / "mcid.csv"
    mcid.write_text(HEAD + "*,*,SMD,0.05\npain,0-10,MD,0.1\npain,0-100,MD,1\n")
    res = runner.invoke(app, ["answer", "PRP", "--json", "--mcid", str(mcid), "--db", db])
    assert res.exit_code == 0, res.output
    before, after = json.loads(base.output), json.loads(res.output)
    assert any("MCID 0.05 " in (a["mcid"] or "") for a in after)
    assert not any("MCID 0.05 " in (a["mcid"] or "") for a in before)
