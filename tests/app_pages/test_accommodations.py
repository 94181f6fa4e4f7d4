"""Accommodations on the recruiter pages, through AppTest against the embedded
store: granted when issuing, a candidate's request on the dashboard (without
its details) and on the assessment, set or answered by the issuer or an
admin, and confidential to them (ADA): another recruiter sees that a request
exists, never what it says."""

from __future__ import annotations

import pytest

from hiremate import attempts
from hiremate import db as dbmod
from hiremate.errors import AttemptClosed, AttemptError
from hiremate.models import Role
from tests.app_pages.test_assessments import PAGE, fill_candidate, issue, library, submit
from tests.support.page_helpers import (  # noqa: F401
    _fast_bcrypt,
    click,
    make_admin,
    make_member,
    open_page,
    run_ok,
    scope_of,
    texts,
)

DASHBOARD = "app_pages/dashboard.py"


def test_accommodations_granted_when_issuing_are_stored_on_the_attempt(app_env, db):
    admin = make_admin(db)
    first, *_ = library(scope_of(db, admin))
    at = open_page(db, admin, PAGE)
    fill_candidate(at)
    at.multiselect(key="assess_task_ids").select(str(first.id))
    at.selectbox(key="assess_extra_time").select("1.5")
    at.checkbox(key="assess_assistive_technology").check()
    at.text_input(key="assess_accommodation_note").input("uses a screen reader")
    submit(at)
    assert not at.error
    [doc] = db[dbmod.ATTEMPTS].find()
    assert doc["accommodations"] == {
        "time_multiplier": 1.5,
        "untimed": False,
        "assistive_technology": True,
        "note": "uses a screen reader",
    }


def test_a_request_reaches_the_dashboard_without_its_details(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter", Role.RECRUITER)
    task_list = library(scope_of(db, admin))
    issued = issue(scope_of(db, admin), task_list, "Grace Hopper")
    attempts.request_accommodation(db, issued.attempt, needs=["extra_time"], note="dyslexia, letter on file")

    for user in (admin, rita):
        shown = texts(open_page(db, user, DASHBOARD))
        assert "1 accommodation request to answer" in shown
        assert "Grace Hopper" in shown
        assert "dyslexia" not in shown and "Extra time" not in shown


def test_only_the_issuer_and_admins_see_and_set_accommodations(app_env, db):
    admin = make_admin(db)
    rita = make_member(db, admin, "rita@acme.test", "Rita Recruiter", Role.RECRUITER)
    sam = make_member(db, admin, "sam@acme.test", "Sam Recruiter", Role.RECRUITER)
    task_list = library(scope_of(db, admin))
    issued = issue(scope_of(db, rita), task_list, "Grace Hopper")
    attempts.request_accommodation(db, issued.attempt, needs=["extra_time", "other"], note="dyslexia")
    attempt_id = str(issued.attempt.id)

    # Another recruiter sees that a request exists, and nothing more.
    at = open_page(db, sam, PAGE, attempt=attempt_id)
    assert "Asked for an accommodation" in texts(at)
    assert not [b for b in at.button if b.key == f"assess_accommodations_{attempt_id}"]
    assert "dyslexia" not in texts(at)

    # The recruiter who issued it reads it and grants double time.
    at = open_page(db, rita, PAGE, attempt=attempt_id)
    click(at, f"assess_accommodations_{attempt_id}")
    shown = texts(at)
    assert "Extra time, Other" in shown and "dyslexia" in shown
    at.selectbox(key=f"assess_acc_{attempt_id}_extra_time").select("2")
    at.button(key=f"assess_acc_save_{attempt_id}").click()
    run_ok(at)
    assert "Accommodations saved." in texts(at)
    doc = db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt.id})
    assert doc["accommodations"]["time_multiplier"] == 2.0
    assert doc["accommodation_request"]["answered_at"] is not None  # setting them answers the request
    assert attempts.open_accommodation_requests(scope_of(db, admin)) == []
    entry = db[dbmod.AUDIT_LOG].find_one({"action": "attempt.accommodations_set"})
    assert entry["details"] == {"granted": True} and "dyslexia" not in str(entry)

    # The domain refuses the other recruiter too, whatever the page shows.
    with pytest.raises(AttemptError, match="only an admin or the recruiter who issued"):
        attempts.set_accommodations(scope_of(db, sam), issued.attempt.id, None)


def test_accommodations_cannot_change_once_the_candidate_started(app_env, db):
    admin = make_admin(db)
    issued = issue(scope_of(db, admin), library(scope_of(db, admin)), "Grace Hopper")
    db[dbmod.ATTEMPTS].update_one({"_id": issued.attempt.id}, {"$set": {"status": "in_progress"}})
    with pytest.raises(AttemptClosed, match="only before the candidate starts"):
        attempts.set_accommodations(scope_of(db, admin), issued.attempt.id, None)
