"""The bundled evidence: counts, provenance, vocabulary coverage, signs, no invented numbers."""
from __future__ import annotations

import csv
import filecmp
import math
from pathlib import Path

import pytest

from evidence_fixtures import bundled_store, empty_store  # noqa: F401  (fixtures)
from metaverdict.evidence.bundled import RAW_FILE, build, data_path, unmapped_terms
from metaverdict.evidence.io import read_rows
from metaverdict.evidence.queries import ResultRow
from metaverdict.evidence.vocabulary import bundled_vocabulary

SHARED = Path("/work/shared/evidence/studies.csv")


def _by_position(store) -> dict[int, ResultRow]:
    return {r.position: r for r in store.results()}


def test_counts(bundled_store) -> None:
    assert bundled_store.counts() == {"sources": 43, "results": 145, "opinions": 2}
    sources = bundled_store.sources()
    evidence = sources[sources.design != "opinion"]
    assert len(evidence) == 42
    assert set(evidence.design) == {"rct", "meta-analysis", "systematic-review"}


def test_raw_copy_is_unchanged() -> None:
    raw = data_path(RAW_FILE)
    if SHARED.exists():
        assert filecmp.cmp(SHARED, raw, shallow=False)
    with open(raw, newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 145


def test_build_copies_byte_for_byte(tmp_path: Path) -> None:
    out = build(data_path(RAW_FILE), tmp_path)
    assert out.read_bytes() == data_path(RAW_FILE).read_bytes()


def test_every_result_has_provenance(bundled_store) -> None:
    for r in bundled_store.results():
        assert r.doi or r.url_or_location, r.position
        assert r.verbatim_quote, r.position
        assert r.derivation, r.position


def test_vocabulary_covers_every_raw_string() -> None:
    rows = read_rows(data_path(RAW_FILE))
    assert unmapped_terms(rows, bundled_vocabulary()) == []


def test_every_outcome_has_a_documented_direction() -> None:
    for raw, entry in bundled_vocabulary().data["outcomes"]["raw"].items():
        assert entry["basis"], raw
        if entry["lower_is_better"] is None:
            assert entry["domain"] in ("multiple", "unspecified"), raw


def test_every_estimate_has_an_explicit_sign_convention(bundled_store) -> None:
    for r in bundled_store.results():
        if r.estimate is None:
            assert r.sign_convention == "no-estimate"
        else:
            assert r.sign_convention != "no-estimate"
            assert r.sign_reason and "import default" not in r.sign_reason, r.position


def test_directions_by_instrument(bundled_store) -> None:
    rows = bundled_store.results()
    direction = {(r.outcome_domain, r.outcome_instrument): r.lower_is_better for r in rows}
    assert direction[("function", "DASH")] is True
    assert direction[("function", "PRTEE")] is True
    assert direction[("function", "VISA-A")] is False
    assert direction[("function", "Kujala")] is False
    assert direction[("function", "AOFAS")] is False
    assert direction[("pain", "FHSQ foot pain")] is False
    assert direction[("pain", "VAS")] is True


def test_sign_harmonisation_from_notes(bundled_store) -> None:
    by = _by_position(bundled_store)
    # coombes2010: "positive SMD favours corticosteroid" -> flipped
    r = by[78]
    assert (r.source_id, r.estimate) == ("coombes2010", 1.44)
    assert r.sign_convention == "comparator-minus-treatment"
    assert (r.harmonised_estimate, r.harmonised_ci_lower, r.harmonised_ci_upper) == (-1.44, -1.71, -1.17)
    assert r.favours_treatment_when == "harmonised < 0"
    assert by[79].harmonised_estimate == pytest.approx(0.40)     # no intervention favoured
    # mohamadi2017: "positive favours corticosteroid"
    assert by[87].harmonised_estimate == pytest.approx(-0.52)
    # liu2015 vs wet needling: positive SMD favours the comparator -> kept (more pain with DN)
    assert by[25].harmonised_estimate == pytest.approx(1.69)
    # liu2018lbp DN + other vs DN alone: positive favours DN + other -> flipped
    assert by[45].harmonised_estimate == pytest.approx(-0.83)
    # most dry-needling pain rows: negative favours dry needling -> kept
    assert by[7].harmonised_estimate == pytest.approx(-0.70)
    # Kujala (higher is better): positive = improvement -> kept, favours when > 0
    assert by[58].harmonised_estimate == pytest.approx(0.45)
    assert by[58].favours_treatment_when == "harmonised > 0"
    # ratios stay ratios
    assert by[137].harmonised_measure == "RR" and by[137].favours_treatment_when == "harmonised < 1"


def test_favours_treatment_is_consistent_with_benefit(bundled_store) -> None:
    """Rows whose source says the treatment was better land on the favouring side."""
    by = _by_position(bundled_store)
    for pos in (7, 9, 23, 27, 36, 60, 61, 64, 72, 100, 107, 131, 138, 139, 145):
        r = by[pos]
        assert r.favours_treatment_when is not None
        side = r.favours_treatment_when.split()[1]
        assert (r.harmonised_estimate < 0) if side == "<" else (r.harmonised_estimate > 0), pos


def test_cushman2021_has_p_bounds_and_no_invented_numbers(bundled_store) -> None:
    rows = bundled_store.results(source="cushman2021")
    assert len(rows) == 6
    for r in rows:
        assert (r.n_treatment, r.n_control) == (28, 34)
        assert r.estimate is None and r.ci_lower is None and r.ci_upper is None
        assert r.mean_treatment is None and r.mean_control is None
        assert r.sd_treatment is None and r.sd_control is None
        assert r.harmonised_estimate is None
    day1, day2, vm = rows[0], rows[1], rows[2]
    assert (day1.timepoint_raw, day1.p_relation, day1.p_number) == ("day 1", "<=", 0.003)
    assert (day2.timepoint_raw, day2.p_relation, day2.p_number) == ("day 2", "<=", 0.041)
    assert day1.direction_reported == day2.direction_reported == "favours-comparator"
    z = 2.967737925  # z_{0.0015}
    assert day1.smd_bound_relation == ">="
    assert day1.smd_bound == pytest.approx(z * math.sqrt(1 / 28 + 1 / 34), rel=1e-6)
    assert "bound" in day1.derivation
    assert vm.smd_bound_relation == "<" and vm.p_relation == ">"
    days = {r.timepoint_days for r in rows}
    assert 3.0 not in days and 7.0 not in days       # day 3 / day 7 soleus are not in the data


def test_primary_and_review_are_kept_apart(bundled_store) -> None:
    furlan = bundled_store.results(source="furlan_cochrane_lbp")
    assert [r.kind for r in furlan].count("primary") == 6
    pooled = [r for r in furlan if r.kind == "review"]
    assert len(pooled) == 1 and pooled[0].k_studies == 4
    assert {r.study for r in furlan if r.kind == "primary"} == {
        "Kerr 2003", "Leibing 2002", "Mendelson 1983", "Molsberger 2002", "Carlsson (even)"}
    assert all(r.kind == "review" for r in bundled_store.results(source="gattie2017"))


def test_queries(bundled_store) -> None:
    dn = bundled_store.results(treatment="dry needling")
    assert len(dn) > 50 and all(r.treatment_family == "dry needling" for r in dn)
    prp = bundled_store.results(treatment="PRP", condition="lateral epicondylitis")
    assert prp and all(r.treatment == "platelet-rich plasma injection" for r in prp)
    pain = bundled_store.results(treatment="corticosteroid injection", outcome="pain")
    assert pain and all(r.outcome_domain == "pain" for r in pain)
    assert len(bundled_store.results(kind="primary")) + len(bundled_store.results(kind="review")) == 145
    frame = bundled_store.results_frame(treatment="dry needling", outcome="pain")
    assert {"harmonised_estimate", "lower_is_better", "timepoint_days", "timepoint_window",
            "doi", "url_or_location", "verbatim_quote"} <= set(frame.columns)


def test_risk_of_bias_from_pedro(bundled_store) -> None:
    from sqlalchemy import select

    from metaverdict.evidence.models import RiskOfBias
    with bundled_store.session() as s:
        scores = {rob.study.label: rob.score_text for rob in s.scalars(select(RiskOfBias))}
    assert scores["cushman2021"] == "PEDro 5/10"
    assert scores["coombes2013"] == "PEDro 8/10"


def test_sankoff_opinion_has_no_numbers(bundled_store) -> None:
    ops = bundled_store.opinions(treatment="dry needling")
    assert {o.condition for o in ops} == {"iliotibial band syndrome", "patellofemoral pain"}
    for o in ops:
        assert o.expert == "J. Sankoff" and "Sankoff" in o.citation
        assert o.evidence_level == "expert opinion"
        assert not any(ch.isdigit() for ch in o.claim)
    assert bundled_store.results(source="sankoff_dry_needling") == []
    assert bundled_store.opinions(condition="iliotibial band syndrome")[0].claim


def test_unmapped_term_is_reported() -> None:
    rows = read_rows(data_path(RAW_FILE))
    rows[3] = {**rows[3], "outcome": "an outcome nobody mapped"}
    assert unmapped_terms(rows, bundled_vocabulary()) == [
        "row 4, column 'outcome': 'an outcome nobody mapped'"]
