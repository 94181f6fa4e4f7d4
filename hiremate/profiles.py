"""Compute and store metrics and skill profiles, post hoc.

An attempt is profiled once it has ended after starting: ``completed``, or
``expired``/``locked`` with ``started_at`` set (a partial profile of the
tasks completed). Documents are upserted by ``attempt_id``: a recompute
replaces them in place and keeps their ``_id``.

The stored profile document also carries ``superseded``, its attempt's
flag (``hiremate.people``), a field of storage only: it is not part of the
computed profile (``SkillProfile``, whose content the rule versions fix),
and a recompute carries it over (``store_computed``), so a superseded
attempt stays out of the label-filtered lists.

Both documents record the rule version that produced them: the latest
unless a caller asks for another (``version="1.0.0"`` recomputes an old
profile byte for byte), or ``version=KEEP_RECORDED`` (None): each attempt
with the version its stored profile records, the latest when it has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from hiremate import norms
from hiremate.db import (
    ATTEMPTS,
    EVENTS,
    METRICS,
    PROFILES,
    SUPERSEDED,
    TASKS,
    flag_profiles_changed_since,
    superseded_flags,
)
from hiremate.ids import as_object_id
from hiremate.metrics import LATEST, compute_metrics
from hiremate.models import AttemptStatus, BehaviorEvent, ComputedMetrics, SkillProfile, Task, TaskAttempt
from hiremate.scope import Scope
from hiremate.skills import interpret
from hiremate.timeutil import utcnow

Computed = tuple[ComputedMetrics, SkillProfile]
KEEP_RECORDED = None  # version=KEEP_RECORDED: each attempt's stored profile's rule version (latest when none)
Progress = Callable[[int, int], None]

DUPLICATE_KEY = 11000
WRITE_ATTEMPTS = 3  # an upsert that races another one for the same attempt is retried

# The query form of ``is_profiled``.
PROFILED_ATTEMPTS: dict[str, Any] = {
    "$or": [
        {"status": AttemptStatus.COMPLETED.value},
        {
            "status": {"$in": [AttemptStatus.EXPIRED.value, AttemptStatus.LOCKED.value]},
            "started_at": {"$ne": None},
        },
    ]
}

_EVENT_FIELDS = {
    "attempt_id": 1,
    "task_id": 1,
    "event_type": 1,
    "timestamp": 1,
    "event_time": 1,
    "sequence_number": 1,
    "payload": 1,
}


def is_profiled(attempt: TaskAttempt) -> bool:
    """True when the attempt has ended after starting (metrics are post hoc only)."""
    if attempt.status == AttemptStatus.COMPLETED:
        return True
    return attempt.status in (AttemptStatus.EXPIRED, AttemptStatus.LOCKED) and attempt.started_at is not None


def build_profile(
    attempt: TaskAttempt,
    events: Sequence[BehaviorEvent],
    *,
    now: datetime,
    tasks: Sequence[Task] | None = None,
    version: str = LATEST,
) -> Computed:
    """Metrics and profile of one attempt, in memory, without ``_id``s, by
    the rules of ``version``.

    The profile carries the candidate fields copied from the attempt (never
    its accommodations, which only the rules read).
    """
    metrics = compute_metrics(
        attempt, list(tasks or attempt.task_snapshots), list(events), computed_at=now, version=version
    )
    profile = interpret(metrics, generated_at=now, accommodations=attempt.accommodations)
    return metrics, profile.model_copy(update=_candidate_fields(attempt))


def compute_and_store(
    db: Database, attempt_id: ObjectId | str, *, now: datetime | None = None, version: str | None = LATEST
) -> Computed | None:
    """Compute the attempt's metrics and profile and upsert both, by the
    rules of ``version`` (``KEEP_RECORDED``: those its stored profile
    records, the latest when it has none).

    Returns None, writing nothing, when there is no such attempt or it has
    not ended after starting.
    """
    doc = db[ATTEMPTS].find_one({"_id": ObjectId(attempt_id)})
    if doc is None:
        return None
    attempt = TaskAttempt.from_doc(doc)
    if not is_profiled(attempt):
        return None
    return _compute_and_store_batch(db, [attempt], now or utcnow(), version)[0]


def stored_results(scope: Scope, attempt_id: ObjectId | str) -> tuple[ComputedMetrics | None, SkillProfile | None]:
    """The attempt's stored metrics and profile (None each until computed);
    LookupError when the id names no attempt of the scope's organisation."""
    oid = as_object_id(attempt_id)
    if oid is None or scope.collection(ATTEMPTS).count_documents(scope.where({"_id": oid}), limit=1) == 0:
        raise LookupError(f"no attempt {attempt_id} in this organisation")
    # Metrics and profiles are reached only through the attempt found in scope above.
    metrics = scope.collection(METRICS).find_one({"attempt_id": oid})
    profile = scope.collection(PROFILES).find_one({"attempt_id": oid})
    return (
        ComputedMetrics.from_doc(metrics) if metrics else None,
        SkillProfile.from_doc(profile) if profile else None,
    )


