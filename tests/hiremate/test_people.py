"""hiremate.people against the embedded store: the candidates list shows one
row per person (their newest attempt, with how many they have), counted by
the counters; a newer attempt takes the row over, an erased one gives it
back, and ``rebuild`` sets the flags of a store from before them."""

from __future__ import annotations

from hiremate import attempt_counts, attempts, erasure, people, profiles, reports
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


def test_a_recompute_keeps_a_superseded_profile_out_of_the_label_filtered_list(db):
    """The profile document repeats its attempt's flag through a recompute,
    which replaces the whole document (it used to drop the flag, so the
    superseded attempt came back as a person under a label filter)."""
    org = make_org(db)
    done = seed_completed(org, email=EMAIL)
    issue(org)  # a newer attempt of the same person supersedes the completed one
    label = db[dbmod.PROFILES].find_one({"attempt_id": done.id})["thinking_style"]["primary"]
    assert rows(org, thinking_style=label)[1] == 0

    profiles.recompute(org.scope, done.id)  # as the profile page's "recompute" does
    assert db[dbmod.PROFILES].find_one({"attempt_id": done.id})["superseded"] is True
    assert rows(org, thinking_style=label)[1] == 0
    assert rows(org, thinking_style=label, people=False)[1] == 1  # the attempt's profile is still there

    profiles.recompute_all(db)  # python -m hiremate recompute --all
    assert db[dbmod.PROFILES].find_one({"attempt_id": done.id})["superseded"] is True
    assert rows(org, thinking_style=label)[1] == 0


def test_every_stored_profile_carries_its_attempts_flag(db):
    org = make_org(db)
    alone = seed_completed(org)  # the simulator's seeding path
    first, second = sorted(
        (seed_completed(org, email=EMAIL), seed_completed(org, email=EMAIL)), key=lambda a: (a.created_at, a.id)
    )
    flags = {doc["attempt_id"]: doc.get("superseded") for doc in db[dbmod.PROFILES].find()}
    assert flags == {alone.id: False, first.id: True, second.id: False}


def test_profiles_stored_without_the_flag_get_their_attempts_where_indexes_are_ensured(db):
    """A store from before every profile carried the flag (simulated or
    recomputed profiles had none): ``ensure_indexes`` (every process's start)
    gives each its attempt's, so the label filter, an equality on
    ``superseded: false``, still lists every person and no superseded attempt."""
    org = make_org(db)
    older, newer = sorted(
        (seed_completed(org, email=EMAIL), seed_completed(org, email=EMAIL)), key=lambda a: (a.created_at, a.id)
    )  # the simulator draws when each was issued
    grace = seed_completed(org, email="grace@example.com")
    assert counters_are_true(org)  # counted (a first count of an organisation fills the flags in too)
    db[dbmod.PROFILES].update_many({}, {"$unset": {"superseded": ""}})
    label = db[dbmod.PROFILES].find_one({"attempt_id": newer.id})["thinking_style"]["primary"]
    assert rows(org, thinking_style=label)[1] == 0  # an equality: profiles without the flag are not found

    dbmod.ensure_indexes(db)
    flags = {doc["attempt_id"]: doc["superseded"] for doc in db[dbmod.PROFILES].find()}
    assert flags == {older.id: True, newer.id: False, grace.id: False}
    shown, _ = rows(org, thinking_style=label)
    assert str(newer.id) in {row["attempt_id"] for row in shown}
    assert str(older.id) not in {row["attempt_id"] for row in shown}

    dbmod.ensure_indexes(db)  # once done, nothing to fill in
    assert dbmod.backfill_profile_superseded(db) == 0


def test_recount_repairs_a_profile_whose_flag_disagrees_with_its_attempt(db):
    org = make_org(db)
    older, _ = sorted(
        (seed_completed(org, email=EMAIL), seed_completed(org, email=EMAIL)), key=lambda a: (a.created_at, a.id)
    )
    db[dbmod.PROFILES].update_one({"attempt_id": older.id}, {"$set": {"superseded": False}})  # as a recompute left it
    assert people.rebuild(db, org.scope.organization_id) == 0  # the attempts were right
    assert db[dbmod.PROFILES].find_one({"attempt_id": older.id})["superseded"] is True
