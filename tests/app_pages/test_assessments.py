"""The Assessments page through AppTest against the embedded store: issuing
(by hand and sampled), the link shown once and stored only as a hash,
re-issuing, locking with a reason, the list's filters and pagination,
links to open an attempt, and organisation scoping."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import streamlit as st

from hiremate import attempts, task_library, tasks
from hiremate import db as dbmod
from hiremate.models import CandidateInfo, Task
from hiremate.ops import simulate
from hiremate.scope import Scope
from recruiter import ui
from tests.support.builders import start_attempt
from tests.support.page_helpers import (  # noqa: F401
    _fast_bcrypt,
    click,
    make_admin,
    open_page,
    run_ok,
    scope_of,
    texts,
    unescape,
)

PAGE = "app_pages/assessments.py"
LINK = re.compile(r"^http://localhost:8765/a/([A-Za-z0-9_\-]{43})$")


def library(scope: Scope, count: int = 3) -> list[Task]:
    entries = list(task_library.LIBRARY.values())[:count]
    return [tasks.create_task(scope, entry) for entry in entries]


def issue(scope: Scope, task_list: list[Task], name: str, email: str | None = None) -> attempts.IssuedAttempt:
    candidate = CandidateInfo(name=name, email=email or f"{name.split()[0].lower()}@example.com", position="Analyst")
    return attempts.issue_attempt(scope, candidate=candidate, task_ids=[t.id for t in task_list], expires_days=7)


def fill_candidate(at, name="Grace Hopper", email="Grace@Example.com", **more) -> None:
    at.text_input(key="assess_candidate_name").input(name)
    at.text_input(key="assess_candidate_email").input(email)
    for field, value in more.items():
        at.text_input(key=f"assess_candidate_{field}").input(value)


def submit(at):
    at.button(key="FormSubmitter:assess_issue_form-Issue assessment").click()
    return run_ok(at)


def shown_link(at) -> str:
    [code] = at.code
    assert LINK.match(code.value), code.value
    return code.value


def badges(at) -> list[str]:
    """The status badges shown (st.badge is a markdown element)."""
    return [m.value for m in at.markdown if re.match(r"^:\w+-badge\[", m.value)]


def listed_names(at) -> list[str]:
    return [unescape(m.value.strip("*")) for m in at.markdown if m.value.startswith("**") and m.value.endswith("**")]


def test_issue_by_hand_shows_the_link_once_and_stores_only_its_hash(app_env, db):
    admin = make_admin(db)
    first, second, _ = library(scope_of(db, admin))
    at = open_page(db, admin, PAGE)
    assert "No assessments yet." in texts(at)
    fill_candidate(at, phone="+44 20 7946 0000", position="Data Analyst", resume_url="https://cv.example/grace")
    at.multiselect(key="assess_task_ids").select(str(second.id)).select(str(first.id))
    at.number_input(key="assess_expiry_days").set_value(3)
    submit(at)

    assert not at.error
    link = shown_link(at)
    token = LINK.match(link).group(1)
    assert "Assessment link for Grace Hopper" in texts(at)
    assert "shown only this once" in " ".join(w.value for w in at.warning)
    [doc] = db[dbmod.ATTEMPTS].find()
    assert doc["token_hash"] == attempts.hash_secret(token)
    assert token not in str(doc)
    assert doc["task_ids"] == [second.id, first.id]
    assert doc["candidate_info"] == {
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "phone": "+44 20 7946 0000",
        "position": "Data Analyst",
        "resume_url": "https://cv.example/grace",
    }
    assert round((doc["expires_at"] - doc["created_at"]).total_seconds()) == 3 * 86400
    assert attempts.find_by_token(db, token).id == doc["_id"]
    assert listed_names(at) == ["Grace Hopper"]
    assert at.text_input(key="assess_candidate_name").value == ""  # the form is ready for the next one

    # Any later run still shows it until dismissed; then it is gone for good.
    run_ok(at)
    assert shown_link(at) == link
    click(at, "assess_new_link__done")
    assert not at.code
    assert token not in str({k: at.session_state[k] for k in at.session_state})


def test_issue_by_sample_of_a_category(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    created = library(scope, 17)
    wanted = {t.id for t in created if t.category == "communication"}
    at = open_page(db, admin, PAGE)
    at.radio(key="assess_task_mode").set_value("Sample tasks at random")
    run_ok(at)
    fill_candidate(at)
    at.number_input(key="assess_sample_size").set_value(2)
    at.selectbox(key="assess_sample_category").select("communication")
    submit(at)
    shown_link(at)
    [doc] = db[dbmod.ATTEMPTS].find()
    assert len(doc["task_ids"]) == 2 and set(doc["task_ids"]) <= wanted


def test_problems_are_shown_and_nothing_is_issued(app_env, db):
    admin = make_admin(db)
    library(scope_of(db, admin))
    at = open_page(db, admin, PAGE)
    fill_candidate(at, name=" ", email="not-an-email", resume_url="javascript:alert(1)")
    submit(at)
    [error] = at.error
    for problem in ("Name: is required", "Email: is not an email address", "Resume URL: must be a web address"):
        assert f"- {problem}" in unescape(error.value)
    assert not at.code
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0

    fill_candidate(at)
    at.text_input(key="assess_candidate_resume_url").input("")
    submit(at)
    assert "Tasks: pick at least one task" in unescape(at.error[0].value)
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0

    at.radio(key="assess_task_mode").set_value("Sample tasks at random")
    run_ok(at)
    at.number_input(key="assess_sample_size").set_value(3)
    at.selectbox(key="assess_sample_difficulty").select("medium")  # 2 of the 3 tasks
    submit(at)
    assert unescape(at.error[0].value) == ("Asked for 3 tasks but only 2 active tasks with difficulty medium exist.")
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0


def asked_to_reissue(db):
    """An admin's page with one pending assessment whose Re-issue was clicked."""
    admin = make_admin(db)
    scope = scope_of(db, admin)
    issued = issue(scope, library(scope), "Alan Turing")
    at = open_page(db, admin, PAGE)
    click(at, f"assess_reissue_{issued.attempt.id}")
    return issued, at


