"""The admins' Impact report page through AppTest against the embedded
store: groups and counts with the two explanations, downloads, filters,
one audit entry per report built, no candidate (nor one candidate's
self-identification) shown anywhere, and the page closed to recruiters."""

from __future__ import annotations

import random

from hiremate import db as dbmod
from hiremate.models import Role
from hiremate.ops import simulate
from hiremate.ops.sample_impact import store_decision, store_self_id
from tests.support.page_helpers import (  # noqa: F401
    Org,
    _fast_bcrypt,
    make_admin,
    make_member,
    open_page,
    run_ok,
    scope_of,
    seed_completed,
    texts,
)

PAGE = "app_pages/impact.py"


def seeded(db):
    admin = make_admin(db)
    tasks = simulate.make_tasks(random.Random(5), 3, organization_id=admin.organization_id)
    org = Org(scope_of(db, admin), admin, tasks)
    zebulon = seed_completed(org, name="Zebulon Quixote", email="zebulon@example.com", position="Analyst")
    ada = seed_completed(org, name="Ada Lovelace", email="ada@example.com", position="Engineer")
    store_self_id(db, admin.organization_id, zebulon.id, "another", "native_hawaiian_pacific_islander")
    store_self_id(db, admin.organization_id, ada.id, "female", "white")
    store_decision(db, admin.organization_id, zebulon.id, "advance")
    store_decision(db, admin.organization_id, ada.id, "reject")
    return admin, [zebulon, ada]


def everything(at) -> str:
    frames = " ".join(frame.value.to_csv() for frame in at.dataframe)
    return texts(at) + frames + " ".join(str(b.proto) for b in at.get("download_button"))


def test_an_admin_sees_groups_counts_and_explanations_but_no_candidate(app_env, db):
    admin, attempts = seeded(db)
    at = open_page(db, admin, PAGE)
    shown = texts(at)
    assert "Impact ratio:" in shown and "the highest group is 1.00" in shown
    assert "Below 0.8:" in shown and "29 CFR 1607.4(D)" in shown
    assert "does not replace one" in shown
    assert any("fewer than 30" in w.value for w in at.warning)
    assert "**2** completed assessments" in shown
    [selection, *_] = at.dataframe
    groups = selection.value.to_dict("records")
    assert {(row["Group"], row["People"]) for row in groups} == {
        ("Female", 1),
        ("Another sex or gender (for example non-binary)", 1),
    }
    assert {b.key for b in at.get("download_button")} == {
        "impact_download_md",
        "impact_download_csv",
        "impact_download_json",
    }
    page = everything(at)
    for attempt in attempts:  # names, emails and attempt ids never appear: only groups and counts
        assert attempt.candidate_info.name not in page
        assert attempt.candidate_info.email not in page
        assert str(attempt.id) not in page
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "impact.reported"}) == 1


def test_filters_rebuild_the_report_and_a_rerun_does_not_audit_again(app_env, db):
    admin, _ = seeded(db)
    at = open_page(db, admin, PAGE)
    at.radio(key="impact_breakdown").set_value("race_ethnicity")
    run_ok(at)
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "impact.reported"}) == 1
    assert {row["Group"] for row in at.dataframe[0].value.to_dict("records")} == {
        "White (not Hispanic or Latino)",
        "Native Hawaiian or Other Pacific Islander (not Hispanic or Latino)",
    }
    at.selectbox(key="impact_position").select("Engineer")
    run_ok(at)
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "impact.reported"}) == 2
    assert [row["Group"] for row in at.dataframe[0].value.to_dict("records")] == ["White (not Hispanic or Latino)"]
    [entry, *_] = db[dbmod.AUDIT_LOG].find({"action": "impact.reported"}).sort("at", -1)
    assert entry["details"] == {"rows": 1} and entry["actor_id"] == admin.id


def test_a_recruiter_cannot_use_the_impact_report_page(app_env, db):
    admin, _ = seeded(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter", Role.RECRUITER)
    at = open_page(db, rita, PAGE)
    assert [w.value for w in at.warning] == ["The Impact report page is for admins of your organisation."]
    assert not at.dataframe and not at.get("download_button")
    assert "Female" not in texts(at)
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "impact.reported"}) == 0
