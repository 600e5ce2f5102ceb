"""``metaverdict meta --bayes``: the exact Bayesian fit from the command line equals the API."""
from __future__ import annotations

import json

from typer.testing import CliRunner

import metaverdict as mv
from metaverdict.cli.main import app
from metaverdict.datasets import load_example

ARGS = ["meta", "--example", "dat.bcg", "--measure", "RR", "--ai", "tpos", "--bi", "tneg",
        "--ci", "cpos", "--di", "cneg", "--bayes", "--tau-prior", "half-normal:0.5",
        "--mcid", "0.2"]


def test_bayes_json_equals_the_api() -> None:
    res = CliRunner().invoke(app, [*ARGS, "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    bcg = load_example("dat.bcg")
    es = mv.effect_sizes("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    want = mv.bayesian_meta_analysis(es.yi, es.vi, tau_prior="half-normal", tau_scale=0.5,
                                     mcid=0.2)
    assert got["prob_benefit"] == want.prob_benefit
    assert got["prob_within"] == want.prob_within
    assert got["summary_table"] == want.to_dict()["summary_table"]


def test_bad_prior_is_one_line() -> None:
    res = CliRunner().invoke(app, [*ARGS[:-4], "--tau-prior", "half-normal:x"])
    assert res.exit_code == 2 and "scale 'x' is not a number" in res.output
    res = CliRunner().invoke(app, [*ARGS[:-4], "--tau-prior", "nonsense"])
    assert res.exit_code == 2 and "Traceback" not in res.output
