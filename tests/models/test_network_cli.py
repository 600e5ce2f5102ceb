"""``metaverdict network FILE.csv``: contrast- and arm-level input, JSON, plots, and bad input
as one ``error:`` line with exit status 2."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from metaverdict.cli.network import app

RUNNER = CliRunner()


def _contrasts(tmp_path: Path) -> Path:
    df = pd.DataFrame({
        "studlab": ["s1", "s2", "s3", "s4", "s4", "s4"],
        "treat1": ["A", "A", "B", "A", "A", "B"], "treat2": ["B", "C", "C", "B", "C", "C"],
        "TE": [-0.5, -0.9, -0.3, -0.4, -0.8, -0.4], "seTE": [0.2, 0.25, 0.3, 0.3, 0.3, 0.35]})
    path = tmp_path / "contrasts.csv"
    df.to_csv(path, index=False)
    return path


def test_contrast_level_summary_and_pscores(tmp_path: Path) -> None:
    res = RUNNER.invoke(app, [str(_contrasts(tmp_path)), "--method-tau", "DL",
                              "--small-values", "good", "--league", "--netsplit"])
    assert res.exit_code == 0, res.output
    for text in ("Network meta-analysis", "Random effects model, versus A",
                 "Design-based decomposition", "P-scores (small effects are better)",
                 "League table", "Separating direct from indirect evidence"):
        assert text in res.output


def test_json_and_plots(tmp_path: Path) -> None:
    graph, league = tmp_path / "g.png", tmp_path / "out" / "l.svg"
    res = RUNNER.invoke(app, [str(_contrasts(tmp_path)), "--json", "--small-values", "bad",
                              "--graph", str(graph), "--league-plot", str(league)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["network"]["treatments"] == ["A", "B", "C"]
    assert out["network"]["method_tau"] == "REML"
    assert out["p_scores"]["small_values"] == "undesirable"
    assert graph.stat().st_size > 0 and league.stat().st_size > 0


def test_arm_level_wide(tmp_path: Path) -> None:
    arms = pd.DataFrame({"study": ["a", "b", "c"], "t1": ["P", "P", "X"], "t2": ["X", "Y", "Y"],
                         "t3": ["Y", None, None], "e1": [10, 12, 5], "e2": [6, 7, 6],
                         "e3": [8, None, None], "n1": [40, 40, 40], "n2": [40, 40, 40],
                         "n3": [40, None, None]})
    path = tmp_path / "arms.csv"
    arms.to_csv(path, index=False)
    res = RUNNER.invoke(app, [str(path), "--treat", "t1,t2,t3", "--event", "e1,e2,e3",
                              "--n", "n1,n2,n3", "--studlab", "study", "--sm", "OR",
                              "--reference", "P", "--method-tau", "DL"])
    assert res.exit_code == 0, res.output
    assert "OR, back-transformed" in res.output and "versus P" in res.output


def test_bad_input_is_one_error_line(tmp_path: Path) -> None:
    df = pd.read_csv(_contrasts(tmp_path))
    df.loc[2, "seTE"] = -1
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    res = RUNNER.invoke(app, [str(bad)])
    assert res.exit_code == 2
    assert res.output.strip().startswith("error: row 3 (study 's3'), field 'seTE'")
    res = RUNNER.invoke(app, [str(tmp_path / "missing.csv")])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = RUNNER.invoke(app, [str(_contrasts(tmp_path)), "--treat", "t"])
    assert res.exit_code == 2 and "--sm" in res.output
