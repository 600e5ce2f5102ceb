"""``metaverdict trial import``: the SIMULATED demo trial's study-level results go into the
evidence store as one simulated source, all or nothing; answers leave it out unless
``--include-simulated`` is given, and then name it SIMULATED."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from metaverdict.cli.main import app
from metaverdict.evidence import open_store
from metaverdict.trials import analyze_trial, trial_data
from metaverdict.trials.simulate import bundled_path

runner = CliRunner()
SOURCE = "marathon-sim"
OPTIONS = ["--source-id", SOURCE, "--citation", "Post-marathon dry needling trial (demo)",
           "--treatment", "dry needling", "--comparator", "sham",
           "--condition", "post-marathon muscle soreness", "--comparator-name",
           "sham dry needling"]


def _answer(url: str, *extra: str) -> Any:
    res = runner.invoke(app, ["answer", "dry needling", "--db", url, *extra])
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A temp SQLite store (seeded), its answers before and after importing the demo."""
    url = f"sqlite:///{tmp_path_factory.mktemp('import') / 'evidence.sqlite'}"
    before = {"json": _answer(url, "--json"), "table": _answer(url)}
    res = runner.invoke(app, ["trial", "import", str(bundled_path()), *OPTIONS, "--db", url])
    return {"url": url, "before": before, "result": res}


def test_import_writes_the_study_results_as_one_simulated_source(imported: dict[str, Any]
                                                                  ) -> None:
    res = imported["result"]
    assert res.exit_code == 0, res.output
    assert f"imported 8 result(s) of source {SOURCE!r} (SIMULATED data)" in res.output
    want = analyze_trial(trial_data(bundled_path())).to_study_results(SOURCE).frame
    with open_store(imported["url"]) as store:
        rows = store.results(source=SOURCE)
        src = store.sources().set_index("key").loc[SOURCE]
    assert len(rows) == len(want) == 8
    assert bool(src["simulated"]) and src["citation"] == ("SIMULATED: Post-marathon dry "
                                                          "needling trial (demo)")
    for r, w in zip(rows, want.itertuples()):
        assert r.simulated and r.citation.startswith("SIMULATED: ")
        assert r.kind == "primary" and r.design == "rct" and r.measure == "MD"
        assert r.treatment == "dry needling" and r.comparator_kind == "sham"
        assert r.comparator_class == "sham" and r.comparator_name == "sham dry needling"
        assert r.condition == "post-marathon muscle soreness"
        assert r.outcome_domain == "pain" and r.lower_is_better is True
        assert w.outcome.split()[0] in r.outcome_raw
        assert r.timepoint_raw == f"day {w.visit}" and r.timepoint_days == w.visit
        for got, exp in ((r.estimate, w.yi), (r.ci_lower, w.ci_lower), (r.ci_upper, w.ci_upper),
                         (r.harmonised_estimate, w.yi), (r.p_number, w.pvalue)):
            assert got == pytest.approx(exp, abs=1e-12, rel=0)
        assert (r.n_treatment, r.n_control) == (w.n_treatment, w.n_control)
        assert r.sign_convention == "treatment-minus-comparator"
        for text in (r.verbatim_quote, r.notes):
            assert "computed by metaverdict" in text and "marathon_trial_simulated.csv" in text
            assert "MMRM" in text and "us covariance" in text and "kenward-roger df" in text
            assert "SIMULATED" in text
        assert r.verbatim_quote.startswith("Not a quotation")
        assert "marathon_trial_simulated.csv" in r.url_or_location
        assert "/" not in r.url_or_location.split("'")[1]          # a file name, no path


def test_answers_leave_the_simulated_source_out_unless_asked(imported: dict[str, Any]) -> None:
    url = imported["url"]
    assert _answer(url, "--json") == imported["before"]["json"]
    assert _answer(url) == imported["before"]["table"]
    assert SOURCE not in _answer(url)


def test_answers_with_include_simulated_name_it_simulated(imported: dict[str, Any]) -> None:
    url = imported["url"]
    got = json.loads(_answer(url, "--json", "--include-simulated"))
    mine = [a for a in got if SOURCE in (a["source_id"] or "").split("+")]
    assert mine and all(a["simulated"] is True and a["simulated_sources"] == [SOURCE]
                        for a in mine)
    assert {a["term"] for a in mine} == {"day 1", "day 2", "day 3", "day 7"}
    assert not any(a["simulated"] for a in got if a not in mine)
    table = _answer(url, "--include-simulated")
    assert "(SIMULATED)" in table                       # the source column (rich wraps it)
    assert "SIMULATED sources included (--include-simulated): marathon-sim" in table


