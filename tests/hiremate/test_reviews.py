"""hiremate.reviews against the embedded store: a named recruiter reviews a
completed profile and records a decision beside it, never changing it; every
action is audited; another organisation sees and writes nothing."""

from __future__ import annotations

import pytest

from hiremate import auth, reviews
from hiremate import db as dbmod
from hiremate.errors import Refusal, ReviewError
from hiremate.models import AttemptStatus
from hiremate.reviews import Decision, ReviewState
from hiremate.scope import VIA_CLI, Scope
from tests.support.page_helpers import make_org, seed_completed, seed_session

AGREE_ALL = {name: ("agree", "") for name in reviews.DIMENSIONS}


def audit_actions(db, action):
    return list(db[dbmod.AUDIT_LOG].find({"action": action}).sort("_id", 1))


def test_a_review_is_recorded_beside_the_profile_with_who_and_when_and_audited(db):
    org = make_org(db)
    attempt = seed_completed(org)
    before = db[dbmod.PROFILES].find_one({"attempt_id": attempt.id})
    verdicts = {**AGREE_ALL, "risk_orientation": ("disagree", "Chose the safe option only under time pressure")}

    stored = reviews.record_review(org.scope, attempt.id, verdicts, notes="  Ask about task 2  ")

    assert stored.attempt_id == attempt.id and stored.organization_id == org.scope.organization_id
    review = stored.review_by(org.user.id)
    assert review.reviewer_name == org.user.full_name and review.notes == "Ask about task 2"
    assert review.dimensions["risk_orientation"].verdict == "disagree"
    assert review.disagreements == ["risk_orientation"]
    assert stored.completed_at == before["completed_at"] and stored.decision is None
    assert db[dbmod.PROFILES].find_one({"attempt_id": attempt.id}) == before  # the profile is untouched
    [entry] = audit_actions(db, "profile.reviewed")
    assert entry["actor_id"] == org.user.id and entry["target_id"] == str(attempt.id)
    assert entry["details"]["disagreed"] == ["risk_orientation"] and len(entry["details"]["agreed"]) == 3
    assert "Chose the safe" not in str(entry)  # typed text stays in the review, not the log


def test_disagreeing_needs_a_reason_and_every_dimension_a_verdict(db):
    org = make_org(db)
    attempt = seed_completed(org)
    with pytest.raises(ReviewError, match="Thinking style: give a reason to disagree"):
        reviews.record_review(org.scope, attempt.id, {**AGREE_ALL, "thinking_style": ("disagree", "   ")})
    with pytest.raises(ReviewError, match="Communication style: agree or disagree"):
        reviews.record_review(org.scope, attempt.id, {k: v for k, v in AGREE_ALL.items() if k != "communication_style"})
    with pytest.raises(ReviewError, match="not a dimension"):
        reviews.record_review(org.scope, attempt.id, {**AGREE_ALL, "charisma": ("agree", "")})
    assert reviews.get_review(org.scope, attempt.id) is None
    assert audit_actions(db, "profile.reviewed") == []


def test_several_reviewers_each_keep_their_latest_review_and_the_history_keeps_all(db):
    org = make_org(db)
    attempt = seed_completed(org)
    colleague = auth.create_user(
        db,
        email="sam@acme.test",
        full_name="Sam Second",
        password="correct-horse-7",
        organization_id=org.scope.organization_id,
    )
    other_scope = auth.scope_for(db, colleague)

    reviews.record_review(org.scope, attempt.id, AGREE_ALL, notes="first")
    reviews.record_review(other_scope, attempt.id, AGREE_ALL, notes="sam's")
    stored = reviews.record_review(org.scope, attempt.id, AGREE_ALL, notes="second")

    assert {r.reviewer_name: r.notes for r in stored.latest_reviews()} == {
        org.user.full_name: "second",
        "Sam Second": "sam's",
    }
    assert [r.notes for r in stored.latest_reviews()] == ["second", "sam's"]  # newest first
    assert [r.notes for r in stored.history] == ["first", "sam's", "second"]
    assert len(audit_actions(db, "profile.reviewed")) == 3


def test_a_decision_needs_a_reason_and_the_deciders_own_review(db):
    org = make_org(db)
    attempt = seed_completed(org)
    with pytest.raises(ReviewError, match="mark the profile reviewed"):
        reviews.record_decision(org.scope, attempt.id, "advance", "Strong reasoning", seen_at=None)
    reviews.record_review(org.scope, attempt.id, AGREE_ALL)
    with pytest.raises(ReviewError, match="give a reason"):
        reviews.record_decision(org.scope, attempt.id, "advance", "  ", seen_at=None)
    with pytest.raises(ReviewError, match="choose a decision"):
        reviews.record_decision(org.scope, attempt.id, "maybe", "Because", seen_at=None)

    first = reviews.record_decision(org.scope, attempt.id, Decision.HOLD, "Wait for the second round", seen_at=None)
    assert first.decision.value == Decision.HOLD and first.decision.decided_by_name == org.user.full_name
    second = reviews.record_decision(
        org.scope, attempt.id, "advance", "Second round went well", seen_at=first.decision.decided_at
    )
    assert second.decision.value == Decision.ADVANCE
    assert [d.value for d in second.decisions] == [Decision.HOLD, Decision.ADVANCE]
    entries = audit_actions(db, "profile.decision_recorded")
    assert [(e["details"]["decision"], e["details"]["previous"]) for e in entries] == [
        ("hold", None),
        ("advance", "hold"),
    ]


