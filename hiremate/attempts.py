"""Assessment links and the attempt life cycle (docs/protocol.md's table).

Recruiter-side functions take a ``Scope`` and are audited; candidate-side
ones take the database and are called by the ingest server. Every status
change is a compare-and-set on the fields it depends on, so two processes
racing on one attempt can never both win. Only hashes of the link token and
of the candidate's session key are stored.

Every status change happens here, and each one, once its compare-and-set
won, updates the organisation's counters (``hiremate.attempt_counts``) with
the document before and after it: the pages count attempts from those.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import PyMongoError

from hiremate import attempt_counts, emails, paging, people
from hiremate import db as dbmod
from hiremate.errors import AttemptClosed, AttemptError, AttemptNotFound, ConsentRequired, TokenAlreadyUsed
from hiremate.ids import as_object_id
from hiremate.models import (
    AccommodationRequest,
    Accommodations,
    AttemptStatus,
    CandidateInfo,
    Consent,
    Task,
    TaskAttempt,
)
from hiremate.organizations import notice_for
from hiremate.scope import Scope, audit
from hiremate.settings import get_settings
from hiremate.timeutil import to_ms, utcnow

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 500
ISSUE_BATCH = 500  # attempts written with one insert_many (issue_many)
REPLACED_LINKS_KEPT = 20  # old links of one attempt that still say "replaced" rather than "not valid"
_OPEN = [AttemptStatus.PENDING.value, AttemptStatus.IN_PROGRESS.value]
ACCOMMODATION_OPEN = dbmod.ACCOMMODATION_OPEN  # the flag beside accommodation_request (TaskAttempt)


@dataclass(frozen=True)
class IssuedAttempt:
    attempt: TaskAttempt
    token: str  # shown once: only its hash is stored
    link: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


# ---------------------------------------------------------------- recruiter side


@dataclass(frozen=True)
class TaskSource:
    """Where new attempts' tasks come from: ``fixed`` tasks in that order for
    every attempt, or ``size`` of ``pool`` drawn at random for each attempt.
    ``kit_id``: the assessment kit it was made from (hiremate.kits), recorded
    on the attempts. Made by ``choose_tasks`` or ``hiremate.kits.task_source``."""

    fixed: tuple[Task, ...] | None = None
    pool: tuple[Task, ...] = ()
    size: int = 0
    kit_id: ObjectId | None = None

    def draw(self, rng: random.Random) -> list[Task]:
        return list(self.fixed) if self.fixed is not None else rng.sample(self.pool, self.size)


@dataclass(frozen=True)
class NewAttempt:
    """One candidate to issue an attempt to (``issue_many``)."""

    candidate: CandidateInfo
    accommodations: Accommodations | None = None


def choose_tasks(
    scope: Scope,
    *,
    task_ids: Sequence[ObjectId | str] | None = None,
    sample: int | None = None,
    category: str | Sequence[str] | None = None,
    difficulty: str | Sequence[str] | None = None,
) -> TaskSource:
    """The given active tasks of the organisation, in that order, or a pool
    of its active tasks (optionally of some categories or difficulties) to
    draw ``sample`` from; AttemptError says what is wrong."""
    if (task_ids is None) == (sample is None):
        raise AttemptError("choose the tasks either by id or by sample size, not both or neither")
    if task_ids is not None:
        return TaskSource(fixed=tuple(_tasks_by_id(scope, list(task_ids))))
    return TaskSource(pool=tuple(_sample_pool(scope, sample, _values(category), _values(difficulty))), size=sample)


def issue_attempt(
    scope: Scope,
    *,
    candidate: CandidateInfo,
    task_ids: list[ObjectId] | None = None,
    sample: int | None = None,
    category: str | None = None,
    difficulty: str | None = None,
    source: TaskSource | None = None,
    expires_days: int | None = None,
    public_url: str | None = None,
    rng: random.Random | None = None,
    accommodations: Accommodations | None = None,
) -> IssuedAttempt:
    """Create a pending attempt for ``candidate`` and its one-time link.

    Tasks are the given active tasks of the organisation, in that order, or
    ``sample`` of them drawn at random (optionally of one category or
    difficulty), or what ``source`` (a kit's, say) gives. They are copied
    into the attempt, so later edits of a task never change what this
    candidate sees.
    """
    if source is None:
        source = choose_tasks(scope, task_ids=task_ids, sample=sample, category=category, difficulty=difficulty)
    elif task_ids is not None or sample is not None:
        raise AttemptError("choose the tasks either by id, by sample size or by kit, not several")
    [issued] = issue_many(
        scope,
        [NewAttempt(candidate, accommodations)],
        source=source,
        expires_days=expires_days,
        public_url=public_url,
        rng=rng,
    )
    return issued


def issue_many(
    scope: Scope,
    candidates: Sequence[NewAttempt],
    *,
    source: TaskSource,
    expires_days: int | None = None,
    public_url: str | None = None,
    rng: random.Random | None = None,
) -> list[IssuedAttempt]:
    """Pending attempts and one-time links for many candidates at once, in
    their order: one ``insert_many``, one counter update, the people settled
    (``hiremate.people``: each one's newest attempt stands for them) and one
    append of audit entries (one ``attempt.issued`` per attempt) per batch of
    ``ISSUE_BATCH``. A store error stops at that batch; the batches before
    it are issued, counted and audited."""
    days = _expiry_days(expires_days)
    rng = rng or random.Random()
    now = utcnow()
    issued: list[IssuedAttempt] = []
    for first in range(0, len(candidates), ISSUE_BATCH):
        batch = [
            _new_attempt(scope, new, source.draw(rng), now, days, source.kit_id)
            for new in candidates[first : first + ISSUE_BATCH]
        ]
        docs = [attempt.to_doc() for attempt, _ in batch]
        ids = scope.collection(dbmod.ATTEMPTS).insert_many(docs).inserted_ids
        for (attempt, token), doc, oid in zip(batch, docs, ids, strict=True):
            attempt.id = doc["_id"] = oid
            issued.append(IssuedAttempt(attempt, token, _link(token, public_url)))
        _count_new(scope.db, docs)
        # These people's newest attempt now stands for them in the lists (hiremate.people).
        people.settle(scope.db, scope.organization_id, [attempt.candidate_info.email for attempt, _ in batch])
        scope.audit_each(
            "attempt.issued",
            "attempt",
            [(attempt.id, _issued_details(attempt)) for attempt, _ in batch],
        )
    return issued


def open_attempt_emails(scope: Scope, candidate_emails: Iterable[str]) -> set[str]:
    """Which of these (stored-form) emails already have a pending or running
    attempt in the organisation."""
    wanted = sorted({emails.normalise(e) for e in candidate_emails if e})
    found: set[str] = set()
    for first in range(0, len(wanted), ISSUE_BATCH):
        query = {"candidate_info.email": {"$in": wanted[first : first + ISSUE_BATCH]}, "status": {"$in": _OPEN}}
        found |= {
            doc["candidate_info"]["email"]
            for doc in scope.collection(dbmod.ATTEMPTS).find(scope.where(query), {"candidate_info.email": 1})
        }
    return found


def reissue_link(scope: Scope, attempt_id: ObjectId | str, *, public_url: str | None = None) -> IssuedAttempt:
    """Replace the link's token; the old link stops working at once.

    For an attempt in progress (a candidate who changed device) the new link
    may ``start`` once more and continues where the attempt was.
    """
    current = _require(scope, attempt_id)
    token = new_secret()
    doc = dbmod.find_one_and_update(
        scope.collection(dbmod.ATTEMPTS),
        scope.where({"_id": current.id, "token_hash": current.token_hash, "status": {"$in": _OPEN}}),
        {
            "$set": {"token_hash": hash_secret(token), "token_used": False, "updated_at": utcnow()},
            "$push": {"replaced_token_hashes": {"$each": [current.token_hash], "$slice": -REPLACED_LINKS_KEPT}},
        },
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        _raise_lost_race(scope, current.id, "re-issue the link of")
    # No counter changes: the compare-and-set keeps the status (open) as it was.
    scope.audit("attempt.link_reissued", "attempt", current.id, status=doc["status"])
    return IssuedAttempt(TaskAttempt.from_doc(doc), token, _link(token, public_url))


def may_see_accommodations(scope: Scope, attempt: TaskAttempt) -> bool:
    """Accommodations are confidential (ADA): admins and the recruiter who issued the attempt only."""
    return scope.is_admin or (scope.user_id is not None and attempt.created_by == scope.user_id)


def set_accommodations(scope: Scope, attempt_id: ObjectId | str, accommodations: Accommodations | None) -> TaskAttempt:
    """Grant (or clear, with None) an attempt's accommodations while it is still pending.

    Answers the candidate's request, if any. Audited without the details.
    """
    current = _require(scope, attempt_id)
    if not may_see_accommodations(scope, current):
        raise AttemptError("only an admin or the recruiter who issued this assessment can set its accommodations")
    now = utcnow()
    value = None if accommodations is None or accommodations.is_empty else accommodations.model_dump()
    changes: dict[str, Any] = {"accommodations": value, "updated_at": now}
    if current.accommodation_request is not None and current.accommodation_request.answered_at is None:
        changes["accommodation_request.answered_at"] = now
        changes[ACCOMMODATION_OPEN] = False
    doc = dbmod.find_one_and_update(
        scope.collection(dbmod.ATTEMPTS),
        scope.where({"_id": current.id, "status": AttemptStatus.PENDING.value}),
        {"$set": changes},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        latest = _require(scope, current.id)
        raise AttemptClosed(
            f"accommodations can be set only before the candidate starts; this assessment is {latest.status}"
        )
    scope.audit("attempt.accommodations_set", "attempt", current.id, granted=value is not None)
    return TaskAttempt.from_doc(doc)


def answer_accommodation_request(scope: Scope, attempt_id: ObjectId | str) -> TaskAttempt:
    """Mark the candidate's request as answered (for example, an alternative was arranged outside HireMate)."""
    current = _require(scope, attempt_id)
    if not may_see_accommodations(scope, current):
        raise AttemptError("only an admin or the recruiter who issued this assessment can answer its request")
    if current.accommodation_request is None:
        raise AttemptError("this candidate has not asked for an accommodation")
    now = utcnow()
    doc = dbmod.find_one_and_update(
        scope.collection(dbmod.ATTEMPTS),
        scope.where(
            {"_id": current.id, "accommodation_request.requested_at": current.accommodation_request.requested_at}
        ),
        {"$set": {"accommodation_request.answered_at": now, ACCOMMODATION_OPEN: False, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise AttemptError("the candidate sent a new request meanwhile; reload and look at it")
    scope.audit("attempt.accommodation_answered", "attempt", current.id)
    return TaskAttempt.from_doc(doc)


@dataclass(frozen=True)
class OpenRequest:
    """An unanswered accommodation request, as the dashboard lists it (no details: those are confidential)."""

    attempt_id: ObjectId
    candidate_name: str
    position: str
    requested_at: datetime


def open_accommodation_requests(scope: Scope, *, limit: int = 50) -> list[OpenRequest]:
    """Unanswered requests of the organisation's open attempts, oldest first.

    One indexed equality per open status on ``accommodation_open`` (the index
    ``dbmod.ACCOMMODATION_OPEN_INDEX`` names every field asked), merged: the
    store reads only the open requests, not every attempt of the organisation."""
    docs = [
        doc
        for status in _OPEN
        for doc in scope.collection(dbmod.ATTEMPTS)
        .find(
            scope.where({ACCOMMODATION_OPEN: True, "status": status}),
            {"candidate_info": 1, "accommodation_request": 1},
        )
        .sort([("accommodation_request.requested_at", ASCENDING), ("_id", ASCENDING)])
        .limit(limit)
    ]
    docs.sort(key=lambda doc: (doc["accommodation_request"]["requested_at"], doc["_id"]))
    return [
        OpenRequest(
            attempt_id=doc["_id"],
            candidate_name=doc["candidate_info"]["name"],
            position=doc["candidate_info"].get("position", ""),
            requested_at=doc["accommodation_request"]["requested_at"],
        )
        for doc in docs[:limit]
    ]


def lock_attempt(scope: Scope, attempt_id: ObjectId | str, reason: str) -> TaskAttempt:
    """A recruiter ends a pending or running attempt for good."""
    reason = (reason or "").strip()
    if not reason:
        raise AttemptError("give a reason for locking the attempt")
    current = _require(scope, attempt_id)
    now = utcnow()
    changes = {"status": AttemptStatus.LOCKED.value, "locked_at": now, "locked_reason": reason, "updated_at": now}
    # The document before the change, so the audit names the status really left.
    before = dbmod.find_one_and_update(
        scope.collection(dbmod.ATTEMPTS),
        scope.where({"_id": current.id, "status": {"$in": _OPEN}}),
        {"$set": changes},
        return_document=ReturnDocument.BEFORE,
    )
    if before is None:
        _raise_lost_race(scope, current.id, "lock")
    attempt_counts.record_transition(scope.db, before, {**before, **changes})
    # The reason is free text: it stays on the attempt (``locked_reason``), not in the log.
    scope.audit("attempt.locked", "attempt", current.id, previous_status=before["status"])
    return TaskAttempt.from_doc({**before, **changes})


def get_attempt(scope: Scope, attempt_id: ObjectId | str) -> TaskAttempt | None:
    oid = as_object_id(attempt_id)
    if oid is None:
        return None
    doc = scope.collection(dbmod.ATTEMPTS).find_one(scope.where({"_id": oid}))
    return TaskAttempt.from_doc(doc) if doc else None


def list_attempts(
    scope: Scope, *, status: str | None = None, search: str | None = None, skip: int = 0, limit: int = 25
) -> list[TaskAttempt]:
    """The organisation's attempts, newest first; ``search`` matches name, email or position."""
    cursor = (
        scope.collection(dbmod.ATTEMPTS)
        .find(_list_filter(scope, status, search))
        .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        .skip(max(skip, 0))
        .limit(min(max(limit, 1), MAX_PAGE_SIZE))
    )
    return [TaskAttempt.from_doc(doc) for doc in cursor]


def page_attempts(
    scope: Scope,
    *,
    status: str | None = None,
    position: str | None = None,
    email: str | None = None,
    after: paging.Key | None = None,
    limit: int = 25,
) -> tuple[list[TaskAttempt], paging.Key | None]:
    """One page of the organisation's attempts, newest issued first, after
    the key ``after`` (``hiremate.paging``), and the key of the next page
    (None at the end). Filters are exact: a status, a position, an email."""
    query: dict[str, Any] = {}
    if status:
        query["status"] = str(status)
    if position is not None:
        query["candidate_info.position"] = position
    if email:
        query["candidate_info.email"] = emails.normalise(email)
    docs, next_key = paging.newest_after(
        scope.collection(dbmod.ATTEMPTS),
        scope.where(query),
        "created_at",
        after=after,
        limit=min(max(limit, 1), MAX_PAGE_SIZE),
    )
    return [TaskAttempt.from_doc(doc) for doc in docs], next_key


def count_attempts(scope: Scope, status: str | None = None, search: str | None = None) -> int:
    return scope.collection(dbmod.ATTEMPTS).count_documents(_list_filter(scope, status, search))


def expire_due(db: Database, *, now: datetime | None = None) -> list[TaskAttempt]:
    """Move every open attempt past its expiry to ``expired``; returns those it moved.

    The caller computes partial profiles for the ones that had started.
    """
    now = _now(now)
    due = (
        db[dbmod.ATTEMPTS]
        .find({"status": {"$in": _OPEN}, "expires_at": {"$lt": now}}, {"_id": 1})
        .sort([("expires_at", ASCENDING), ("_id", ASCENDING)])
    )
    expired = (_expire(db, doc["_id"], now) for doc in due)
    return [attempt for attempt in expired if attempt is not None]


# ---------------------------------------------------------------- candidate side


def find_by_token(db: Database, token: str, *, now: datetime | None = None) -> TaskAttempt | None:
    """The attempt of a link token (None when unknown or re-issued), expired on access when due."""
    if not isinstance(token, str) or not token:
        return None
    doc = db[dbmod.ATTEMPTS].find_one({"token_hash": hash_secret(token)})
    if doc is None:
        return None
    attempt = TaskAttempt.from_doc(doc)
    now = _now(now)
    if attempt.status in _OPEN and attempt.expires_at < now:
        # Whoever wins the race, the attempt is expired now; read what it became.
        _expire(db, attempt.id, now)
        return read_attempt(db, attempt.id)
    return attempt


def start(
    db: Database, attempt: TaskAttempt, notice_version: Any, *, now: datetime | None = None
) -> tuple[TaskAttempt, str]:
    """Consume the link's token: the attempt is (or stays) in progress with a fresh session key.

    ``notice_version`` is the version of the notice the candidate
    acknowledged; anything but the organisation's current one raises
    ConsentRequired and changes nothing. The consent is stored on the
    attempt. A first start moves ``expires_at`` on by the grace period, so an
    attempt started in time may be finished (the link's expiry is kept in
    ``start_by``). Of several clients starting with the same token, exactly
    one wins; the others get TokenAlreadyUsed. Returns the attempt and the
    plain session key.
    """
    now = _now(now)
    current = notice_for(db, attempt.organization_id).version
    if notice_version != current:
        raise ConsentRequired(
            "acknowledge the notice shown on the welcome screen before starting", notice_version=current
        )
    session_key = new_secret()
    query: dict[str, Any] = {
        "_id": attempt.id,
        "token_hash": attempt.token_hash,
        "token_used": False,
        "status": {"$in": _OPEN},
        "expires_at": {"$gte": now},
    }
    changes: dict[str, Any] = {
        "token_used": True,
        "status": AttemptStatus.IN_PROGRESS.value,
        "session_key_hash": hash_secret(session_key),
        "updated_at": now,
        "consent": Consent(notice_version=current, at=now).model_dump(),
        "disconnected_at": None,
    }
    if attempt.started_at is None:
        # A first start: the CAS also checks nobody set started_at (or moved
        # the expiry) meanwhile.
        query["started_at"] = None
        query["expires_at"] = {"$gte": now, "$lte": attempt.expires_at}
        changes["started_at"] = now
        changes["start_by"] = attempt.expires_at
        changes["expires_at"] = attempt.expires_at + timedelta(hours=get_settings().in_progress_grace_hours)
    # The document before the change, so the counters know the status it left.
    before = dbmod.find_one_and_update(
        db[dbmod.ATTEMPTS],
        query,
        {"$set": changes, "$inc": {"session_epoch": 1}},
        return_document=ReturnDocument.BEFORE,
    )
    if before is None:
        _raise_candidate_refusal(db, attempt.id, attempt.token_hash, now)
    after = {**before, **changes, "session_epoch": int(before.get("session_epoch", 0)) + 1}
    attempt_counts.record_transition(db, before, after)
    return TaskAttempt.from_doc(after), session_key


def find_replaced(db: Database, token: str) -> TaskAttempt | None:
    """The attempt whose re-issue replaced this link, if any (the link itself no longer works)."""
    if not isinstance(token, str) or not token:
        return None
    doc = db[dbmod.ATTEMPTS].find_one({"replaced_token_hashes": hash_secret(token)})
    return TaskAttempt.from_doc(doc) if doc else None


def request_accommodation(
    db: Database, attempt: TaskAttempt, *, needs: list[str], note: str, now: datetime | None = None
) -> TaskAttempt:
    """The candidate asks for an accommodation or an alternative, from the welcome, without starting.

    The request replaces an earlier unanswered one; the link stays valid.
    Audited without its content (accommodations are confidential).
    """
    now = _now(now)
    request = AccommodationRequest(needs=needs, note=note.strip(), requested_at=now)
    if not request.needs and not request.note:
        raise AttemptError("choose what you need or describe it")
    doc = dbmod.find_one_and_update(
        db[dbmod.ATTEMPTS],
        {"_id": attempt.id, "token_hash": attempt.token_hash, "status": {"$in": _OPEN}, "expires_at": {"$gte": now}},
        {"$set": {"accommodation_request": request.model_dump(), ACCOMMODATION_OPEN: True, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        _raise_candidate_refusal(db, attempt.id, attempt.token_hash, now)
    audit(
        db,
        "attempt.accommodation_requested",
        organization_id=attempt.organization_id,
        target_type="attempt",
        target_id=attempt.id,
    )
    return TaskAttempt.from_doc(doc)


def resume(db: Database, attempt_id: ObjectId | str, session_key: str, *, now: datetime | None = None) -> TaskAttempt:
    """Reconnect with the session key that ``start`` handed out; takes the attempt over."""
    oid, now = as_object_id(attempt_id), _now(now)
    if oid is None or not isinstance(session_key, str) or not session_key:
        raise TokenAlreadyUsed("this session key is not valid for the attempt")
    doc = dbmod.find_one_and_update(
        db[dbmod.ATTEMPTS],
        {
            "_id": oid,
            "status": AttemptStatus.IN_PROGRESS.value,
            "session_key_hash": hash_secret(session_key),
            "expires_at": {"$gte": now},
        },
        {"$inc": {"session_epoch": 1}, "$set": {"updated_at": now, "disconnected_at": None}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        _raise_candidate_refusal(db, oid, None, now)
    return TaskAttempt.from_doc(doc)


def mark_disconnected(db: Database, attempt_id: ObjectId, epoch: int, *, now: datetime | None = None) -> bool:
    """The candidate socket holding ``epoch`` closed (the page was closed or
    lost its connection): the live view says "Disconnected", not "Away". A
    newer socket (a later epoch) or the end of the attempt leaves it alone;
    the next start or resume clears it. True when it was marked."""
    result = db[dbmod.ATTEMPTS].update_one(
        {"_id": attempt_id, "session_epoch": epoch, "status": AttemptStatus.IN_PROGRESS.value},
        {"$set": {"disconnected_at": _now(now)}},
    )
    return result.modified_count == 1


def current_epoch(db: Database, attempt_id: ObjectId | str) -> int | None:
    """The attempt's session epoch: a connection holding an older one was taken over."""
    doc = db[dbmod.ATTEMPTS].find_one({"_id": as_object_id(attempt_id)}, {"session_epoch": 1})
    return None if doc is None else int(doc.get("session_epoch", 0))


def read_attempt(db: Database, attempt_id: ObjectId | str) -> TaskAttempt | None:
    """The attempt as stored now, unscoped (the ingest server's read); None when unknown."""
    doc = db[dbmod.ATTEMPTS].find_one({"_id": as_object_id(attempt_id)})
    return TaskAttempt.from_doc(doc) if doc else None


def live_fields(db: Database, attempt_id: ObjectId | str) -> dict[str, Any] | None:
    """What a live view follows of an attempt, as stored: organisation, status,
    task position and task ids, completion time. None when unknown."""
    return db[dbmod.ATTEMPTS].find_one(
        {"_id": as_object_id(attempt_id)},
        {"organization_id": 1, "status": 1, "current_task_index": 1, "completed_at": 1, "task_ids": 1},
    )


def issued_tasks(db: Database, attempt: TaskAttempt) -> list[Task]:
    """The attempt's tasks as issued: its snapshots, or today's tasks for an
    attempt issued before snapshots were kept (the ones still stored, in order)."""
    if attempt.task_snapshots:
        return list(attempt.task_snapshots)
    docs = {doc["_id"]: doc for doc in db[dbmod.TASKS].find({"_id": {"$in": attempt.task_ids}})}
    return [Task.from_doc(docs[task_id]) for task_id in attempt.task_ids if task_id in docs]


def ended_without_metrics(
    db: Database, *, updated_from: datetime, updated_to: datetime, limit: int = 100
) -> list[ObjectId]:
    """Attempts that ended after starting (completed, or expired/locked once
    started), last updated in ``[updated_from, updated_to]``, with no metrics
    stored: the ones whose profile a crash lost. Oldest id first."""
    query = {
        "$or": [
            {"status": AttemptStatus.COMPLETED.value},
            {"status": {"$in": [AttemptStatus.EXPIRED.value, AttemptStatus.LOCKED.value]}, "started_at": {"$ne": None}},
        ],
        "updated_at": {"$gte": updated_from, "$lte": updated_to},
    }
    ids = [doc["_id"] for doc in db[dbmod.ATTEMPTS].find(query, {"_id": 1}).sort("_id", 1).limit(limit)]
    if not ids:
        return []
    have = {doc["attempt_id"] for doc in db[dbmod.METRICS].find({"attempt_id": {"$in": ids}}, {"attempt_id": 1})}
    return [attempt_id for attempt_id in ids if attempt_id not in have]


def set_current_task_index(db: Database, attempt_id: ObjectId | str, index: int) -> bool:
    """Advance the cached task index; it never moves back. True when it moved."""
    result = db[dbmod.ATTEMPTS].update_one(
        {"_id": as_object_id(attempt_id), "current_task_index": {"$lt": index}},
        {"$set": {"current_task_index": index, "updated_at": utcnow()}},
    )
    return result.modified_count == 1


def complete(db: Database, attempt_id: ObjectId | str, *, completed_at: datetime) -> TaskAttempt | None:
    """in_progress -> completed; None when the attempt was not in progress (someone else finished it)."""
    changes = {"status": AttemptStatus.COMPLETED.value, "completed_at": to_ms(completed_at), "updated_at": utcnow()}
    return _set_status(db, {"_id": as_object_id(attempt_id), "status": AttemptStatus.IN_PROGRESS.value}, changes)


# ---------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return utcnow() if now is None else to_ms(now)


def _link(token: str, public_url: str | None) -> str:
    base = (public_url or get_settings().public_url).rstrip("/")
    return f"{base}/a/{token}"


def _expire(db: Database, attempt_id: ObjectId, now: datetime) -> TaskAttempt | None:
    """CAS an open attempt past its expiry to expired; None when it was not (or no longer) due."""
    changes = {"status": AttemptStatus.EXPIRED.value, "updated_at": now}
    return _set_status(db, {"_id": attempt_id, "status": {"$in": _OPEN}, "expires_at": {"$lt": now}}, changes)


def _set_status(db: Database, query: dict[str, Any], changes: dict[str, Any]) -> TaskAttempt | None:
    """Compare-and-set ``changes`` on the attempt ``query`` matches, and count
    the change; None when nothing matched (someone else changed it first)."""
    # The document before the change, so the counters know the status it left.
    before = dbmod.find_one_and_update(
        db[dbmod.ATTEMPTS], query, {"$set": changes}, return_document=ReturnDocument.BEFORE
    )
    if before is None:
        return None
    after = {**before, **changes}
    attempt_counts.record_transition(db, before, after)
    return TaskAttempt.from_doc(after)


def _require(scope: Scope, attempt_id: ObjectId | str) -> TaskAttempt:
    attempt = get_attempt(scope, attempt_id)
    if attempt is None:
        raise AttemptNotFound(f"no attempt with id {attempt_id} in this organisation")
    return attempt


def _raise_lost_race(scope: Scope, attempt_id: ObjectId, verb: str) -> None:
    """Explain why a recruiter's compare-and-set changed nothing."""
    attempt = _require(scope, attempt_id)
    if attempt.status not in _OPEN:
        raise AttemptClosed(f"cannot {verb} an attempt that is {attempt.status}")
    raise AttemptError("the attempt changed while you were working on it; reload and try again")


def _raise_candidate_refusal(db: Database, attempt_id: ObjectId, token_hash: str | None, now: datetime) -> None:
    """Explain why a candidate's compare-and-set changed nothing."""
    attempt = read_attempt(db, attempt_id)
    if attempt is None or (token_hash is not None and attempt.token_hash != token_hash):
        raise TokenAlreadyUsed("this link is no longer valid")
    if attempt.status in _OPEN and attempt.expires_at < now:
        _expire(db, attempt.id, now)
        raise AttemptClosed("this assessment link has expired")
    if attempt.status not in _OPEN:
        raise AttemptClosed(f"this assessment is {attempt.status}")
    raise TokenAlreadyUsed("this assessment was already started from another browser or link")


def _tasks_by_id(scope: Scope, task_ids: list[ObjectId]) -> list[Task]:
    if not task_ids:
        raise AttemptError("choose at least one task")
    oids = [as_object_id(task_id) for task_id in task_ids]
    invalid = [str(task_ids[i]) for i, oid in enumerate(oids) if oid is None]
    if invalid:
        raise AttemptError(f"not a task id: {', '.join(invalid)}")
    if len(set(oids)) != len(oids):
        raise AttemptError("a task may appear only once in an attempt")
    found = {
        doc["_id"]: Task.from_doc(doc)
        for doc in scope.collection(dbmod.TASKS).find(scope.where({"_id": {"$in": oids}, "is_active": True}))
    }
    missing = [str(oid) for oid in oids if oid not in found]
    if missing:
        raise AttemptError(f"unknown or inactive task: {', '.join(missing)}")
    return [found[oid] for oid in oids]


def _sample_pool(scope: Scope, size: int, categories: list[str], difficulties: list[str]) -> list[Task]:
    """The active tasks a sample of ``size`` is drawn from, in a stable order
    (so a seeded rng draws the same tasks every time)."""
    if size < 1:
        raise AttemptError("the sample must hold at least one task")
    query: dict[str, Any] = {"is_active": True}
    for field, values in (("category", categories), ("difficulty", difficulties)):
        if values:
            query[field] = values[0] if len(values) == 1 else {"$in": values}
    docs = list(
        scope.collection(dbmod.TASKS).find(scope.where(query)).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
    )
    if not docs:
        raise AttemptError(f"no active tasks{_filters_text(categories, difficulties)}")
    if size > len(docs):
        raise AttemptError(
            f"asked for {size} tasks but only {len(docs)} active tasks{_filters_text(categories, difficulties)} exist"
        )
    return [Task.from_doc(doc) for doc in docs]


def _values(value: str | Sequence[str] | None) -> list[str]:
    """One filter value or several, as a list of strings (empty: any)."""
    if not value:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value if v]


def _filters_text(categories: list[str], difficulties: list[str]) -> str:
    parts = [
        f"{name} {' or '.join(values)}"
        for name, values in (("category", categories), ("difficulty", difficulties))
        if values
    ]
    return f" with {' and '.join(parts)}" if parts else ""


def _expiry_days(expires_days: int | None) -> int:
    days = get_settings().token_expiry_days if expires_days is None else expires_days
    if days < 1:
        raise AttemptError("the link must stay valid for at least one day")
    return days


def _new_attempt(
    scope: Scope, new: NewAttempt, tasks: list[Task], now: datetime, days: int, kit_id: ObjectId | None
) -> tuple[TaskAttempt, str]:
    """A pending attempt (not stored yet) and its link's token: only the token's hash is in the attempt."""
    token = new_secret()
    granted = new.accommodations
    attempt = TaskAttempt(
        organization_id=scope.organization_id,
        token_hash=hash_secret(token),
        candidate_info=new.candidate,
        task_ids=[task.id for task in tasks],
        task_snapshots=tasks,
        created_by=scope.user_id,
        expires_at=now + timedelta(days=days),
        created_at=now,
        updated_at=now,
        accommodations=None if granted is None or granted.is_empty else granted,
        kit_id=kit_id,
    )
    return attempt, token


def _issued_details(attempt: TaskAttempt) -> dict[str, Any]:
    """What ``attempt.issued`` records: counts and ids, no candidate data."""
    details: dict[str, Any] = {"tasks": len(attempt.task_ids), "expires_at": attempt.expires_at}
    if attempt.kit_id is not None:
        details["kit_id"] = str(attempt.kit_id)
    return details


def _count_new(db: Database, docs: list[dict[str, Any]]) -> None:
    """Count attempts just issued. A store error is logged, not raised: the
    attempts are issued (the truth); the counters are off until ``recount``."""
    try:
        attempt_counts.record_new(db, docs)
    except PyMongoError:
        log.exception("attempt counters missed issued attempts (run `python -m hiremate recount`)")


def _list_filter(scope: Scope, status: str | None, search: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if status:
        query["status"] = str(status)
    if search and search.strip():
        pattern = {"$regex": re.escape(search.strip()), "$options": "i"}
        query["$or"] = [
            {"candidate_info.name": pattern},
            {"candidate_info.email": pattern},
            {"candidate_info.position": pattern},
        ]
    return scope.where(query)
