"""hiremate.people against the embedded store: the candidates list shows one
row per person (their newest attempt, with how many they have), counted by
the counters; a newer attempt takes the row over, an erased one gives it
back, and ``rebuild`` sets the flags of a store from before them."""

from __future__ import annotations

from hiremate import attempt_counts, attempts, erasure, people, reports
from hiremate import db as dbmod
from hiremate.models import CandidateInfo
from hiremate.scope import Scope
from tests.support.page_helpers import make_org, seed_completed

EMAIL = "ada@example.com"


def issue(org, email=EMAIL, position="Analyst"):
    if org.db[dbmod.TASKS].count_documents({"organization_id": org.scope.organization_id}) == 0:
        org.db[dbmod.TASKS].insert_many([task.to_doc() for task in org.tasks])
    candidate = CandidateInfo(name="Ada Lovelace", email=email, position=position)
    return attempts.issue_attempt(org.scope, candidate=candidate, sample=1, public_url="http://x").attempt


def admin(org) -> Scope:
    return Scope(org.db, org.scope.organization_id, org.user.id, is_admin=True)


def rows(org, **filters):
    frame, total = reports.candidates_page(org.scope, counts=reports.candidate_counts(org.scope), **filters)
    return frame.to_dict("records"), total


def counters_are_true(org) -> bool:
    organization_id = org.scope.organization_id
    counted = attempt_counts.by_position_status(org.db, organization_id, people=True)
    attempt_counts.recount(org.db, organization_id)
    return attempt_counts.by_position_status(org.db, organization_id, people=True) == counted


def test_one_row_per_person_their_newest_attempt_with_the_count(db):
    org = make_org(db)
    done = seed_completed(org, email=EMAIL)  # completed first
    retake = issue(org)  # then a new link for the same person
    other = issue(org, email="grace@example.com")

    shown, total = rows(org)
    assert total == 2
    by_email = {row["candidate_email"]: row for row in shown}
    assert by_email[EMAIL]["attempt_id"] == str(retake.id) and by_email[EMAIL]["attempts"] == 2
    assert by_email["grace@example.com"]["attempts"] == 1
    assert db[dbmod.ATTEMPTS].find_one({"_id": done.id})["superseded"] is True
    assert db[dbmod.PROFILES].find_one({"attempt_id": done.id})["superseded"] is True  # label filters too
    _, every = reports.candidates_page(org.scope, people=False)
    assert every == 3  # the attempts themselves are all still there
    assert rows(org, thinking_style=db[dbmod.PROFILES].find_one({})["thinking_style"]["primary"])[1] == 0
    assert other.id and counters_are_true(org)


def test_completed_people_come_first_newest_completion_first(db):
    org = make_org(db)
    pending = issue(org, email="pending@example.com")
    first = seed_completed(org, name="First Person")
    second = seed_completed(org, name="Second Person")
    shown, _ = rows(org)
    expected = sorted([first, second], key=lambda a: a.completed_at, reverse=True)
    assert [row["attempt_id"] for row in shown] == [*(str(a.id) for a in expected), str(pending.id)]


def test_an_erased_newest_attempt_gives_the_row_back_to_the_one_before(db):
    org = make_org(db)
    done = seed_completed(org, email=EMAIL)
    retake = issue(org)
    erasure.erase_attempts(admin(org), [retake.id], action=None)  # as the retention purge does
    shown, total = rows(org)
    assert total == 1 and shown[0]["attempt_id"] == str(done.id) and shown[0]["attempts"] == 1
    assert db[dbmod.ATTEMPTS].find_one({"_id": done.id})["superseded"] is False
    assert db[dbmod.PROFILES].find_one({"attempt_id": done.id}).get("superseded") is not True
    assert counters_are_true(org)


def test_rebuild_sets_the_flags_of_attempts_stored_before_them(db):
    org = make_org(db)
    older, newer = issue(org), issue(org)
    db[dbmod.ATTEMPTS].update_many({}, {"$unset": {"superseded": ""}})  # a store from before the flag
    attempt_counts.recount(db, org.scope.organization_id)  # what counters version 3 does once: a flag on each
    assert {doc.get("superseded") for doc in db[dbmod.ATTEMPTS].find()} == {False}
    shown, total = rows(org)
    assert total == len(shown) == 2  # until the rebuild, each attempt is its own person (listed, not only counted)
    assert people.rebuild(db, org.scope.organization_id) == 1
    shown, total = rows(org)
    assert total == 1 and shown[0]["attempt_id"] == str(newer.id)
    assert db[dbmod.ATTEMPTS].find_one({"_id": older.id})["superseded"] is True
    assert db[dbmod.ATTEMPTS].find_one({"_id": newer.id})["superseded"] is False
    assert people.rebuild(db, org.scope.organization_id) == 0 and counters_are_true(org)


def test_another_organisations_attempts_of_the_same_email_are_another_person(db):
    acme, globex = make_org(db), make_org(db, "Globex")
    mine, theirs = issue(acme), issue(globex)
    assert rows(acme)[0][0]["attempt_id"] == str(mine.id) and rows(acme)[0][0]["attempts"] == 1
    assert rows(globex)[0][0]["attempt_id"] == str(theirs.id)
    assert (
        "superseded" not in db[dbmod.ATTEMPTS].find_one({"_id": mine.id})
        or not db[dbmod.ATTEMPTS].find_one({"_id": mine.id})["superseded"]
    )