def test_a_decision_recorded_meanwhile_is_not_silently_overwritten(db):
    org = make_org(db)
    attempt = seed_completed(org)
    reviews.record_review(org.scope, attempt.id, AGREE_ALL)
    reviews.record_decision(org.scope, attempt.id, "reject", "Not the role", seen_at=None)
    with pytest.raises(ReviewError, match="another decision was recorded meanwhile"):
        reviews.record_decision(org.scope, attempt.id, "advance", "Looks good", seen_at=None)
    assert reviews.get_review(org.scope, attempt.id).decision.value == Decision.REJECT


@pytest.mark.parametrize("status", [AttemptStatus.IN_PROGRESS, AttemptStatus.LOCKED])
def test_attempts_not_completed_are_refused_with_a_clear_message(db, status):
    org = make_org(db)
    attempt, _ = seed_session(org, status=status)
    with pytest.raises(ReviewError, match="only completed assessments can be reviewed"):
        reviews.record_review(org.scope, attempt.id, AGREE_ALL)


def test_a_completed_attempt_without_a_profile_is_refused(db):
    org = make_org(db)
    attempt = seed_completed(org)
    db[dbmod.PROFILES].delete_one({"attempt_id": attempt.id})
    with pytest.raises(ReviewError, match="no computed profile yet"):
        reviews.record_review(org.scope, attempt.id, AGREE_ALL)


def test_another_organisation_can_neither_see_nor_write_a_review(db):
    org, other = make_org(db, "Acme"), make_org(db, "Globex")
    attempt = seed_completed(org)
    reviews.record_review(org.scope, attempt.id, AGREE_ALL)
    reviews.record_decision(org.scope, attempt.id, "advance", "Good", seen_at=None)

    assert reviews.get_review(other.scope, attempt.id) is None
    assert reviews.summaries(other.scope, [attempt.id]) == {}
    assert reviews.reviewed_ids(other.scope) == {}
    with pytest.raises(ReviewError, match="no assessment"):
        reviews.record_review(other.scope, attempt.id, AGREE_ALL)
    with pytest.raises(ReviewError):
        reviews.record_decision(other.scope, attempt.id, "reject", "Mine now", seen_at=None)
    assert reviews.get_review(org.scope, attempt.id).decision.value == Decision.ADVANCE
    assert issubclass(ReviewError, Refusal)


def test_summaries_reviewed_ids_and_the_awaiting_list(db):
    org = make_org(db)
    seeded = [seed_completed(org, name) for name in ("Ann One", "Bob Two", "Cy Three")]
    seed_session(org, status=AttemptStatus.LOCKED)  # not completed: never awaiting review
    completed = {doc["attempt_id"]: doc["completed_at"] for doc in db[dbmod.PROFILES].find()}
    newest, middle, oldest = sorted(seeded, key=lambda attempt: completed[attempt.id], reverse=True)
    reviews.record_review(org.scope, middle.id, AGREE_ALL)
    reviews.record_decision(org.scope, middle.id, "reject", "No", seen_at=None)

    items, more = reviews.awaiting_review(org.scope, limit=10)
    assert [item.attempt_id for item in items] == [newest.id, oldest.id] and not more
    assert items[0].candidate_name == newest.candidate_info.name
    items, more = reviews.awaiting_review(org.scope, limit=1)
    assert [item.attempt_id for item in items] == [newest.id] and more

    summary = reviews.summaries(org.scope, [oldest.id, middle.id])
    assert list(summary) == [middle.id]
    assert summary[middle.id].state == ReviewState.REVIEWED and summary[middle.id].decision == Decision.REJECT
    assert summary[middle.id].decided_by == org.user.full_name and summary[middle.id].decided_at is not None
    assert reviews.reviewed_ids(org.scope) == {middle.id: Decision.REJECT}


def test_a_review_without_a_named_recruiter_is_refused(db):
    org = make_org(db)
    attempt = seed_completed(org)
    nobody = Scope(db, org.scope.organization_id, via=VIA_CLI)
    with pytest.raises(ReviewError, match="named recruiter"):
        reviews.record_review(nobody, attempt.id, AGREE_ALL)
