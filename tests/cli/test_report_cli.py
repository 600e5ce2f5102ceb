"""``metaverdict report``: the main job, from the command line, on the bundled evidence."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from metaverdict.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return "sqlite:///" + str(tmp_path_factory.mktemp("cli") / "evidence.sqlite")


def test_html_report_is_written_and_self_contained(db: str, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    res = runner.invoke(app, ["report", "dry needling", "--out", str(out), "--db", db])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert not any(s in page for s in ("<script", "<link ", 'src="http'))
    assert 'id="claims-table"' in page and "cushman2021" in page


def test_markdown_for_an_alias_writes_figure_files(db: str, tmp_path: Path) -> None:
    out = tmp_path / "prp.txt"
    res = runner.invoke(app, ["report", "PRP", "--out", str(out), "--format", "md", "--db", db])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Evidence report: platelet-rich plasma (PRP) injection")
    assert list((tmp_path / "prp_figures").glob("*.svg"))


def test_all_covers_the_three_treatments(db: str, tmp_path: Path) -> None:
    out = tmp_path / "all.md"
    res = runner.invoke(app, ["report", "--all", "--out", str(out), "--db", db])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    for heading in ("## Dry needling", "## Platelet-rich plasma (PRP) injection",
                    "## Corticosteroid injection", "## Claim check",
                    "## References and where each number came from"):
        assert f"\n{heading}\n" in text


@pytest.mark.parametrize("args, message", [
    (["homeopathy"], "treatment 'homeopathy': no stored evidence; available: "),
    ([], "give one TREATMENT"),
    (["PRP", "--all"], "not both"),
    (["PRP", "--format", "pdf"], "option '--format': must be one of html, md"),
])
def test_bad_input_is_one_line_and_exit_2(db: str, tmp_path: Path, args: list[str],
                                          message: str) -> None:
    res = runner.invoke(app, ["report", *args, "--out", str(tmp_path / "r.html"), "--db", db])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: ") and message in res.output
    assert not (tmp_path / "r.html").exists()