def recompute(scope: Scope, attempt_id: ObjectId | str) -> Computed | None:
    """Compute (or recompute) one attempt of the scope's organisation from
    its stored events, as the profile page does, audited
    ``attempt.recomputed``; None when it has not ended after starting.
    LookupError when the id names no attempt of the organisation."""
    oid = as_object_id(attempt_id)
    if oid is None or scope.collection(ATTEMPTS).count_documents(scope.where({"_id": oid}), limit=1) == 0:
        raise LookupError(f"no attempt {attempt_id} in this organisation")
    computed = compute_and_store(scope.db, oid)  # the latest rules, as the profile page
    if computed is not None:
        scope.audit("attempt.recomputed", "attempt", oid, rules=computed[1].version)
    return computed


def recompute_all(
    db: Database,
    *,
    progress: Progress | None = None,
    batch_size: int = 100,
    now: datetime | None = None,
    version: str | None = LATEST,
) -> int:
    """Recompute every profiled attempt, in ``_id`` order and in batches, by
    the rules of ``version`` (``KEEP_RECORDED``: each attempt by those its
    stored profile records, the latest when it has none).

    ``progress(done, total)`` is called after each batch. Returns how many
    attempts were recomputed.
    """
    now = now or utcnow()
    total = db[ATTEMPTS].count_documents(PROFILED_ATTEMPTS)
    done = 0
    for attempts in _profiled_attempt_pages(db, batch_size):
        _compute_and_store_batch(db, attempts, now, version)
        done += len(attempts)
        if progress is not None:
            progress(done, max(total, done))
    return done


def store_computed(db: Database, computed: Sequence[Computed]) -> list[Computed]:
    """Upsert already computed pairs by ``attempt_id``, reusing existing
    ``_id``s; returns the pairs with their stored ``_id`` and ``metrics_id``.
    Each profile document carries its attempt's ``superseded`` flag (the
    stored profile's when the attempt is gone, else False)."""
    stored: dict[ObjectId, Computed] = {}
    pending = list(computed)
    for _ in range(WRITE_ATTEMPTS):
        with_ids, flags = _with_ids(db, pending)
        raced = _write(db, with_ids, flags)
        stored.update((metrics.attempt_id, (metrics, profile)) for metrics, profile in with_ids)
        pending = [pair for pair in pending if pair[0].attempt_id in raced]
        if not pending:
            result = [stored[metrics.attempt_id] for metrics, _ in computed]
            flag_profiles_changed_since(db, flags)  # a settle between the read and the write
            norms.record(db, result)  # the norms follow the profiles they describe
            return result
    raise RuntimeError(f"could not store metrics for {len(pending)} attempt(s) after {WRITE_ATTEMPTS} tries")


def profile_doc(profile: SkillProfile, *, superseded: bool) -> dict[str, Any]:
    """The document a profile is stored as: the computed profile and the
    storage field ``superseded`` (its attempt's flag, ``hiremate.people``)."""
    return {**profile.to_doc(), SUPERSEDED: superseded}


# ---------------------------------------------------------------- loading


def _profiled_attempt_pages(db: Database, batch_size: int) -> Iterable[list[TaskAttempt]]:
    """Pages keyed on ``_id`` rather than one long cursor, so a long
    recompute never holds a cursor open.

    The matching ``_id``s are read first (small documents, read to the end
    at once), then each page by ``_id``: a store that sorts every match in
    memory would otherwise read all remaining attempts for every page
    (quadratic in the number of attempts). Profiled statuses are final, so
    an attempt that matched still matches; attempts that end meanwhile are
    picked up by the next round, in ``_id`` order as before."""
    last_id: ObjectId | None = None
    while True:
        query = PROFILED_ATTEMPTS if last_id is None else {"$and": [PROFILED_ATTEMPTS, {"_id": {"$gt": last_id}}]}
        ids = [doc["_id"] for doc in db[ATTEMPTS].find(query, {"_id": 1}).sort("_id", ASCENDING)]
        if not ids:
            return
        for first in range(0, len(ids), batch_size):
            chunk = ids[first : first + batch_size]
            found = {doc["_id"]: doc for doc in db[ATTEMPTS].find({"_id": {"$in": chunk}})}
            page = [found[i] for i in chunk if i in found]  # an attempt erased meanwhile is skipped
            if page:
                yield [TaskAttempt.from_doc(doc) for doc in page]
        last_id = ids[-1]


def _compute_and_store_batch(
    db: Database, attempts: Sequence[TaskAttempt], now: datetime, version: str | None = LATEST
) -> list[Computed]:
    events = _events_by_attempt(db, [attempt.id for attempt in attempts])
    tasks = _stored_tasks_for_old_attempts(db, attempts)
    recorded = _recorded_versions(db, [attempt.id for attempt in attempts]) if version is KEEP_RECORDED else {}
    computed = [
        build_profile(
            attempt,
            events.get(attempt.id, []),
            now=now,
            tasks=attempt.task_snapshots or [tasks[i] for i in attempt.task_ids if i in tasks],
            version=version or recorded.get(attempt.id, LATEST),
        )
        for attempt in attempts
    ]
    return store_computed(db, computed)


