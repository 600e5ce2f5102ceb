"""The bundled evidence: counts, provenance, vocabulary coverage, signs, no invented numbers."""
from __future__ import annotations

import csv
import filecmp
import math
from pathlib import Path

import pytest

from metaverdict.evidence.bundled import RAW_FILE, build, data_path, unmapped_terms
from metaverdict.evidence.io import read_rows
from metaverdict.evidence.queries import ResultRow
from metaverdict.evidence.vocabulary import bundled_vocabulary

from evidence_fixtures import N_RAW, N_RESULTS, RAW, SUPPLEMENT, csv_rows

SHARED = Path("/work/shared/evidence/studies.csv")


def _by_position(store) -> dict[int, ResultRow]:
    return {r.position: r for r in store.results()}


def test_counts(bundled_store) -> None:
    # results: the raw rows, then the supplement rows; the supplement adds no source (each
    # of its source_ids is a raw one), so 42 evidence sources + the Sankoff opinion source
    assert bundled_store.counts() == {"sources": 43, "results": N_RESULTS, "opinions": 2}
    assert {r["source_id"] for r in csv_rows(SUPPLEMENT)} <= {r["source_id"] for r in csv_rows(RAW)}
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
    assert ((r.harmonised_estimate, r.harmonised_ci_lower, r.harmonised_ci_upper)
            == (-1.44, -1.71, -1.17))
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
    # 6 raw rows + the supplement's measured-but-unreported day 3 and day 7 rows
    n_supplement = sum(r["source_id"] == "cushman2021" for r in csv_rows(SUPPLEMENT))
    assert n_supplement == 2 and len(rows) == 6 + n_supplement
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
    # day 3 / day 7 soleus: measured (supplement), but no result reported - no P, no bound,
    # no direction (not a null result)
    day3, day7 = rows[6:]
    assert [(r.timepoint_raw, r.timepoint_days) for r in (day3, day7)] == [("day 3", 3.0),
                                                                          ("day 7", 7.0)]
    assert day3.position > N_RAW and day7.position > N_RAW
    for r in (day3, day7):
        assert r.p_number is None and r.smd_bound is None and r.direction_reported is None


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
    assert prp and all(r.treatment_family == "platelet-rich plasma injection" for r in prp)
    # the Cochrane review pooling autologous blood with PRP now belongs to the PRP family
    assert "autologous blood or platelet-rich plasma injection" in {r.treatment for r in prp}
    pain = bundled_store.results(treatment="corticosteroid injection", outcome="pain")
    assert pain and all(r.outcome_domain == "pain" for r in pain)
    kinds = [len(bundled_store.results(kind=k)) for k in ("primary", "review")]
    assert sum(kinds) == N_RESULTS
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
        # the opinion is Dr Cushman's, as the Sankoff article reports it
        assert o.expert == "D. M. Cushman (as reported by J. Sankoff)" and "Sankoff" in o.citation
        assert o.evidence_level.startswith("expert opinion")
        assert not any(ch.isdigit() for ch in o.claim)
        assert o.claim == (f"Dry needling gives better pain control in {o.condition}, which "
                           "lets rehabilitation progress faster.")
    assert bundled_store.results(source="sankoff_dry_needling") == []
    assert bundled_store.opinions(condition="iliotibial band syndrome")[0].claim


def test_unmapped_term_is_reported() -> None:
    rows = read_rows(data_path(RAW_FILE))
    rows[3] = {**rows[3], "outcome": "an outcome nobody mapped"}
    assert unmapped_terms(rows, bundled_vocabulary()) == [
        "row 4, column 'outcome': 'an outcome nobody mapped'"]


def test_vocabulary_overrides_set_arm_sizes_and_append_notes(bundled_store) -> None:
    by = _by_position(bundled_store)
    raw = csv_rows(RAW)
    # coombes2013 (rows 81, 82): the raw notes give "corticosteroid (n=43), placebo injection
    # (n=41)" but leave n blank; kearney2021 (row 108): the abstract's "(n = 121) ... (n = 119)"
    for pos, source, n in ((81, "coombes2013", (43, 41)), (82, "coombes2013", (43, 41)),
                           (108, "kearney2021", (121, 119))):
        r, before = by[pos], raw[pos - 1]
        assert r.source_id == before["source_id"] == source
        assert before["n_treatment"] == before["n_control"] == ""
        assert (r.n_treatment, r.n_control) == n
        # the override's provenance is appended to the raw notes, which are kept
        assert r.notes.startswith(before["notes"])
        assert "added 2026-12" in r.notes[len(before["notes"]):]


def test_supplement_rows_follow_the_raw_rows(bundled_store) -> None:
    rows = bundled_store.results()
    extra = rows[N_RAW:]
    assert [r.source_id for r in extra] == [r["source_id"] for r in csv_rows(SUPPLEMENT)]
    assert all(r.verbatim_quote and r.url_or_location for r in extra)
    kearney = next(r for r in extra if r.source_id == "kearney2021")
    # the trial's own MCID from its abstract: "minimal clinically important difference in
    # score, 12 points"
    assert kearney.stated_mid == 12 and "12 points" in kearney.stated_mid_text
    assert (kearney.estimate, kearney.ci_lower, kearney.ci_upper) == (-2.7, -8.8, 3.3)
    assert kearney.comparator_class == "sham"
    nulls = [r for r in extra if r.direction_reported == "no-significant-difference"]
    assert nulls and all(r.estimate is None for r in nulls)


def test_included_trials(bundled_store) -> None:
    trials = bundled_store.included_trials()
    want = csv_rows(RAW.parent / "included_trials.csv")
    assert [(t.review, t.trial, t.year) for t in trials] == [
        (r["review_source_id"], r["trial"], int(r["trial_year"])) for r in want]
    assert all(t.location and not t.complete for t in trials)   # both lists are partial
