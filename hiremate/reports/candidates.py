"""The candidates list (one page at a time, with its total), the
organisation's counts and positions, and the attempt summaries that pickers
and a candidate's history list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import pandas as pd
from bson import ObjectId

from hiremate import attempt_counts, paging, reviews
from hiremate import db as dbmod
from hiremate.models import AttemptStatus
from hiremate.people import attempts_per_email
from hiremate.reports._common import _NEWEST_COMPLETED, _get, _lookup
from hiremate.reports.columns import _PROFILE_LABELS, CANDIDATE_COLUMNS
from hiremate.scope import Scope
from hiremate.windowed import newest_first

MAX_PAGE_SIZE = 200
MAX_ATTEMPTS_PER_EMAIL = 200

_NEWEST_ISSUED = [("created_at", -1), ("_id", -1)]
_COMPLETED = AttemptStatus.COMPLETED.value


@dataclass(frozen=True)
class AttemptSummary:
    """One attempt as a picker or a candidate's history lists it."""

    attempt_id: str
    candidate_name: str
    candidate_email: str
    position: str
    status: str
    issued_at: datetime | None
    completed_at: datetime | None

    @property
    def label(self) -> str:
        when = self.completed_at or self.issued_at
        parts = [self.candidate_name, self.position, when.strftime("%Y-%m-%d") if when else ""]
        return " · ".join(part for part in parts if part)


def _contains(text: str) -> dict[str, str]:
    """A case-insensitive substring match; the user's text is never a pattern."""
    return {"$regex": re.escape(text.strip()), "$options": "i"}


def _label_value(enum: type[StrEnum], value: str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return enum(value).value
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValueError(f"unknown {what} {value!r}; expected one of: {allowed}") from None


# ---------------------------------------------------------------- candidates list

# The attempt fields a list row or an ``attempt_summary`` reads.
ATTEMPT_ROW_PROJECTION = {
    "candidate_info.name": 1,
    "candidate_info.email": 1,
    "candidate_info.position": 1,
    "status": 1,
    "created_at": 1,
    "completed_at": 1,
}
_PROFILE_ROW_PROJECTION = {
    "attempt_id": 1,
    "candidate_name": 1,
    "candidate_email": 1,
    "position": 1,
    "attempt_status": 1,
    "completed_at": 1,
    **{path: 1 for path, _ in _PROFILE_LABELS.values()},
}


def candidates_page(
    scope: Scope,
    *,
    search: str | None = None,
    position: str | None = None,
    status: str | None = None,
    thinking_style: str | None = None,
    risk_orientation: str | None = None,
    review_state: str | None = None,
    decision: str | None = None,
    skip: int = 0,
    limit: int = 25,
    counts: CandidateCounts | None = None,
    people: bool = True,
) -> tuple[pd.DataFrame, int]:
    """One page of the candidates list and the number of rows matching.

    One row per person (``CANDIDATE_COLUMNS``): their latest attempt
    (``hiremate.people``), with its profile's labels (empty until it has a
    profile) and ``attempts``, how many attempts the person has; with
    ``people=False``, one row per attempt. Without a label filter the list
    is completed attempts first, newest completion first, then the others,
    newest issued first; with one, only attempts with a matching profile can
    match, so the list is read from ``skill_profiles``, newest completion
    first. ``search`` matches name or email, any case.
    ``counts`` (from ``candidate_counts``, read in the same run) gives the
    number of rows without another count when the only filters are position
    and status. ``review_state`` (``awaiting_review``, ``reviewed``) and
    ``decision`` (``advance``, ``hold``, ``reject``, or ``none``: no decision
    recorded) keep completed attempts with a profile only, read like a label
    filter. Raises ValueError for an unknown status, label, review state or
    decision.
    """
    if skip < 0 or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"skip must be >= 0 and limit between 1 and {MAX_PAGE_SIZE}")
    status = _label_value(AttemptStatus, status, "status")
    labels = _label_filters(thinking_style=thinking_style, risk_orientation=risk_orientation)
    search = (search or "").strip() or None
    position = position or None
    reviewed = _review_filter(scope, review_state, decision)
    if reviewed is not None:
        if status not in (None, AttemptStatus.COMPLETED.value):
            return pd.DataFrame([], columns=CANDIDATE_COLUMNS), 0  # only completed profiles are reviewed
        status = AttemptStatus.COMPLETED.value
        labels = {**labels, **reviewed}
    # An equality, which the (organization_id, status, superseded, ...) indexes serve: the embedded
    # store reads every attempt of the organisation for a query with any condition outside the index
    # it picks, $ne and $in included (11 s at 10,000 attempts). The flag is always a value (people.py).
    # Profiles repeat it (``profiles.store_computed``, ``db.backfill_profile_superseded``), and
    # (superseded, organization_id, label..., completed_at, _id) indexes serve the label filters.
    latest = {"superseded": False} if people else {}
    if labels:  # read from profiles by completion, not windowed
        rows, total = _page_from_profiles(scope, {**labels, **latest}, search, position, status, skip, limit)
    else:
        rows, total = _page_from_attempts(scope, search, position, status, skip, limit, counts, latest)
    per_email = attempts_per_email(scope, [row["candidate_email"] for row in rows])
    for row in rows:
        row["attempts"] = per_email.get(row["candidate_email"], 1)
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS), total


