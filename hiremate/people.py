"""People, not attempts: which attempt stands for a candidate in the lists.

A candidate (one email in one organisation) may have several attempts: a
re-take, another position, a link re-issued as a new attempt. The
candidates list shows one row per person: their latest attempt (the newest
issued), with the number of their attempts.

How: every attempt but a person's newest carries ``superseded: true`` (the
newest ``false``: always a value, so the lists can ask for an equality,
which the store serves from an index), and so does its profile (``skill_profiles`` repeats it, so the label and review
filters, which read profiles, show people too). The flag is set when a
newer attempt is issued or stored and cleared again when the newest is
erased or purged (``settle``, called by ``hiremate.attempts`` after the
insert, by the simulator, and by the one deletion path), and rebuilt from the attempts by ``rebuild`` (``python -m hiremate
recount``, for stores from before the flag, where every attempt counts as
its own person until then). The attempt counters count people too (field
``p`` of the status counters, ``hiremate.attempt_counts``), so the list's
totals never count documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.database import Database

from hiremate import attempt_counts
from hiremate import db as dbmod
from hiremate.scope import Scope

__all__ = ["SUPERSEDED", "attempts_per_email", "rebuild", "settle"]

SUPERSEDED = dbmod.SUPERSEDED
_EMAIL = "candidate_info.email"
_NEWEST = [("created_at", -1), ("_id", -1)]
MAX_COUNTED = 200  # attempts counted per person on a page (a bound on one page's read)


def settle(db: Database, organization_id: ObjectId, emails: Iterable[str]) -> int:
    """Make each of these people's newest attempt (by issue time) the one that
    stands for them, and flag the others (with their profiles); returns the
    attempts changed. Called after an attempt is issued or stored, and after
    attempts are deleted. Counted one attempt at a time, so the people
    counters move by exactly what changed."""
    flag: list[ObjectId] = []
    unflag: list[ObjectId] = []
    for email in dict.fromkeys(e for e in emails if e):
        docs = db[dbmod.ATTEMPTS].find({"organization_id": organization_id, _EMAIL: email}, {SUPERSEDED: 1})
        for index, doc in enumerate(docs.sort(_NEWEST)):
            superseded = index > 0
            if doc.get(SUPERSEDED) is not superseded:
                (flag if superseded else unflag).append(doc["_id"])
    return _set_flag(db, flag, True) + _set_flag(db, unflag, False)


def rebuild(db: Database, organization_id: ObjectId | None = None) -> int:
    """Set the flag from the attempts themselves (one scan): each person's
    newest attempt unflagged, the others flagged; then every profile's to
    its attempt's (one scan of the profiles), also where the attempt's flag
    was right but its profile's was not. Returns the attempts changed."""
    scope: dict[str, Any] = {} if organization_id is None else {"organization_id": organization_id}
    projection = {"organization_id": 1, _EMAIL: 1, SUPERSEDED: 1}
    seen: set[tuple[Any, Any]] = set()
    flag, unflag = [], []
    superseded_ids: set[ObjectId] = set()
    for doc in db[dbmod.ATTEMPTS].find(scope, projection).sort(_NEWEST):
        person = (doc.get("organization_id"), (doc.get("candidate_info") or {}).get("email"))
        superseded = person in seen
        seen.add(person)
        if superseded:
            superseded_ids.add(doc["_id"])
        if doc.get(SUPERSEDED) is not superseded:  # a store from before the flag has none: False is written
            (flag if superseded else unflag).append(doc["_id"])
    changed = _set_flag(db, flag, True) + _set_flag(db, unflag, False)
    _profiles_follow(db, scope, superseded_ids)
    return changed


def _profiles_follow(db: Database, scope: dict[str, Any], superseded_ids: set[ObjectId]) -> None:
    """Give each profile of the scope its attempt's flag where it has
    another or none (a profile recomputed before the flag was kept on it)."""
    wrong: dict[bool, list[ObjectId]] = {True: [], False: []}
    for doc in db[dbmod.PROFILES].find(scope, {"attempt_id": 1, SUPERSEDED: 1}):
        superseded = doc.get("attempt_id") in superseded_ids
        if doc.get(SUPERSEDED) is not superseded:
            wrong[superseded].append(doc["_id"])
    for value, ids in wrong.items():
        for first in range(0, len(ids), dbmod.BACKFILL_BATCH):
            db[dbmod.PROFILES].update_many(
                {"_id": {"$in": ids[first : first + dbmod.BACKFILL_BATCH]}}, {"$set": {SUPERSEDED: value}}
            )


def attempts_per_email(scope: Scope, emails: Iterable[str]) -> dict[str, int]:
    """How many attempts each of these people has in the scope's organisation
    (for one page of the list: a few dozen emails, through the email index)."""
    counts: dict[str, int] = {}
    wanted = list(dict.fromkeys(e for e in emails if e))
    if not wanted:
        return counts
    cursor = (
        scope.collection(dbmod.ATTEMPTS)
        .find(scope.where({_EMAIL: {"$in": wanted}}), {_EMAIL: 1})
        .limit(len(wanted) * MAX_COUNTED)
    )
    for doc in cursor:
        email = (doc.get("candidate_info") or {}).get("email")
        counts[email] = counts.get(email, 0) + 1
    return counts


def _set_flag(db: Database, attempt_ids: list[ObjectId], superseded: bool) -> int:
    change = {"$set": {SUPERSEDED: superseded}}
    condition = {"$ne": superseded}  # an attempt from before the flag (none) gets one too
    changed = 0
    for attempt_id in attempt_ids:
        before = dbmod.find_one_and_update(
            db[dbmod.ATTEMPTS],
            {"_id": attempt_id, SUPERSEDED: condition},
            change,
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            continue
        after = {**before, SUPERSEDED: superseded}
        attempt_counts.record_transition(db, before, after)
        changed += 1
    if attempt_ids:
        db[dbmod.PROFILES].update_many({"attempt_id": {"$in": attempt_ids}}, change)
    return changed
