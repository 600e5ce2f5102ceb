"""Meta-regression parity with metafor's ``rma(yi, vi, mods = ~ ..., method = M)`` on every
fixture case that has a ``meta_regression`` block (schema: tests/data/metafor/README.md), plus
the behaviour of the moderator design on bad input."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from metaverdict.errors import InputError
from metaverdict.models import meta_analysis
from metaverdict.models.univariate import predict

from conftest import assert_close, case_data, case_ids, load_case

ENTRIES = ("EE", "DL", "REML", "ML", "PM", "REML_knha")


def r_formula(formula: str) -> str:
    """Translate the fixtures' R formulas into formulaic syntax: ``factor(x)`` -> ``C(x)``,
    ``mean(x)`` -> ``x.mean()`` (inside ``I()``, evaluated on the rows used)."""
    out = re.sub(r"factor\((\w+)\)", r"C(\1)", formula)
    return re.sub(r"mean\((\w+)\)", r"\1.mean()", out)


def _regression_params() -> list[tuple[str, int, str]]:
    params = []
    for cid in case_ids():
        case = load_case(cid)
        for i, block in enumerate(case.get("meta_regression", [])):
            for entry in ENTRIES:
                params.append((cid, i, entry))
    return params


PARAMS = _regression_params()


def _used_rows(case: dict, formula: str) -> pd.DataFrame:
    """metafor drops rows with a missing moderator (na.action = na.omit)."""
    df = case_data(case)
    cols = [c for c in df.columns if re.search(rf"\b{re.escape(c)}\b", formula)]
    return df.dropna(subset=cols).reset_index(drop=True)


@pytest.mark.parametrize("case_id,index,entry", PARAMS,
                         ids=[f"{c}-{i}-{e}" for c, i, e in PARAMS])
def test_meta_regression_parity(case_id: str, index: int, entry: str) -> None:
    case = load_case(case_id)
    block = case["meta_regression"][index]
    ref = block[entry]
    if "error" in ref:
        pytest.skip(f"metafor failed: {ref['error']}")
    df = _used_rows(case, block["mods"])
    method, test = (entry.split("_")[0], "knha") if entry.endswith("knha") else (entry, "z")
    res = meta_analysis(df["yi"].to_numpy(), df["vi"].to_numpy(), data=df, method=method,
                        test=test, mods=r_formula(block["mods"]))
    assert res.k == ref["k"] and res.p == ref["p"]
    co = res.coefficients
    for ours, theirs in (("estimate", "b"), ("se", "se"), ("statistic", "zval"),
                         ("pvalue", "pval"), ("ci_lower", "ci.lb"), ("ci_upper", "ci.ub")):
        assert_close(co[ours].to_numpy(), ref[theirs], f"{theirs}")
    assert_close(res.vcov, ref["vb"], "vb")
    assert_close(res.tau2, ref["tau2"], "tau2")
    if ref["se.tau2"] is not None:
        assert_close(res.tau2_se, ref["se.tau2"], "se.tau2")
    assert_close(res.i2, ref["I2"], "I2")
    assert_close(res.h2, ref["H2"], "H2")
    assert_close(res.q, ref["QE"], "QE")
    assert_close(res.q_pvalue, ref["QEp"], "QEp", atol=1e-300)
    assert res.q_df == ref["QE.df"]
    assert_close(res.qm, ref["QM"], "QM")
    assert_close([res.qm_df[0], res.qm_df[1]], ref["QMdf"], "QMdf")
    assert_close(res.qm_pvalue, ref["QMp"], "QMp", atol=1e-300)
    if ref["R2"] is None:
        assert res.r2 is None
    else:
        assert_close(res.r2, ref["R2"], "R2")
    assert_close(res.s2w, ref["s2w"], "s2w")
    if "dfs" in ref:
        assert_close(res.df, ref["dfs"], "dfs")
    if "weights_pct" in ref:
        assert_close(res.weights, ref["weights_pct"], "weights_pct")
    fs = res.fit_statistics
    for kind in ("ML", "REML"):
        low = kind.lower()
        for ours, theirs in (("ll", "ll"), ("deviance", "dev"), ("aic", "AIC"), ("bic", "BIC"),
                             ("aicc", "AICc")):
            assert_close(getattr(fs, f"{ours}_{low}"), ref["fit.stats"][kind][theirs],
                         f"fit.stats {kind} {theirs}")
    pred = predict(res)
    want = ref["predict"]
    for ours, theirs in (("pred", "pred"), ("se", "se"), ("ci_lower", "ci.lb"),
                         ("ci_upper", "ci.ub")):
        assert_close(pred[ours].to_numpy(), want[theirs], f"predict {theirs}")
    if want["pi.lb"]:
        assert_close(pred["pi_lower"].to_numpy(), want["pi.lb"], "predict pi.lb")
        assert_close(pred["pi_upper"].to_numpy(), want["pi.ub"], "predict pi.ub")
    else:
        assert res.is_common_effect
    if "confint" in ref and "error" not in ref["confint"]:
        ci = res.heterogeneity_ci()
        for ours, theirs in (("tau2", "tau2"), ("tau", "tau"), ("i2", "I2"), ("h2", "H2")):
            iv = getattr(ci, ours)
            assert_close([iv.estimate, iv.ci_lower, iv.ci_upper],
                         [ref["confint"][theirs][x] for x in ("estimate", "ci.lb", "ci.ub")],
                         f"confint {theirs}")


def test_coefficient_names_are_r_like() -> None:
    case = load_case("dat.bcg__RR")
    df = case_data(case)
    res = meta_analysis(df["yi"], df["vi"], data=df, mods="ablat + C(alloc)")
    assert list(res.coefficients.index) == ["intrcpt", "ablat", "allocrandom", "allocsystematic"]


def test_formula_and_columns_agree() -> None:
    df = case_data(load_case("dat.bcg__RR"))
    a = meta_analysis(df["yi"], df["vi"], data=df, mods="ablat + year")
    b = meta_analysis(df["yi"], df["vi"], mods=df[["ablat", "year"]])
    np.testing.assert_allclose(a.coefficients.to_numpy(), b.coefficients.to_numpy(), rtol=1e-12)
    assert list(b.coefficients.index) == ["intrcpt", "ablat", "year"]


def test_predict_new_moderators() -> None:
    df = case_data(load_case("dat.bcg__RR"))
    res = meta_analysis(df["yi"], df["vi"], data=df, mods="ablat")
    new = predict(res, newmods=[[10.0], [50.0]])
    b = res.coefficients["estimate"].to_numpy()
    np.testing.assert_allclose(new["pred"], b[0] + b[1] * np.array([10.0, 50.0]), rtol=1e-12)
    assert (new["pi_lower"] < new["ci_lower"]).all()
    intercept_only = meta_analysis(df["yi"], df["vi"])
    one = predict(intercept_only)
    assert one["pred"].iloc[0] == pytest.approx(intercept_only.estimate)
    assert one["pi_lower"].iloc[0] == pytest.approx(intercept_only.pi_lower)


# ----------------------------------------------------------------------------- bad input

def _bcg() -> pd.DataFrame:
    return case_data(load_case("dat.bcg__RR")).set_index("author")


def test_missing_moderator_names_study_and_moderator() -> None:
    df = _bcg()
    df.loc[df.index[3], "ablat"] = np.nan
    with pytest.raises(InputError, match=rf"{re.escape(df.index[3])}.*ablat"):
        meta_analysis(df["yi"], df["vi"], data=df, mods="ablat")


def test_missing_categorical_moderator_is_not_silently_coded() -> None:
    df = _bcg()
    df["alloc"] = df["alloc"].astype(object)
    df.loc[df.index[2], "alloc"] = None
    with pytest.raises(InputError, match=rf"{re.escape(df.index[2])}.*alloc"):
        meta_analysis(df["yi"], df["vi"], data=df, mods="C(alloc)")


def test_missing_moderator_omitted_on_request_like_metafor() -> None:
    df = _bcg()
    df.loc[df.index[3], "ablat"] = np.nan
    with pytest.warns(UserWarning, match="ablat"):
        res = meta_analysis(df["yi"], df["vi"], data=df, mods="ablat", missing="omit")
    ref = meta_analysis(df["yi"].drop(df.index[3]), df["vi"].drop(df.index[3]),
                        data=df.drop(df.index[3]), mods="ablat")
    assert res.k == 12
    assert res.coefficients["estimate"].to_numpy() == pytest.approx(
        ref.coefficients["estimate"].to_numpy(), rel=1e-12)


def test_constant_moderator() -> None:
    df = _bcg().assign(c=1.0)
    with pytest.raises(InputError, match="'c' is constant"):
        meta_analysis(df["yi"], df["vi"], data=df, mods="ablat + c")


def test_singular_design() -> None:
    df = _bcg().assign(ablat2=lambda d: 2 * d["ablat"])
    with pytest.raises(InputError, match="linearly dependent"):
        meta_analysis(df["yi"], df["vi"], data=df, mods="ablat + ablat2")


def test_too_few_studies_for_coefficients() -> None:
    df = _bcg().iloc[:3]
    with pytest.raises(InputError, match="coefficients need more than 3 studies"):
        meta_analysis(df["yi"], df["vi"], data=df, mods="ablat + year")


def test_unknown_moderator_column() -> None:
    df = _bcg()
    with pytest.raises(InputError, match="latitude"):
        meta_analysis(df["yi"], df["vi"], data=df, mods="latitude")


def test_formula_without_data() -> None:
    with pytest.raises(InputError, match="needs data="):
        meta_analysis([0.1, 0.2, 0.3, 0.4], [0.1] * 4, mods="x")


def test_omnibus_and_r2_are_none_without_moderators() -> None:
    df = _bcg()
    res = meta_analysis(df["yi"], df["vi"])
    assert res.qm is None and res.r2 is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "Test of moderators" in meta_analysis(df["yi"], df["vi"], data=df,
                                                     mods="ablat").summary()
