"""assess(), time_course() and the article's claim checks on the bundled store (tmp SQLite).

Expectations are derived from the stored rows in each test, not typed in."""
from __future__ import annotations

import pytest

from metaverdict.evidence import open_store
from metaverdict.grade import MCIDTable
from metaverdict.synthesis import article_claims, assess, check_claims, time_course
from metaverdict.verdict import CATEGORIES

MARATHON = "post-marathon muscle soreness"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("verdict") / "e.sqlite"
    with open_store("sqlite:///" + str(path)) as s:
        yield s


@pytest.fixture(scope="module")
def dn(store):
    return assess(store, "dry needling")


def test_every_verdict_is_complete(store):
    a = assess(store)
    assert len(a) > 0
    for v in a:
        assert v.category in CATEGORIES and v.statement
        if v.body is not None:
            assert v.certainty.level in ("high", "moderate", "low", "very low")
            for d in v.certainty.downgrades:
                assert d.reason
        assert v.to_dict()["category"] == v.category


def test_marathon_time_course(store):
    rows = [r for r in store.results(treatment="dry needling", condition=MARATHON,
                                     outcome="pain") if r.timepoint_days is not None
            and r.p_value is not None]
    tc = time_course(store, "dry needling", MARATHON, "pain")
    single = [v for v in tc if v.body.timepoint_days is not None and v.body.p_number]
    assert [v.body.timepoint_days for v in single] == sorted(r.timepoint_days for r in rows)
    smd_mcid = MCIDTable.bundled().lookup("pain", "SMD").value
    for v, r in zip(single, sorted(rows, key=lambda r: r.timepoint_days)):
        assert r.direction_reported == "favours-comparator"
        assert v.direction == "harm" and v.statistically_significant
        # the approximate 95% CI at the bound is bound ± 1.96 sqrt(1/n1 + 1/n2)
        half = 1.959964 * (1 / r.n_treatment + 1 / r.n_control) ** 0.5
        want = "important harm" if r.smd_bound - half >= smd_mcid else "harm, size uncertain"
        assert v.category == want
        assert v.certainty.level == "very low"
        assert "raw-scale importance cannot be judged" in " ".join(v.reasons)
    measured = {v.body.timepoint_days: v for v in tc if v.body.timepoint_days is not None}
    # days 3 and 7 were measured (the abstract's primary outcome) but not reported
    assert sorted(measured) == [1.0, 2.0, 3.0, 7.0]
    for day in (3.0, 7.0):
        assert measured[day].effect == "measured, result not reported"
        assert measured[day].category == "inconclusive"
    assert tc.follow_up_days == 7.0
    vm = [v for v in tc if v.body.timepoint_days is None]
    assert vm and all(v.category == "no significant difference" and v.direction == "none"
                      for v in vm)


def test_opinions(store, dn):
    ops = {o.condition: o for o in dn.opinions}
    itb = store.results(treatment="dry needling", condition="iliotibial band syndrome")
    pfp = store.results(treatment="dry needling", condition="patellofemoral pain")
    assert not itb and pfp
    assert ops["iliotibial band syndrome"].trial_results == 0
    assert ops["patellofemoral pain"].trial_results == len({r.source_id for r in pfp})
    only = [v for v in dn if v.category == "no trial evidence (opinion only)"]
    assert [v.claim.condition for v in only] == ["iliotibial band syndrome"]


def test_not_shown_is_derived(dn):
    assert dn.not_shown
    assert any("function" in s and "shoulder pain" in s for s in dn.not_shown)


def test_acupuncture_pooled_from_primary_trials(store):
    a = assess(store, "acupuncture")
    pooled = [v for v in a if v.body.basis == "pooled primary trials"]
    assert pooled
    for v in pooled:
        rows = [r for r in store.results(treatment="acupuncture") if r.id in v.body.result_ids]
        assert len({r.study for r in rows}) == v.body.k >= 2
        assert all(r.kind == "primary" for r in rows)


@pytest.fixture(scope="module")
def checks(store):
    return {c.claim.id: c for c in check_claims(article_claims(), store)}


#: The article's claims adjudicated by hand against the stored quotes (not read off the code):
#: claim id -> (expected status, why).
ADJUDICATED = {
    "a": ("supported", "pure-sham benefits are stored: cotchett2014 'significant effects favored "
                       "real dry needling over sham' (VAS -14.4 mm, 95% CI -23.5 to -5.2) and "
                       "kietrys2013 'dry needling can immediately decrease pain' vs sham; none "
                       "is rated above low certainty, as the claim says"),
    "b": ("partly supported", "no function result against pure sham for shoulder or neck; for "
                              "low back pain hu2018 says 'DN was superior to sham needling for "
                              "... functional disability at postintervention'"),
    "c": ("partly supported", "cushman2021: more soleus pain on days 1 and 2 (P <= 0.003, "
                              "P <= 0.041); day 3 was measured but not reported; no clinical "
                              "significance can be read from P-values alone"),
    "d": ("no evidence", "day 7 was measured ('days 1, 2, 3, and 7') but no day-7 result is "
                         "reported"),
    "e": ("supported", "'No association ... postrace cramping at any time point (P > 0.05)'"),
    "f": ("partly supported", "no iliotibial band trial is stored; two reviews report trials "
                              "in patellofemoral pain"),
    "g": ("no evidence", "who benefits cannot be shown from aggregate results; no variance "
                         "ratio or belief moderator is stored"),
    "h": ("supported", "fernandezdelaspenas2021neck: dry needling added to other interventions "
                       "reduced pain at short term (SMD -1.46, 95% CI -2.25 to -0.67)"),
}


def test_article_claim_statuses(checks):
    assert set(checks) == set(ADJUDICATED)
    for cid, (status, why) in ADJUDICATED.items():
        assert checks[cid].status == status, (cid, why, checks[cid].summary())


def test_claim_c_details(checks):
    c = checks["c"]
    assert any("day 1" in h and "statistically significant harm" in h for h in c.holds)
    assert any("day 2" in h for h in c.holds)
    assert any("day 3" in u and "measured, result not reported" in u for u in c.not_assessable)
    assert any("raw scale cannot be judged" in u for u in c.not_assessable)
    assert any("vastus medialis" in f for f in c.fails)


def test_claim_e_caveat_and_f_pfps(checks):
    assert any("not evidence of no difference" in r for r in checks["e"].reasons)
    assert any(f.startswith("patellofemoral pain") for f in checks["f"].fails)
    assert any(h.startswith("iliotibial band syndrome") for h in checks["f"].holds)