def people_page(
    scope: Scope, *, position: str | None = None, after: paging.Key | None = None, limit: int = 25
) -> tuple[list[dict[str, Any]], paging.Key | None]:
    """One page of the candidates as people (each person's latest attempt,
    ``hiremate.people``), newest issued first, after the key ``after``
    (``hiremate.paging``: the REST API's cursor), with the rows of
    ``candidates_page`` and ``attempts``; and the key of the next page."""
    query = {"superseded": False, **({"candidate_info.position": position} if position else {})}  # an equality: indexed
    docs, next_key = paging.newest_after(
        scope.collection(dbmod.ATTEMPTS),
        scope.where(query),
        "created_at",
        after=after,
        limit=min(max(limit, 1), MAX_PAGE_SIZE),
        projection=ATTEMPT_ROW_PROJECTION,
    )
    ids = [doc["_id"] for doc in docs]
    profiles, reviewed = _profiles_for(scope, ids), reviews.summaries(scope, ids)
    rows = [_candidate_row(doc, profiles.get(doc["_id"]), reviewed.get(doc["_id"])) for doc in docs]
    per_email = attempts_per_email(scope, [row["candidate_email"] for row in rows])
    for row in rows:
        row["attempts"] = per_email.get(row["candidate_email"], 1)
    return rows, next_key


def _label_filters(**chosen: str | None) -> dict[str, str]:
    """Profile path -> label to match, for each label chosen (by column name)."""
    filters = {}
    for column, value in chosen.items():
        path, enum = _PROFILE_LABELS[column]
        label = _label_value(enum, value, column.replace("_", " "))
        if label is not None:
            filters[path] = label
    return filters


DECISION_NONE = "none"  # the decision filter's "no decision recorded"


def _review_filter(scope: Scope, review_state: str | None, decision: str | None) -> dict[str, Any] | None:
    """The condition on a profile's ``attempt_id`` that the review filters
    mean (None without any): built from the organisation's reviewed attempts
    (``reviews.reviewed_ids``, a set people made one review at a time)."""
    state = _label_value(reviews.ReviewState, review_state, "review state")
    if decision == DECISION_NONE:
        chosen: str | None = DECISION_NONE
    else:
        chosen = _label_value(reviews.Decision, decision, "decision")
    if state is None and chosen is None:
        return None
    reviewed = reviews.reviewed_ids(scope)
    include: set[ObjectId] | None = None
    exclude: set[ObjectId] = set()
    if state == reviews.ReviewState.REVIEWED:
        include = set(reviewed)
    elif state == reviews.ReviewState.AWAITING:
        exclude |= set(reviewed)
    if chosen == DECISION_NONE:
        exclude |= {attempt_id for attempt_id, value in reviewed.items() if value is not None}
    elif chosen is not None:
        decided = {attempt_id for attempt_id, value in reviewed.items() if value == chosen}
        include = decided if include is None else include & decided
    if include is not None:
        return {"attempt_id": {"$in": sorted(include - exclude)}}
    return {"attempt_id": {"$nin": sorted(exclude)}} if exclude else {}


# Where an attempt and a profile (which repeats the candidate's fields) keep
# the candidate's name, email and position, and the attempt's status.
_ATTEMPT_FIELDS = ("candidate_info.name", "candidate_info.email", "candidate_info.position", "status")
_PROFILE_FIELDS = ("candidate_name", "candidate_email", "position", "attempt_status")


def _candidate_filter(
    fields: tuple[str, str, str, str], search: str | None, position: str | None, status: str | None
) -> dict[str, Any]:
    """Match ``search`` in the name or email (any case), and the position and
    status when given, at the paths ``fields`` names."""
    name, email, position_path, status_path = fields
    query: dict[str, Any] = {}
    if search and search.strip():
        query["$or"] = [{name: _contains(search)}, {email: _contains(search)}]
    if position:
        query[position_path] = position
    if status:
        query[status_path] = status
    return query


