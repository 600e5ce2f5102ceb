"""MCID table: bundled entries, lookup rules, overrides and user CSVs."""
from __future__ import annotations

import math

import pytest

from metaverdict.errors import InputError
from metaverdict.grade import MCIDTable
from metaverdict.grade.mcid import MCID_COLUMNS


def test_bundled_entries_have_sources():
    t = MCIDTable.bundled()
    assert t.entries
    for e in t.entries:
        assert e.value > 0 and e.citation and e.year and e.status


def test_lookup_rules():
    t = MCIDTable.bundled()
    assert t.lookup("pain", "MD", scale="0-10").value == t.get("pain", "0-10", "MD").value
    assert (t.lookup("pain", "MD (derived)", scale="0-100 mm").value
            == t.get("pain", "0-100", "MD").value)
    assert t.lookup("function", "MD", scale="0-100", instrument="DASH").entry.scale == "DASH"
    assert t.lookup("function", "SMD").value == t.get("*", "*", "SMD").value
    rr = t.lookup("adverse-events", "RR")
    assert rr.threshold == pytest.approx(math.log(t.get("*", "*", "RR").value))
    assert t.lookup("pain", "MD (percentage points, derived)", scale="percent") is None
    assert t.lookup("pressure-pain-threshold", "MD", scale="unspecified", values=[5.0]) is None


@pytest.mark.parametrize("domain", ["pressure-pain-threshold", "range-of-motion", "grip-strength"])
@pytest.mark.parametrize("measure, scale", [("MD", "0-10"), ("SMD", None), ("RR", None)])
def test_surrogate_outcomes_get_no_mcid(domain, measure, scale):
    # surrogate domains have no patient-important threshold, whatever the measure (the
    # general SMD and RR entries would otherwise apply)
    assert MCIDTable.bundled().lookup(domain, measure, scale=scale) is None


def test_heel_pain_entries_cite_landorf_2010():
    t = MCIDTable.bundled()
    first_step = t.lookup("pain", "MD", scale="0-100 mm", instrument="VAS first-step pain")
    assert first_step.entry.scale == "VAS first-step" and first_step.value == 19.0
    fhsq = t.lookup("pain", "MD", scale="0-100", instrument="FHSQ foot pain")
    assert fhsq.entry.scale == "FHSQ" and fhsq.value == 13.0
    for m in (first_step, fhsq):
        assert m.entry.year == 2010 and m.entry.citation.startswith("Landorf KB")
        assert m.entry.doi == "10.1186/1757-1146-3-7"
    # a plain VAS on 0-100 keeps the general 10 mm (Salaffi 2004)
    assert t.lookup("pain", "MD", scale="0-100", instrument="VAS").value == 10.0


def test_unreported_pain_scale_is_an_explicit_assumption():
    t = MCIDTable.bundled()
    m = t.lookup("pain", "MD", scale="unspecified", values=[-1.5, -2.3, -0.7])
    assert m is not None and "assumption" in m.assumption
    assert t.lookup("pain", "MD", scale="unspecified", values=[-14.0, -20.0, -8.0]) is None


def test_overrides_return_new_table():
    t = MCIDTable.bundled()
    t2 = t.with_overrides({("pain", "0-10", "MD"): 2.0})
    assert t2.get("pain", "0-10", "MD").value == 2.0
    assert t.get("pain", "0-10", "MD").value != 2.0           # original untouched
    assert t2.get("pain", "0-10", "MD").status == "user override"
    with pytest.raises(InputError, match="value"):
        t.with_overrides({("pain", "0-10", "MD"): -1})