def test_report_with_include_simulated(imported: dict[str, Any], tmp_path: Path) -> None:
    url = imported["url"]
    out = tmp_path / "r.md"
    res = runner.invoke(app, ["report", "dry needling", "--db", url, "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "Nothing is simulated" in text and f"`{SOURCE}`" not in text
    res = runner.invoke(app, ["report", "dry needling", "--db", url, "--out", str(out),
                              "--include-simulated"])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "Nothing is simulated" not in text and "SIMULATED data included" in text
    assert f"`{SOURCE}` **SIMULATED** SIMULATED: Post-marathon" in text
    assert f"| {SOURCE} (SIMULATED) |" in text                   # the bottom line's source


def test_importing_the_same_source_twice_writes_nothing(imported: dict[str, Any]) -> None:
    url = imported["url"]
    with open_store(url) as store:
        before = store.counts()
    res = runner.invoke(app, ["trial", "import", str(bundled_path()), *OPTIONS, "--db", url])
    assert res.exit_code == 2
    assert res.output.startswith(f"error: source_id {SOURCE!r}: the store already holds this "
                                 "source (8 result(s)); nothing was imported")
    assert len(res.output.strip().splitlines()) == 1
    with open_store(url) as store:
        assert store.counts() == before


@pytest.mark.parametrize("change, message", [
    (["--comparator", "magic"], "option '--comparator': must be one of"),
    (["--outcome-domain", "mood"], "option '--outcome-domain': must be one of"),
    (["--visit-unit", "fortnight"], "option '--visit-unit': must be one of day, week, month"),
    (["--covariance", "xx"], "unknown structure 'xx'"),
    (["--outcome", "grip"], "outcome: 'grip' is not in the data"),
    (["--citation", " "], "option '--citation': must not be empty"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, change: list[str],
                                          message: str) -> None:
    url = f"sqlite:///{tmp_path / 'e.sqlite'}"
    args = list(OPTIONS)
    for i in range(0, len(change), 2):
        if change[i] in args:
            args[args.index(change[i]) + 1] = change[i + 1]
        else:
            args += change[i:i + 2]
    res = runner.invoke(app, ["trial", "import", str(bundled_path()), *args, "--db", url])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: ") and message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    if (tmp_path / "e.sqlite").exists():
        with open_store(url) as store:
            assert store.results(source=SOURCE) == []


def test_missing_file_and_missing_option(tmp_path: Path) -> None:
    res = runner.invoke(app, ["trial", "import", str(tmp_path / "none.csv"), *OPTIONS])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(app, ["trial", "import", str(bundled_path()), "--source-id", "x"])
    assert res.exit_code == 2 and "--citation" in res.output


def test_real_participant_data_make_a_real_source(tmp_path: Path) -> None:
    """Data that are not simulated (no simulated column, no "simulated" in the file name) are
    stored as a real source, which the answers use without being asked."""
    frame = pd.read_csv(bundled_path(), dtype=str, keep_default_na=False)
    real = tmp_path / "my_trial.csv"
    frame.drop(columns=["simulated"]).to_csv(real, index=False)
    url = f"sqlite:///{tmp_path / 'e.sqlite'}"
    args = [a if a != SOURCE else "mytrial" for a in OPTIONS]
    res = runner.invoke(app, ["trial", "import", str(real), *args, "--db", url,
                              "--outcome", "soleus soreness", "--visit-unit", "day"])
    assert res.exit_code == 0, res.output
    assert "SIMULATED" not in res.output
    with open_store(url) as store:
        rows = store.results(source="mytrial")
        assert len(rows) == 4 and not any(r.simulated for r in rows)
        assert rows[0].citation == "Post-marathon dry needling trial (demo)"
        assert "SIMULATED" not in (rows[0].verbatim_quote or "")
    got = json.loads(_answer(url, "--json"))
    assert any("mytrial" in (a["source_id"] or "") and a["simulated"] is False for a in got)


def test_outcome_and_timepoint_texts() -> None:
    from metaverdict.errors import InputError
    from metaverdict.evidence.trial_rows import outcome_text, timepoint_text

    assert outcome_text("soleus soreness") == "pain (soleus soreness)"
    assert outcome_text("VISA-A", "function") == "function (VISA-A)"
    with pytest.raises(InputError, match="reads as outcome domain 'adverse-events', not 'pain'"):
        outcome_text("adverse events", "pain")
    with pytest.raises(InputError, match="cannot tell its outcome domain"):
        outcome_text("wellbeing")
    assert [timepoint_text(v) for v in (1, 2.5, "12 weeks")] == ["day 1", "day 2.5", "12 weeks"]
    assert timepoint_text(3, "month") == "month 3"
    with pytest.raises(InputError, match="visit 'baseline': not a follow-up time"):
        timepoint_text("baseline")