def _page_from_attempts(
    scope: Scope,
    search: str | None,
    position: str | None,
    status: str | None,
    skip: int,
    limit: int,
    counts: CandidateCounts | None = None,
    latest: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Completed attempts first (newest completion first), then the others
    (newest issued first); a ``status`` filter reads one of the two."""
    query = scope.where({**_candidate_filter(_ATTEMPT_FIELDS, search, position, status), **(latest or {})})
    attempts = scope.collection(dbmod.ATTEMPTS)
    people = bool(latest)

    def count(of_status: str | None) -> int:
        if counts is not None and not search:
            return counts.total(position=position, status=of_status, people=people)
        return attempts.count_documents({**query, "status": of_status} if of_status else query)

    total = count(status)
    page: list[dict[str, Any]] = []
    done = 0  # completed attempts before the others (counted only when the page starts past them)
    if status in (None, _COMPLETED):
        page = _newest(attempts, {**query, "status": _COMPLETED}, "completed_at", skip, limit, position=position)
        done = skip + len(page) if page else count(_COMPLETED)
    if len(page) < limit and status != _COMPLETED:
        statuses = [status] if status else _OTHER_STATUSES
        page += _newest_of(attempts, query, statuses, max(0, skip - done), limit - len(page), position=position)
    ids = [doc["_id"] for doc in page]
    profiles, reviewed = _profiles_for(scope, ids), reviews.summaries(scope, ids)
    return [_candidate_row(doc, profiles.get(doc["_id"]), reviewed.get(doc["_id"])) for doc in page], total


_OTHER_STATUSES = [s.value for s in AttemptStatus if s.value != _COMPLETED]


def _newest_of(
    attempts: Any, query: dict[str, Any], statuses: list[str], skip: int, limit: int, *, position: str | None
) -> list[dict[str, Any]]:
    """``_newest`` of the attempts in any of ``statuses``, newest issued
    first: one indexed read per status, merged (``{"status": {"$ne": ...}}``
    or ``$in`` would make the store read every attempt of the organisation)."""
    if len(statuses) == 1:
        return _newest(attempts, {**query, "status": statuses[0]}, "created_at", skip, limit, position=position)
    merged: list[dict[str, Any]] = []
    for one in statuses:
        merged += _newest(attempts, {**query, "status": one}, "created_at", 0, skip + limit, position=position)
    merged.sort(key=lambda doc: (doc["created_at"], doc["_id"]), reverse=True)
    return merged[skip : skip + limit]


def _newest(
    attempts: Any, query: dict[str, Any], field: str, skip: int, limit: int, *, position: str | None
) -> list[dict[str, Any]]:
    """``find(query)`` newest ``field`` first; through recent windows unless
    the query has a position and a status (no index serves both with a range
    of ``field``: one read, not one per window)."""
    if position and "status" in query:
        order = [(field, -1), ("_id", -1)]
        return list(attempts.find(query, ATTEMPT_ROW_PROJECTION).sort(order).skip(skip).limit(limit))
    return newest_first(attempts, query, field, projection=ATTEMPT_ROW_PROJECTION, skip=skip, limit=limit)


def _page_from_profiles(
    scope: Scope,
    labels: dict[str, str],
    search: str | None,
    position: str | None,
    status: str | None,
    skip: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    query = scope.where({**labels, **_candidate_filter(_PROFILE_FIELDS, search, position, status)})
    profiles = scope.collection(dbmod.PROFILES)
    total = profiles.count_documents(query)
    page = list(profiles.find(query, _PROFILE_ROW_PROJECTION).sort(_NEWEST_COMPLETED).skip(skip).limit(limit))
    ids = [doc["attempt_id"] for doc in page]
    attempts, reviewed = _attempts_for(scope, ids), reviews.summaries(scope, ids)
    return [
        _candidate_row(attempts.get(doc["attempt_id"]), doc, reviewed.get(doc["attempt_id"])) for doc in page
    ], total


def _profiles_for(scope: Scope, attempt_ids: list[ObjectId]) -> dict[ObjectId, dict[str, Any]]:
    return _lookup(scope.collection(dbmod.PROFILES), scope.where(), "attempt_id", attempt_ids, _PROFILE_ROW_PROJECTION)


def _attempts_for(scope: Scope, attempt_ids: list[ObjectId]) -> dict[ObjectId, dict[str, Any]]:
    return _lookup(scope.collection(dbmod.ATTEMPTS), scope.where(), "_id", attempt_ids, ATTEMPT_ROW_PROJECTION)


def _candidate_row(
    attempt: dict[str, Any] | None, profile: dict[str, Any] | None, review: reviews.ReviewSummary | None = None
) -> dict[str, Any]:
    """A list row; the profile's copies of the candidate fields stand in for
    an attempt that is gone (erased since the page was read). Its review
    state is set for completed attempts with a profile (the ones reviewed)."""
    attempt_id = attempt["_id"] if attempt else _get(profile, "attempt_id")
    row = {
        "attempt_id": str(attempt_id),
        "candidate_name": _get(attempt, "candidate_info.name") or _get(profile, "candidate_name"),
        "candidate_email": _get(attempt, "candidate_info.email") or _get(profile, "candidate_email"),
        "position": _get(attempt, "candidate_info.position") or _get(profile, "position") or "",
        "status": _get(attempt, "status") or _get(profile, "attempt_status"),
        "issued_at": _get(attempt, "created_at"),
        "completed_at": _get(attempt, "completed_at") or _get(profile, "completed_at"),
    }
    for column, (path, _) in _PROFILE_LABELS.items():
        row[column] = _get(profile, path)
    reviewable = profile is not None and row["status"] == AttemptStatus.COMPLETED.value
    row["review_state"] = (review.state if review else reviews.ReviewState.AWAITING).value if reviewable else None
    row["decision"] = review.decision.value if review and review.decision else None
    return row


@dataclass(frozen=True)
class CandidateCounts:
    """The organisation's attempts counted by (position, status), read from
    the counters: the position filter's choices and the candidates list's
    totals."""

    by_position_status: dict[tuple[Any, Any], int]
    people_by_position_status: dict[tuple[Any, Any], int] | None = None  # each person's latest attempt

    @property
    def positions(self) -> list[str]:
        """What ``positions`` returns."""
        return sorted({p for p, _ in self.by_position_status if isinstance(p, str) and p})

    def total(self, *, position: str | None = None, status: str | None = None, people: bool = False) -> int:
        """What ``count_documents`` gives for these filters (no search); of
        people (their latest attempts) with ``people``."""
        counted = self.people_by_position_status if people else self.by_position_status
        return sum(
            n
            for (p, s), n in (counted if counted is not None else self.by_position_status).items()
            if (not position or p == position) and (not status or s == status)
        )


def candidate_counts(scope: Scope) -> CandidateCounts:
    """The organisation's attempts by position and status, from its counter
    documents (``hiremate.attempt_counts``): a few small documents, however
    many attempts there are."""
    db, organization_id = scope.db, scope.organization_id
    return CandidateCounts(
        attempt_counts.by_position_status(db, organization_id),
        attempt_counts.by_position_status(db, organization_id, people=True),
    )


def positions(scope: Scope) -> list[str]:
    """Every position the organisation has issued assessments for, sorted
    (from the counters, as ``candidate_counts``)."""
    return candidate_counts(scope).positions


def attempts_for_email(scope: Scope, email: str) -> list[AttemptSummary]:
    """A candidate's attempts, newest issued first (at most 200)."""
    email = email.strip()
    if not email:
        return []
    # Exact matches keep the email index useful; the lower-cased variant
    # finds addresses stored normalised when the link was typed otherwise.
    query = scope.where({"candidate_info.email": {"$in": sorted({email, email.lower()})}})
    cursor = (
        scope.collection(dbmod.ATTEMPTS)
        .find(query, ATTEMPT_ROW_PROJECTION)
        .sort(_NEWEST_ISSUED)
        .limit(MAX_ATTEMPTS_PER_EMAIL)
    )
    return [attempt_summary(doc) for doc in cursor]


def attempt_summary(attempt: dict[str, Any]) -> AttemptSummary:
    """An attempt document (or its ``ATTEMPT_ROW_PROJECTION``) as a picker shows it."""
    return AttemptSummary(
        attempt_id=str(attempt["_id"]),
        candidate_name=_get(attempt, "candidate_info.name") or "",
        candidate_email=_get(attempt, "candidate_info.email") or "",
        position=_get(attempt, "candidate_info.position") or "",
        status=attempt.get("status") or "",
        issued_at=attempt.get("created_at"),
        completed_at=attempt.get("completed_at"),
    )


def completed_candidates(scope: Scope, *, search: str | None = None, limit: int = 200) -> list[AttemptSummary]:
    """Completed attempts with a profile, newest completion first: the
    choices of the compare picker."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = _candidate_filter(_PROFILE_FIELDS, search, None, AttemptStatus.COMPLETED.value)
    cursor = newest_first(
        scope.collection(dbmod.PROFILES),
        scope.where(query),
        "completed_at",
        projection=_PROFILE_ROW_PROJECTION,
        limit=limit,
    )
    return [
        AttemptSummary(
            attempt_id=str(doc["attempt_id"]),
            candidate_name=doc.get("candidate_name") or "",
            candidate_email=doc.get("candidate_email") or "",
            position=doc.get("position") or "",
            status=doc.get("attempt_status") or "",
            issued_at=None,
            completed_at=doc.get("completed_at"),
        )
        for doc in cursor
    ]