def recorded_version(db: Database, attempt_id: ObjectId) -> str | None:
    """The rule version of the attempt's stored profile (None without one)."""
    return _recorded_versions(db, [attempt_id]).get(attempt_id)


def _recorded_versions(db: Database, attempt_ids: list[ObjectId]) -> dict[ObjectId, str]:
    cursor = db[PROFILES].find({"attempt_id": {"$in": attempt_ids}}, {"attempt_id": 1, "version": 1})
    return {doc["attempt_id"]: doc["version"] for doc in cursor if doc.get("version")}


def _events_by_attempt(db: Database, attempt_ids: list[ObjectId]) -> dict[ObjectId, list[BehaviorEvent]]:
    # One query per attempt: on the embedded store this reads several times
    # faster than one $in over the batch (which sorts in memory), and on
    # MongoDB each is a single range of the unique (attempt, seq) index.
    return {
        attempt_id: [
            BehaviorEvent.from_doc(doc)
            for doc in db[EVENTS].find({"attempt_id": attempt_id}, _EVENT_FIELDS).sort("sequence_number", ASCENDING)
        ]
        for attempt_id in attempt_ids
    }


def _stored_tasks_for_old_attempts(db: Database, attempts: Sequence[TaskAttempt]) -> dict[ObjectId, Task]:
    """Attempts issued before snapshots existed fall back to today's tasks."""
    wanted = sorted({i for attempt in attempts if not attempt.task_snapshots for i in attempt.task_ids})
    if not wanted:
        return {}
    return {doc["_id"]: Task.from_doc(doc) for doc in db[TASKS].find({"_id": {"$in": wanted}}).sort("_id", ASCENDING)}


def _candidate_fields(attempt: TaskAttempt) -> dict[str, Any]:
    return {
        "organization_id": attempt.organization_id,
        "candidate_name": attempt.candidate_info.name,
        "candidate_email": attempt.candidate_info.email,
        "position": attempt.candidate_info.position,
        "completed_at": attempt.completed_at,
        "attempt_status": attempt.status,
    }


# ---------------------------------------------------------------- writing


def _with_ids(db: Database, computed: Sequence[Computed]) -> tuple[list[Computed], dict[ObjectId, bool]]:
    """Give each pair the ``_id``s its attempt's documents already have
    (fresh ones otherwise) and link the profile to its metrics; and each
    attempt's ``superseded`` flag, read last before the write: the
    attempt's, else its stored profile's (an attempt erased meanwhile), else False."""
    attempt_ids = [metrics.attempt_id for metrics, _ in computed]
    metrics_ids = _existing_ids(db, METRICS, attempt_ids)
    stored_profiles = {
        doc["attempt_id"]: doc
        for doc in db[PROFILES].find({"attempt_id": {"$in": attempt_ids}}, {SUPERSEDED: 1, "attempt_id": 1})
    }
    profile_ids = {attempt_id: doc["_id"] for attempt_id, doc in stored_profiles.items()}
    flags = {attempt_id: doc.get(SUPERSEDED) is True for attempt_id, doc in stored_profiles.items()}
    flags.update(superseded_flags(db, attempt_ids))
    result = []
    for metrics, profile in computed:
        metrics_id = metrics_ids.get(metrics.attempt_id) or ObjectId()
        profile_id = profile_ids.get(metrics.attempt_id) or ObjectId()
        result.append(
            (
                metrics.model_copy(update={"id": metrics_id}),
                profile.model_copy(update={"id": profile_id, "metrics_id": metrics_id}),
            )
        )
    return result, {attempt_id: flags.get(attempt_id, False) for attempt_id in attempt_ids}


def _existing_ids(db: Database, collection: str, attempt_ids: list[ObjectId]) -> dict[ObjectId, ObjectId]:
    cursor = db[collection].find({"attempt_id": {"$in": attempt_ids}}, {"attempt_id": 1})
    return {doc["attempt_id"]: doc["_id"] for doc in cursor}


def _write(db: Database, computed: Sequence[Computed], superseded: dict[ObjectId, bool]) -> set[ObjectId]:
    """Upsert metrics, then profiles (with their attempt's flag); returns the
    attempts whose write lost a race with another writer (duplicate key), to be retried."""
    raced = _upsert(db, METRICS, [metrics.to_doc() for metrics, _ in computed])
    profile_docs = [profile_doc(profile, superseded=superseded[profile.attempt_id]) for _, profile in computed]
    return raced | _upsert(db, PROFILES, profile_docs)


def _upsert(db: Database, collection: str, docs: list[dict[str, Any]]) -> set[ObjectId]:
    # Matching on _id and attempt_id together: a document another writer
    # inserted meanwhile (another _id) makes this an insert that the unique
    # attempt_id index refuses with 11000, never a silent second document.
    requests = [ReplaceOne({"_id": doc["_id"], "attempt_id": doc["attempt_id"]}, doc, upsert=True) for doc in docs]
    try:
        db[collection].bulk_write(requests, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors) or exc.details.get("writeConcernErrors"):
            raise
        return {docs[error["index"]]["attempt_id"] for error in errors}
    return set()
