"""``metaverdict trial analyze``: the SIMULATED marathon data print days 1, 2, 3 and 7 with
every column, write the figure, give JSON; bad input is one line and exit 2."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from metaverdict.cli.main import app
from metaverdict.trials import analyze_trial, load_marathon_trial
from metaverdict.trials.simulate import bundled_path

runner = CliRunner()


def test_analyze_prints_every_visit_and_writes_the_plot(tmp_path: Path) -> None:
    png = tmp_path / "trial.png"
    res = runner.invoke(app, ["trial", "analyze", str(bundled_path()), "--mcid", "1",
                              "--moderator", "belief", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "SIMULATED" in out and "soleus soreness" in out and "vastus medialis" in out
    for column in ("mean T", "mean C", "diff (T-C)", "95% CI", "SMD (obs.)",
                   "responders T vs C", "NNT"):
        assert column in out
    table = out.split("soleus soreness [SIMULATED DATA]")[1].splitlines()[2:6]
    assert [line.split()[0] for line in table] == ["1", "2", "3", "7"]
    assert "arm x belief" in out and png.stat().st_size > 10_000


def test_analyze_json_equals_the_api(tmp_path: Path) -> None:
    res = runner.invoke(app, ["trial", "analyze", str(bundled_path()), "--mcid", "1", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    want = analyze_trial(load_marathon_trial(), mcid=1.0).to_dict()
    assert got["simulated"] is True
    assert got["outcomes"][0]["visits"] == want["outcomes"][0]["visits"]


def test_analyze_bad_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("participant,arm,visit,outcome,value\n1,a,1,pain,3\n")
    res = runner.invoke(app, ["trial", "analyze", str(bad)])
    assert res.exit_code == 2
    assert "missing column(s) 'baseline'" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["trial", "analyze", str(bundled_path()), "--covariance", "xx"])
    assert res.exit_code == 2 and "unknown structure 'xx'" in res.output
