"""Property tests for effect_sizes: symmetry under swapping groups, scale invariance, positive
variances for valid input, and InputError naming the study for invalid input.

(Named test_effect_properties.py rather than test_properties.py: the test directories have no
__init__.py, so module basenames must be unique across tests/.)
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaverdict.effects import MEASURES, effect_sizes
from metaverdict.errors import InputError

SETTINGS = settings(deadline=None, max_examples=60)

sizes = st.integers(min_value=2, max_value=500)
sds = st.floats(min_value=0.01, max_value=100, allow_nan=False)
means = st.floats(min_value=-100, max_value=100, allow_nan=False)
positive_means = st.floats(min_value=0.1, max_value=100, allow_nan=False)


@st.composite
def group(draw: st.DrawFn) -> dict[str, float]:
    return {"m": draw(means), "sd": draw(sds), "n": draw(sizes)}


@st.composite
def table(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n1, n2 = draw(st.integers(1, 400)), draw(st.integers(1, 400))
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n2)), n2


def _two_groups(measure: str, g1: dict[str, float], g2: dict[str, float]):  # type: ignore[no-untyped-def]
    return effect_sizes(measure, m1i=[g1["m"]], sd1i=[g1["sd"]], n1i=[g1["n"]],
                        m2i=[g2["m"]], sd2i=[g2["sd"]], n2i=[g2["n"]])


@SETTINGS
@given(group(), group())
def test_swapping_groups_negates_md_and_smd(g1: dict[str, float], g2: dict[str, float]) -> None:
    for measure in ("MD", "SMD"):
        ab, ba = _two_groups(measure, g1, g2), _two_groups(measure, g2, g1)
        assert ba.yi[0] == pytest.approx(-ab.yi[0], rel=1e-12, abs=1e-12)
        assert ba.vi[0] == pytest.approx(ab.vi[0], rel=1e-12)


@SETTINGS
@given(table(), st.sampled_from(["OR", "RR", "RD", "PETO"]))
def test_swapping_groups_negates_two_by_two_measures(t: tuple[int, int, int, int],
                                                     measure: str) -> None:
    a, n1, c, n2 = t
    ab = effect_sizes(measure, ai=[a], n1i=[n1], ci=[c], n2i=[n2])
    ba = effect_sizes(measure, ai=[c], n1i=[n2], ci=[a], n2i=[n1])
    assert ba.yi[0] == pytest.approx(-ab.yi[0], rel=1e-9, abs=1e-12)
    assert ba.vi[0] == pytest.approx(ab.vi[0], rel=1e-9)


@SETTINGS
@given(group(), group(), st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_means_and_sds(g1: dict[str, float], g2: dict[str, float], c: float) -> None:
    scaled = [{**g, "m": c * g["m"], "sd": c * g["sd"]} for g in (g1, g2)]
    smd, smd_c = _two_groups("SMD", g1, g2), _two_groups("SMD", *scaled)
    assert smd_c.yi[0] == pytest.approx(smd.yi[0], rel=1e-9, abs=1e-12)
    assert smd_c.vi[0] == pytest.approx(smd.vi[0], rel=1e-9)
    md, md_c = _two_groups("MD", g1, g2), _two_groups("MD", *scaled)
    assert md_c.yi[0] == pytest.approx(c * md.yi[0], rel=1e-9, abs=1e-9)
    assert md_c.vi[0] == pytest.approx(c**2 * md.vi[0], rel=1e-9)


@SETTINGS
@given(table(), st.sampled_from(["OR", "RR", "RD", "PETO"]),
       st.sampled_from(["only0", "all", "if0all"]))
def test_variances_positive_two_by_two(t: tuple[int, int, int, int], measure: str, to: str) -> None:
    a, n1, c, n2 = t
    es = effect_sizes(measure, ai=[a], n1i=[n1], ci=[c], n2i=[n2], to=to)
    assert np.isfinite(es.yi).all() and (es.vi > 0).all()


@SETTINGS
@given(group(), group(), st.sampled_from(["MD", "SMD"]))
def test_variances_positive_means(g1: dict[str, float], g2: dict[str, float], measure: str) -> None:
    assert _two_groups(measure, g1, g2).vi[0] > 0


@SETTINGS
@given(st.floats(min_value=-0.999, max_value=0.999), st.integers(5, 10_000),
       st.sampled_from(["COR", "ZCOR"]))
def test_variances_positive_correlations(r: float, n: int, measure: str) -> None:
    assert effect_sizes(measure, ri=[r], ni=[n]).vi[0] > 0


@SETTINGS
@given(st.integers(1, 1000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from(["PR", "PLO", "PFT"]))
def test_variances_positive_proportions(xn: tuple[int, int], measure: str) -> None:
    x, n = xn
    es = effect_sizes(measure, xi=[x], ni=[n])
    assert np.isfinite(es.yi).all() and es.vi[0] > 0


@SETTINGS
@given(st.integers(0, 200), st.floats(0.1, 1e4), st.integers(0, 200), st.floats(0.1, 1e4))
def test_variances_positive_rates(x1: int, t1: float, x2: int, t2: float) -> None:
    assert effect_sizes("IRR", x1i=[x1], t1i=[t1], x2i=[x2], t2i=[t2]).vi[0] > 0


def test_measure_table_is_complete() -> None:
    assert set(MEASURES) >= {"MD", "SMD", "ROM", "OR", "RR", "RD", "PETO", "ZCOR", "COR", "ZPCOR",
                             "PLO", "PR", "PFT", "IRR"}


# --- invalid input names the study -------------------------------------------------------------
LABELS = ["Alpha 1999", "Beta 2004", "Gamma 2010"]


@SETTINGS
@given(st.integers(0, 2), st.sampled_from(["sd1i", "sd2i"]), st.floats(-10, 0))
def test_bad_sd_names_study(bad: int, field: str, value: float) -> None:
    args = dict(m1i=[1.0] * 3, sd1i=[1.0] * 3, n1i=[10] * 3,
                m2i=[0.0] * 3, sd2i=[1.0] * 3, n2i=[10] * 3)
    args[field] = [value if i == bad else 1.0 for i in range(3)]
    with pytest.raises(InputError, match=LABELS[bad]) as info:
        effect_sizes("SMD", labels=LABELS, **args)  # type: ignore[arg-type]
    assert field in str(info.value)


@SETTINGS
@given(st.integers(0, 2), st.sampled_from(["n1i", "n2i"]), st.integers(-5, 1))
def test_small_n_names_study(bad: int, field: str, value: int) -> None:
    args = dict(m1i=[1.0] * 3, sd1i=[1.0] * 3, n1i=[10] * 3,
                m2i=[0.0] * 3, sd2i=[1.0] * 3, n2i=[10] * 3)
    args[field] = [value if i == bad else 10 for i in range(3)]
    with pytest.raises(InputError, match=LABELS[bad]) as info:
        effect_sizes("MD", labels=LABELS, **args)  # type: ignore[arg-type]
    assert field in str(info.value)


@SETTINGS
@given(st.integers(0, 2), st.integers(1, 100), st.integers(1, 50))
def test_events_above_n_names_study(bad: int, n: int, excess: int) -> None:
    ai = [n + excess if i == bad else 0 for i in range(3)]
    with pytest.raises(InputError, match=LABELS[bad]) as info:
        effect_sizes("OR", ai=ai, n1i=[n] * 3, ci=[0] * 3, n2i=[n] * 3, labels=LABELS)
    assert "ai" in str(info.value)


@SETTINGS
@given(st.integers(0, 2), st.sampled_from(["ri", "ni"]), st.sampled_from([np.inf, -np.inf]))
def test_infinite_names_study(bad: int, field: str, value: float) -> None:
    args = {"ri": [0.2] * 3, "ni": [30.0] * 3}
    args[field] = [value if i == bad else args[field][0] for i in range(3)]
    with pytest.raises(InputError, match=LABELS[bad]) as info:
        effect_sizes("ZCOR", labels=LABELS, **args)  # type: ignore[arg-type]
    assert field in str(info.value)


@SETTINGS
@given(st.integers(0, 2), st.sampled_from(["ri", "ni"]), st.sampled_from([np.nan, None]))
def test_missing_input_drops_that_study(bad: int, field: str, value: float | None) -> None:
    """A missing input (NaN or None) leaves the study out, as metafor's NA, and says so."""
    args: dict[str, list[float | None]] = {"ri": [0.2] * 3, "ni": [30.0] * 3}
    args[field] = [value if i == bad else args[field][0] for i in range(3)]
    with pytest.warns(UserWarning, match=LABELS[bad]):
        es = effect_sizes("ZCOR", labels=LABELS, **args)  # type: ignore[arg-type]
    assert np.isnan(es.yi[bad]) and np.isnan(es.vi[bad])
    assert np.isfinite(np.delete(es.yi, bad)).all()
    assert [(d.label, d.fields, d.reason) for d in es.dropped] == [
        (LABELS[bad], (field,), "missing input")]
