"""``metaverdict trial randomize`` and ``trial power`` (the Typer sub-app, invoked directly)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from metaverdict.cli.trial import app
from metaverdict.trials.design import power, sample_size
from metaverdict.trials.randomization import randomization_list

runner = CliRunner()
BASE = ["randomize", "--n", "120", "--arms", "dry needling,sham", "--seed", "2018"]


def test_randomize_prints_a_short_table_and_writes_the_csv(tmp_path: Path) -> None:
    out = tmp_path / "lists" / "list.csv"
    res = runner.invoke(app, [*BASE, "--ratio", "1:1", "--block-sizes", "4,6",
                              "--strata", "distance=half,full;sex=F,M", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("Randomization list: 480 allocations, 120 per stratum")
    assert "... 470 more" in res.output and f"wrote 480 allocations to {out}" in res.output
    assert len(lines) < 30                                           # a short table
    expected = randomization_list(120, ["dry needling", "sham"], seed=2018, ratio="1:1",
                                  block_sizes="4,6", strata={"distance": ["half", "full"],
                                                             "sex": ["F", "M"]})
    got = pd.read_csv(out, dtype={"distance": str, "sex": str})
    pd.testing.assert_frame_equal(got, expected.allocations, check_dtype=False)
    rows = {tuple(line.split()) for line in lines}
    for (distance, sex), row in expected.counts().iterrows():     # counts per stratum and arm
        assert (distance, sex, *map(str, row.tolist())) in rows
    assert not list(out.parent.glob(".*.tmp"))


def test_same_seed_same_file(tmp_path: Path) -> None:
    a, b, c = (tmp_path / f"{x}.csv" for x in "abc")
    assert runner.invoke(app, [*BASE, "--out", str(a)]).exit_code == 0
    assert runner.invoke(app, [*BASE, "--out", str(b)]).exit_code == 0
    other = [*BASE[:-1], "2019", "--out", str(c)]
    assert runner.invoke(app, other).exit_code == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_without_out_only_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, [*BASE, "--rows", "3", "--ratio", "2:1"])
    assert res.exit_code == 0, res.output
    assert "... 117 more" in res.output and "wrote" not in res.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["randomize", "--n", "0", "--arms", "a,b", "--seed", "1"], "error: n:"),
    (["randomize", "--n", "10", "--arms", "a", "--seed", "1"], "error: arms:"),
    (["randomize", "--n", "10", "--arms", "", "--seed", "1"], "error: arms:"),
    (["randomize", "--n", "10", "--arms", "a,b", "--seed", "1", "--ratio", "2:1",
      "--block-sizes", "4,6"], "error: block_sizes:"),
    (["randomize", "--n", "10", "--arms", "a,b", "--seed", "1", "--ratio", "1:2:3"],
     "error: ratio:"),
    (["randomize", "--n", "10", "--arms", "a,b", "--seed", "1", "--strata", "sex"],
     "error: strata:"),
    (["randomize", "--n", "10", "--arms", "a,b", "--seed", "-4"], "error: seed:"),
    (["power", "--delta", "0", "--sd", "1"], "error: delta:"),
    (["power", "--delta", "1", "--sd", "-2"], "error: sd:"),
    (["power", "--delta", "1", "--sd", "2", "--n", "10", "--power", "0.9"], "error: option"),
    (["power", "--delta", "1", "--sd", "2", "--analysis", "ancova"],
     "error: baseline_correlation:"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    text = res.output.strip()
    assert text.startswith(message) and len(text.splitlines()) == 1
    assert "Traceback" not in res.output


def test_out_that_is_a_folder(tmp_path: Path) -> None:
    res = runner.invoke(app, [*BASE, "--out", str(tmp_path)])
    assert res.exit_code == 2 and "is a folder" in res.output


def test_power_solves_for_n_and_for_power() -> None:
    res = runner.invoke(app, ["power", "--delta", "1", "--sd", "2", "--dropout", "0.2"])
    assert res.exit_code == 0, res.output
    want = sample_size(1.0, 2.0, dropout=0.2)
    assert "sample size" in res.output and str(want.n1_enrolled) in res.output
    res = runner.invoke(app, ["power", "--delta", "1", "--sd", "2", "--n", "64", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert got["power"] == pytest.approx(power(1.0, 2.0, 64).power)
    assert got["solved_for"] == "power" and got["n1_enrolled"] == 64
    res = runner.invoke(app, ["power", "--delta", "1", "--sd", "2", "--visits", "4", "--rho",
                              "0.5", "--baseline-correlation", "0.5", "--analysis", "ancova",
                              "--json"])
    assert json.loads(res.output)["n1"] == 25


def test_help_lists_both_commands() -> None:
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0 and "randomize" in res.output and "power" in res.output
