"""The CLI under bad input (reliability review 2026-12, D10, D12, D14, D15): never a traceback;
bad input gives ``error: <message>`` and exit status 2; a bug gives ``internal error``."""
from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from metaverdict.cli import app
from metaverdict.cli.common import BUSY_MESSAGE
from metaverdict.cli.main import App, guard_commands
from metaverdict.evidence import open_store
from metaverdict.evidence.records import CSV_COLUMNS

runner = CliRunner()
YV = ["--yi", "yi", "--vi", "vi"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("clidb") / "evidence.sqlite"
    open_store(f"sqlite:///{path}").close()
    return f"sqlite:///{path}"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "ws.csv").write_text("  \n \n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "yv.csv").write_text("yi,vi\n0.1,0.1\n0.5,0.2\n0.3,0.1\n")
    (tmp_path / "dup.csv").write_text("yi,vi,yi\n0.1,0.1,9\n0.5,0.2,9\n0.3,0.1,9\n")
    (tmp_path / "bad.csv").write_text("yi,vi\n0.1,0.1\nabc,0.2\n0.3,0.1\n")
    (tmp_path / "notdb.sqlite").write_text("not a database " * 100)
    (tmp_path / "claims.txt").write_text("id,treatment\n")
    (tmp_path / "claims_empty.csv").write_text("")
    (tmp_path / "mcid.csv").write_bytes("outcome_domain,scale,measure,value\npain,0-10 é,MD,1\n"
                                        .encode("latin-1"))
    row = {c: "" for c in CSV_COLUMNS}
    row.update(source_id="cli1", citation="CLI trial", design="rct", treatment="dry needling",
               comparator="sham", condition="neck pain", outcome="pain (VAS, 0-10)",
               timepoint="4 weeks", effect_measure="MD", estimate="-1", ci_lower="-2",
               ci_upper="0", url_or_location="https://example.org", verbatim_quote="MD -1")
    for name, over in (("good", {}), ("inf", {"estimate": "inf"}), ("nan", {"estimate": "nan"}),
                       ("n1e400", {"n_treatment": "1e400"}),
                       ("n2e70", {"n_treatment": str(2**70)}), ("latin1", {"notes": "café"})):
        with open(tmp_path / f"{name}.csv", "w", newline="",
                  encoding="latin-1" if name == "latin1" else "utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            w.writeheader()
            w.writerow({**row, **over})
    return tmp_path


CASES = [
    # meta (D10, D12, D15)
    (["meta", "F/empty.csv", *YV], "file 'F/empty.csv' is empty"),
    (["meta", "F/ws.csv", *YV], "is empty"),
    (["meta", "F/folder", *YV], "'F/folder' is a folder, not a CSV file"),
    (["meta", "F/yv.csv", *YV, "--plot", "F/f.xyz"], "option '--plot': cannot write a plot"),
    (["meta", "F/yv.csv", *YV, "--funnel", "F/folder"], "option '--funnel'"),
    (["meta", "F/dup.csv", *YV], "column 'yi' appears twice in the header (columns 1 and 3)"),
    (["meta", "F/bad.csv", *YV], "study 2, field 'yi'"),     # 2 = second data line
    # report / answer (D10, D14)
    (["report", "PRP", "--out", "F/r.html", "--mcid", "F/mcid.csv", "--db", "DB"],
     "--mcid: MCID file 'F/mcid.csv': line 2, byte 45: not UTF-8 text"),
    (["report", "PRP", "--out", "F/r.html", "--db", "nonsense://x"], "not a database URL"),
    (["report", "PRP", "--out", "F/r.html", "--db", "not a url"], "cannot be parsed"),
    (["report", "PRP", "--out", "F/r.html", "--db", "sqlite:///F/notdb.sqlite"],
     "cannot be opened (file is not a database)"),
    (["report", "PRP", "--out", "F/r.html", "--db", "sqlite:///F/folder"],
     "cannot be opened (unable to open database file)"),
    (["report", "PRP", "--out", "F/r.html", "--claims", "F/claims.txt", "--db", "DB"],
     "must be a .csv or .json claims file"),
    (["report", "PRP", "--out", "F/r.html", "--claims", "F/claims_empty.csv", "--db", "DB"],
     "holds no claims"),
    (["report", "PRP", "--out", "F/r.pdf", "--db", "DB"],
     "option '--out': the report is HTML (.html) or Markdown (.md), got 'r.pdf'"),
    (["report", "PRP", "--out", "F/folder", "--db", "DB"], "'F/folder' is a folder"),
    (["answer", "PRP", "--db", "sqlite:///F/notdb.sqlite"], "file is not a database"),
    # evidence (D10, D11, D14)
    (["evidence", "list", "--kind", "bogus", "--db", "DB"], "option 'kind': must be one of"),
    (["evidence", "export", "F/folder", "--db", "DB"], "'F/folder' is a folder"),
    (["evidence", "import", "F/nope.csv", "--db", "DB"], "file 'F/nope.csv' does not exist"),
    (["evidence", "import", "F/folder", "--db", "DB"], "is a folder, not a file"),
    (["evidence", "import", "F/empty.csv", "--db", "DB"], "missing required column(s)"),
    (["evidence", "import", "F/good.csv", "--db", "sqlite:///F/notdb.sqlite"],
     "file is not a database"),
    (["evidence", "import", "F/inf.csv", "--db", "DB"],
     "row 1, column 'estimate': must be a finite number, got 'inf'"),
    (["evidence", "import", "F/nan.csv", "--db", "DB"], "must be a finite number, got 'nan'"),
    (["evidence", "import", "F/n1e400.csv", "--db", "DB"],
     "row 1, column 'n_treatment': must be a positive integer"),
    (["evidence", "import", "F/n2e70.csv", "--db", "DB"], "of at most 2147483647"),
    (["evidence", "import", "F/latin1.csv", "--db", "DB"], "line 2: not UTF-8 text"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[f"{i}-{a[0]}" for i, (a, _) in
                                                      enumerate(CASES)])
def test_bad_input_is_a_one_line_error_with_status_2(files: Path, db: str, args: list[str],
                                                     message: str) -> None:
    args = [a.replace("F/", f"{files}/") if a != "DB" else db for a in args]
    res = runner.invoke(app, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.output.startswith("error: ")          # import lists every bad row below it
    assert message.replace("F/", f"{files}/") in res.output


@pytest.mark.parametrize("args", [["claims", "check", "F/claims.txt", "--db", "DB"],
                                  ["claims", "check", "F/claims_empty.csv", "--db", "DB"]])
def test_claims_check_rejects_unknown_and_empty_files(files: Path, db: str,
                                                      args: list[str]) -> None:
    args = [a.replace("F/", f"{files}/") if a != "DB" else db for a in args]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and res.output.startswith("error: "), res.output


def test_good_import_and_plot_into_new_folder_still_work(files: Path, db: str,
                                                         tmp_path: Path) -> None:
    res = runner.invoke(app, ["evidence", "import", str(files / "good.csv"), "--db", db])
    assert res.exit_code == 0 and "imported 1 result(s)" in res.output, res.output
    plot = tmp_path / "new" / "forest.png"
    res = runner.invoke(app, ["meta", str(files / "yv.csv"), *YV, "--plot", str(plot)])
    assert res.exit_code == 0 and plot.exists(), res.output


def test_busy_store_is_reported_as_busy(files: Path, tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite"
    open_store(f"sqlite:///{path}", seed=False).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        res = runner.invoke(app, ["evidence", "import", str(files / "good.csv"), "--db",
                                  f"sqlite:///{path}?timeout=0.2"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert res.exit_code == 2 and f"error: {BUSY_MESSAGE}" in res.output, res.output


def _toy_app() -> App:
    toy = App(add_completion=False, pretty_exceptions_enable=False)

    @toy.command()
    def boom(kind: str) -> None:
        if kind == "bug":
            raise RuntimeError("unexpected state\nsecond line")
        if kind == "file":
            open("/nonexistent/x.csv")                       # noqa: SIM115
        raise typer.Exit(0)

    @toy.command()
    def other() -> None:
        pass
    guard_commands(toy)
    return toy


def test_internal_error_is_one_line_for_users(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METAVERDICT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        _toy_app()(["boom", "bug"])
    err = capsys.readouterr().err
    assert exc.value.code == 1
    assert err.startswith("internal error: RuntimeError: unexpected state (please report")
    assert "Traceback" not in err and "second line" not in err
    with pytest.raises(SystemExit) as exc:
        _toy_app()(["boom", "file"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("error: /nonexistent/x.csv: No such file")


def test_tests_and_debug_mode_see_the_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    res = runner.invoke(_toy_app(), ["boom", "bug"])
    assert isinstance(res.exception, RuntimeError)          # CliRunner: not swallowed
    monkeypatch.setenv("METAVERDICT_DEBUG", "1")
    with pytest.raises(RuntimeError, match="unexpected state"):
        _toy_app()(["boom", "bug"])