def test_reissue_shows_a_new_link_and_the_old_token_stops_working(app_env, db):
    issued, at = asked_to_reissue(db)
    assert "The current link stops working at once." in texts(at)
    click(at, f"assess_reissue_confirm_{issued.attempt.id}")
    new_link = shown_link(at)
    assert new_link != issued.link
    assert "New assessment link for Alan Turing" in texts(at)
    assert attempts.find_by_token(db, issued.token) is None
    assert attempts.find_by_token(db, LINK.match(new_link).group(1)).id == issued.attempt.id


def test_reissue_can_be_cancelled(app_env, db):
    issued, at = asked_to_reissue(db)
    click(at, f"assess_reissue_cancel_{issued.attempt.id}")
    assert not at.code
    assert attempts.find_by_token(db, issued.token).id == issued.attempt.id


def test_lock_with_a_reason(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    issued = issue(scope, library(scope), "Ken Thompson")
    attempt_id = issued.attempt.id
    at = open_page(db, admin, PAGE)
    click(at, f"assess_lock_{attempt_id}")
    assert "This cannot be undone." in texts(at)
    click(at, f"assess_lock_confirm_{attempt_id}")  # no reason yet
    assert "Give a reason for locking the attempt." in unescape(at.error[0].value)
    assert db[dbmod.ATTEMPTS].find_one({"_id": attempt_id})["status"] == "pending"

    at.text_input(key=f"assess_lock_reason_{attempt_id}").input("Withdrew the application")
    click(at, f"assess_lock_confirm_{attempt_id}")
    assert "The assessment of Ken Thompson is locked." in [s.value for s in at.success]
    doc = db[dbmod.ATTEMPTS].find_one({"_id": attempt_id})
    assert (doc["status"], doc["locked_reason"]) == ("locked", "Withdrew the application")
    shown = texts(at)
    assert "Reason: Withdrew the application" in shown
    assert badges(at) == [ui.status_markdown("locked")]
    # A locked attempt offers neither a new link nor another lock.
    keys = [b.key for b in at.button]
    assert f"assess_lock_{attempt_id}" not in keys and f"assess_reissue_{attempt_id}" not in keys
    assert attempts.find_by_token(db, issued.token).status == "locked"


def test_list_filters_search_and_pagination(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    task_list = library(scope, 2)
    for n in range(23):
        issue(scope, task_list, f"Candidate {n:02d}")
    locked = issue(scope, task_list, "Margaret Hamilton", "margaret@apollo.example")
    attempts.lock_attempt(scope, locked.attempt.id, "Duplicate")
    at = open_page(db, admin, PAGE)
    assert "Showing 1–20 of 24 assessments" in texts(at)
    assert listed_names(at)[0] == "Margaret Hamilton"  # newest first
    at.pagination(key="assess_page").select(2)
    run_ok(at)
    assert listed_names(at) == ["Candidate 03", "Candidate 02", "Candidate 01", "Candidate 00"]

    at.selectbox(key="assess_filter_status").select("locked")
    run_ok(at)
    assert listed_names(at) == ["Margaret Hamilton"]
    assert "1 assessment" in texts(at).splitlines()
    at.selectbox(key="assess_filter_status").select("")
    at.text_input(key="assess_filter_search").input("APOLLO")
    run_ok(at)
    assert listed_names(at) == ["Margaret Hamilton"]
    at.text_input(key="assess_filter_search").input("nobody like this")
    run_ok(at)
    assert "No assessments match these filters." in texts(at)


def test_open_links_go_to_live_and_profile_pages(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    task_list = library(scope, 2)
    running = issue(scope, task_list, "Running Rita")
    start_attempt(db, attempts.find_by_token(db, running.token))
    done = simulate.seed_completed_attempt(
        db,
        organization_id=scope.organization_id,
        tasks=task_list,
        rng=random.Random(7),
        candidate=CandidateInfo(name="Done Dora", email="dora@example.com"),
    )
    never = issue(scope, task_list, "Never Ned")
    attempts.lock_attempt(scope, never.attempt.id, "Position filled")
    at = open_page(db, admin, PAGE)
    links = {(link.proto.label, link.proto.query_string) for link in at.main.get("page_link")}
    shown = texts(at)
    assert ("Watch live", f"attempt={running.attempt.id}") in links
    assert ("Open profile", f"attempt={done.id}") in links
    assert "Never started" in shown  # locked before it started: no profile to open
    assert len(links) == 2


def test_another_organisation_sees_none_of_the_assessments(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    issued = issue(scope, library(scope), "Acme Candidate")
    other = make_admin(db, org="Globex", email="gina@globex.test", name="Gina")
    at = open_page(db, other, PAGE)
    shown = texts(at)
    assert "Acme Candidate" not in shown
    assert "No assessments yet." in shown
    assert "There are no active tasks to assess with yet." in shown  # Acme's tasks are not offered
    assert f"assess_lock_{issued.attempt.id}" not in [b.key for b in at.button]
    at.text_input(key="assess_filter_search").input("Acme")
    run_ok(at)
    assert listed_names(at) == []


def test_a_sample_size_beyond_the_tasks_left_is_brought_down(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    created = library(scope, 3)
    at = open_page(db, admin, PAGE)
    at.radio(key="assess_task_mode").set_value("Sample tasks at random")
    run_ok(at)
    at.number_input(key="assess_sample_size").set_value(3)
    run_ok(at)
    for task in created[1:]:
        tasks.soft_delete_task(scope, task.id)
    st.cache_data.clear()  # as a write on the Tasks page does
    run_ok(at)
    assert at.number_input(key="assess_sample_size").value == 1
    fill_candidate(at)
    submit(at)
    [doc] = db[dbmod.ATTEMPTS].find()
    assert doc["task_ids"] == [created[0].id]


def test_a_link_past_its_expiry_is_not_reissued(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    issued = issue(scope, library(scope), "Late Larry")
    past = issued.attempt.created_at - timedelta(days=2)
    db[dbmod.ATTEMPTS].update_one({"_id": issued.attempt.id}, {"$set": {"expires_at": past}})
    at = open_page(db, admin, PAGE)
    assert "link expired 2 days ago" in texts(at)
    keys = [b.key for b in at.button]
    assert f"assess_reissue_{issued.attempt.id}" not in keys and f"assess_lock_{issued.attempt.id}" in keys
