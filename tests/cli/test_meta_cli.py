"""``metaverdict meta`` on the bundled example and on CSV files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import metaverdict as mv
from metaverdict.cli import app
from metaverdict.datasets import load_example

runner = CliRunner()
BCG = ["--measure", "RR", "--ai", "tpos", "--bi", "tneg", "--ci", "cpos", "--di", "cneg"]


def _expected(**kwargs) -> mv.MetaAnalysisResult:
    df = load_example("dat.bcg")
    es = mv.effect_sizes("RR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    return mv.meta_analysis(es, **kwargs)


def test_example_summary() -> None:
    out = runner.invoke(app, ["meta", "--example", "dat.bcg", *BCG, "--label", "author"])
    assert out.exit_code == 0, out.output
    res = _expected()
    assert f"{res.estimate:.4f}" in out.output and "prediction interval" in out.output
    assert f"RR (exponentiated): {np.exp(res.estimate):.4f}" in out.output


def test_json_output_matches_the_api(tmp_path: Path) -> None:
    csv = tmp_path / "bcg.csv"
    load_example("dat.bcg").to_csv(csv, index=False)
    out = runner.invoke(app, ["meta", str(csv), *BCG, "--method", "DL", "--test", "knha", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    res = _expected(method="DL", test="knha")
    assert got["estimate"] == pytest.approx(res.estimate) and got["tau2"] == pytest.approx(res.tau2)
    assert got["df"] == 12 and got["method"] == "DL"


def test_precomputed_yi_vi_and_moderators(tmp_path: Path) -> None:
    df = load_example("dat.bcg")
    es = mv.effect_sizes("RR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    df["yi"], df["vi"] = es.yi, es.vi
    csv = tmp_path / "yv.csv"
    df.to_csv(csv, index=False)
    out = runner.invoke(app, ["meta", str(csv), "--yi", "yi", "--vi", "vi", "--mods", "ablat",
                              "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert got["qm"] == pytest.approx(mv.meta_analysis(es, mods=df[["ablat"]]).qm)


@pytest.mark.parametrize("args, message", [
    (["--example", "dat.bcg", "--measure", "RR", "--ai", "tpos", "--bi", "tneg", "--ci", "cpos",
      "--di", "nope"], "field 'di'"),
    (["--example", "nope"], "unknown example dataset"),
    (["--example", "dat.bcg"], "give --measure"),
    (["missing.csv", "--yi", "a", "--vi", "b"], "does not exist"),
    (["--example", "dat.bcg", *BCG, "--method", "XX"], "field 'method'"),
])
def test_bad_input_is_one_line_and_exit_2(args, message: str) -> None:
    out = runner.invoke(app, ["meta", *args])
    assert out.exit_code == 2
    assert message in out.output and "Traceback" not in out.output


def test_bias_influence_subgroups_and_plots(tmp_path: Path) -> None:
    forest, funnel = tmp_path / "forest.png", tmp_path / "funnel.svg"
    out = runner.invoke(app, ["meta", "--example", "dat.bcg", *BCG, "--label", "author", "--bias",
                              "--influence", "--subgroup", "alloc", "--plot", str(forest),
                              "--funnel", str(funnel)])
    assert out.exit_code == 0, out.output
    res = _expected()
    egger = mv.egger_test(res)
    for section in ("== egger test", "== rank test", "== trim and fill", "== fail safe n",
                    "== influence", "== leave one out", "== subgroups"):
        assert section in out.output
    assert f"{egger.statistic:.4f}" in out.output
    assert forest.stat().st_size > 0 and funnel.read_text().startswith("<?xml")


def test_json_with_diagnostics() -> None:
    out = runner.invoke(app, ["meta", "--example", "dat.bcg", *BCG, "--bias", "--influence",
                              "--subgroup", "alloc", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    res = _expected()
    assert got["trim_and_fill"]["k0"] == mv.trim_and_fill(res).k0
    assert got["influence"]["hat"] == pytest.approx(list(mv.influence(res)["hat"]))
    sub = mv.subgroup_analysis(res.yi, res.vi, groups=load_example("dat.bcg")["alloc"])
    assert got["subgroups"]["q_between"] == pytest.approx(sub.q_between)


def test_unknown_subgroup_column() -> None:
    out = runner.invoke(app, ["meta", "--example", "dat.bcg", *BCG, "--subgroup", "nope"])
    assert out.exit_code == 2 and "nope" in out.output