def test_user_csv(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("outcome_domain,scale,measure,value\npain,0-10,MD,1.5\n*,*,SMD,0.2\n")
    t = MCIDTable.from_csv(p, base=MCIDTable.bundled())
    assert t.get("pain", "0-10", "MD").value == 1.5 and t.get("*", "*", "SMD").value == 0.2
    assert t.get("function", "DASH", "MD") is not None


@pytest.mark.parametrize("body, col", [
    ("outcome_domain,scale,measure,value\npain,0-10,MD,abc\n", "value"),
    ("outcome_domain,scale,measure,value\npain,0-10,,1\n", "measure"),
    ("outcome_domain,scale,measure,value\npain,0-10,MD,1\n*,*,RR,0.9\n", "value"),
])
def test_user_csv_errors_name_row_and_column(tmp_path, body, col):
    p = tmp_path / "m.csv"
    p.write_text(body)
    with pytest.raises(InputError, match=rf"row \d+, column '{col}'"):
        MCIDTable.from_csv(p)


_HEAD = "outcome_domain,scale,measure,value\n"


@pytest.mark.parametrize("body, where, what", [
    # a missing column: the header row and the column
    ("outcome_domain,scale,value\npain,0-10,1\n", "header row, column 'measure'", "missing"),
    ("outcome_domain,scale,measure,value,vlaue\npain,0-10,MD,1,2\n",
     "header row, column 'vlaue'", "unknown column"),
    # a missing field in a row
    (_HEAD + "pain,0-10,MD,1\npain,,MD,2\n", "row 2, column 'scale'", "is required"),
    # non-numeric, non-finite, zero, negative and (for ratios) <= 1 values
    (_HEAD + "pain,0-10,MD,one\n", "row 1, column 'value'", "must be a number, got 'one'"),
    (_HEAD + "pain,0-10,MD,nan\n", "row 1, column 'value'", "must be a positive number"),
    (_HEAD + "pain,0-10,MD,inf\n", "row 1, column 'value'", "must be a positive number"),
    (_HEAD + "pain,0-10,MD,0\n", "row 1, column 'value'", "must be a positive number, got 0.0"),
    (_HEAD + "pain,0-10,MD,1\n*,*,SMD,-0.5\n", "row 2, column 'value'",
     "must be a positive number, got -0.5"),
    (_HEAD + "*,*,RR,1\n", "row 1, column 'value'", "must be a ratio > 1"),
    # an unknown measure
    (_HEAD + "pain,0-10,MD,1\npain,0-10,MDD,1\n", "row 2, column 'measure'",
     "must be one of MD, SMD, RR, OR, HR, got 'MDD'"),
    # a duplicate key (case and spacing ignored), naming the first row
    (_HEAD + "pain,0-10,MD,1\n*,*,SMD,0.4\n Pain ,0-10,md,2\n",
     "row 3, columns 'outcome_domain', 'scale', 'measure'", "already given in row 1"),
    # a year that is not one, and more fields than the header
    ("outcome_domain,scale,measure,value,year\npain,0-10,MD,1,2004a\n", "row 1, column 'year'",
     "must be a year"),
    (_HEAD + "pain,0-10,MD,1,extra\n", "row 1", "more fields than the header"),
])
def test_user_csv_checks_name_row_and_field(tmp_path, body, where, what):
    p = tmp_path / "m.csv"
    p.write_text(body)
    with pytest.raises(InputError) as info:
        MCIDTable.from_csv(p, base=MCIDTable.bundled())
    msg = str(info.value)
    assert msg.startswith(f"MCID file {str(p)!r}, {where}")
    assert what in msg and "\n" not in msg


def test_user_csv_full_columns_and_bom(tmp_path):
    # every bundled column is accepted, and a byte-order mark (Excel's UTF-8) is not a column
    p = tmp_path / "m.csv"
    p.write_text("\ufeff" + ",".join(MCID_COLUMNS) + "\n"
                 "pain,0-10,MD,2.0,points,Farrar JT et al. Pain 2001,2001,,user,stricter\n",
                 encoding="utf-8")
    t = MCIDTable.from_csv(p)
    e = t.get("pain", "0-10", "MD")
    assert (e.value, e.year, e.short_source) == (2.0, 2001, "Farrar 2001")
