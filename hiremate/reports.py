"""What recruiters read: the candidates list, one candidate's profile data,
a side-by-side comparison and CSV exports.

Every function takes a ``Scope``, so it only ever sees the user's
organisation. None of them loads a collection: lists read one page with a
projection, exports stream in batches, and skill profiles repeat the
candidate's fields so that lists and filters never join.

Frames use snake_case column names (stable for charts and CSV);
``COLUMN_LABELS`` gives the words a page shows for each of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import pandas as pd
from bson import ObjectId
from pymongo.collection import Collection

from hiremate import attempt_counts
from hiremate import db as dbmod
from hiremate.csvsafe import CsvWriter
from hiremate.errors import ReportError
from hiremate.ids import as_object_id
from hiremate.models import (
    PAYLOAD_MODELS,
    AttemptStatus,
    BehaviorEvent,
    ComputedMetrics,
    DecisionConsistency,
    DecisionSpeed,
    EventType,
    LogicalStructure,
    ReasoningDepth,
    RiskOrientationLabel,
    SkillProfile,
    Task,
    TaskAttempt,
    ThinkingStyle,
)
from hiremate.scope import Scope
from hiremate.windowed import newest_first

MAX_PAGE_SIZE = 200
EXPORT_BATCH_SIZE = 500
MAX_ATTEMPTS_PER_EMAIL = 200
MIN_COMPARED, MAX_COMPARED = 2, 5

_NEWEST_ISSUED = [("created_at", -1), ("_id", -1)]
_NEWEST_COMPLETED = [("completed_at", -1), ("_id", -1)]

# Column of the candidates list -> (path in skill_profiles, the label's enum).
_PROFILE_LABELS: dict[str, tuple[str, type[StrEnum]]] = {
    "thinking_style": ("thinking_style.primary", ThinkingStyle),
    "decision_speed": ("decision_pattern.speed", DecisionSpeed),
    "decision_consistency": ("decision_pattern.consistency", DecisionConsistency),
    "risk_orientation": ("risk_orientation.preference", RiskOrientationLabel),
    "reasoning_depth": ("communication_style.reasoning_depth", ReasoningDepth),
    "logical_structure": ("communication_style.logical_structure", LogicalStructure),
}
PROFILE_LABEL_COLUMNS = list(_PROFILE_LABELS)
# A profile's labels, each result followed by its confidence: the same run of
# columns in a comparison and in the candidates CSV.
PROFILE_COLUMNS = [
    "thinking_style",
    "thinking_style_confidence",
    "decision_speed",
    "decision_consistency",
    "decision_pattern_confidence",
    "risk_orientation",
    "risk_orientation_confidence",
    "reasoning_depth",
    "logical_structure",
    "communication_style_confidence",
]

CANDIDATE_COLUMNS = [
    "attempt_id",
    "candidate_name",
    "candidate_email",
    "position",
    "status",
    "issued_at",
    "completed_at",
    *PROFILE_LABEL_COLUMNS,
]
PER_TASK_COLUMNS = [
    "task_number",
    "task_title",
    "time_spent_seconds",
    "active_seconds",
    "hesitation_seconds",
    "first_decision_seconds",
    "decision_changes",
    "final_option",
    "risk_level",
    "reasoning_words",
    "logical_keywords",
    "reasoning_depth_score",
    "idle_seconds",
    "focus_losses",
]
TIMELINE_COLUMNS = [
    "task_number",
    "task_title",
    "sequence_number",
    "seconds_from_task_start",
    "event_type",
    "description",
    "candidate_text",
]

# The rows of a comparison, in order; the radar reads the 0..1 ones.
COMPARE_ROWS = [
    "attempt_id",
    "candidate_email",
    "position",
    "completed_at",
    *PROFILE_COLUMNS,
    "low_risk_count",
    "medium_risk_count",
    "high_risk_count",
    "dominant_risk",
    "low_risk_share",
    "high_risk_share",
    "decision_consistency_score",
    "reasoning_engagement",
    "attention_stability",
    "total_time_seconds",
    "active_time_seconds",
    "hesitation_time_seconds",
    "total_tasks",
    "tasks_completed",
    "avg_time_per_task_seconds",
    "mean_first_decision_seconds",
    "mean_decision_changes",
    "total_idle_seconds",
    "total_focus_losses",
]
RADAR_ROWS = [
    "decision_consistency_score",
    "reasoning_engagement",
    "attention_stability",
    "low_risk_share",
    "high_risk_share",
]

COLUMN_LABELS: dict[str, str] = {
    "attempt_id": "Attempt",
    "candidate_name": "Candidate",
    "candidate_email": "Email",
    "position": "Position",
    "status": "Status",
    "issued_at": "Issued",
    "completed_at": "Completed",
    "thinking_style": "Thinking style",
    "thinking_style_confidence": "Thinking style confidence",
    "decision_speed": "Decision speed",
    "decision_consistency": "Decision consistency",
    "decision_pattern_confidence": "Decision pattern confidence",
    "risk_orientation": "Risk orientation",
    "risk_orientation_confidence": "Risk orientation confidence",
    "reasoning_depth": "Reasoning depth",
    "logical_structure": "Structure",
    "communication_style_confidence": "Communication style confidence",
    "low_risk_count": "Low-risk choices",
    "medium_risk_count": "Medium-risk choices",
    "high_risk_count": "High-risk choices",
    "dominant_risk": "Dominant risk level",
    "low_risk_share": "Low-risk share",
    "high_risk_share": "High-risk share",
    "decision_consistency_score": "Decision timing consistency",
    "reasoning_engagement": "Reasoning engagement",
    "attention_stability": "Attention stability",
    "total_time_seconds": "Total time (s)",
    "active_time_seconds": "Active time (s)",
    "hesitation_time_seconds": "Hesitation time (s)",
    "total_tasks": "Tasks",
    "tasks_completed": "Tasks completed",
    "avg_time_per_task_seconds": "Average time per task (s)",
    "mean_first_decision_seconds": "Average first decision (s)",
    "mean_decision_changes": "Average decision changes",
    "total_idle_seconds": "Idle time (s)",
    "total_focus_losses": "Left the window (times)",
    "task_number": "#",
    "task_title": "Task",
    "time_spent_seconds": "Time spent (s)",
    "active_seconds": "Active (s)",
    "hesitation_seconds": "Hesitation (s)",
    "first_decision_seconds": "First decision (s)",
    "decision_changes": "Decision changes",
    "final_option": "Final option",
    "risk_level": "Risk level",
    "reasoning_words": "Reasoning words",
    "logical_keywords": "Logical keywords",
    "reasoning_depth_score": "Reasoning depth score",
    "idle_seconds": "Idle (s)",
    "focus_losses": "Left the window",
    "sequence_number": "Seq",
    "seconds_from_task_start": "Time from task start (s)",
    "event_type": "Event",
    "description": "What happened",
    "candidate_text": "Candidate's text",
}


def column_label(column: str) -> str:
    """The words a page shows for a frame's column (``COLUMN_LABELS``; the
    name itself when it has none). Pass it to ``DataFrame.rename``."""
    return COLUMN_LABELS.get(column, column)


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


@dataclass(frozen=True)
class ProfileBundle:
    """Everything the profile page shows for one attempt. ``metrics`` and
    ``profile`` are None until the attempt has ended and been computed;
    ``events`` are in sequence order, without their request metadata."""

    attempt: TaskAttempt
    metrics: ComputedMetrics | None
    profile: SkillProfile | None
    events: list[BehaviorEvent]


# ---------------------------------------------------------------- small helpers


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


def _get(doc: dict[str, Any] | None, path: str) -> Any:
    """A dotted path into a document; None where any part is missing."""
    for key in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


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
    skip: int = 0,
    limit: int = 25,
    counts: CandidateCounts | None = None,
) -> tuple[pd.DataFrame, int]:
    """One page of the candidates list and the number of rows matching.

    One row per attempt (``CANDIDATE_COLUMNS``), with its profile's labels
    (empty until the attempt has a profile). Without a label filter the
    list is every attempt, newest issued first; with one, only attempts with
    a matching profile can match, so the list is read from ``skill_profiles``,
    newest completion first. ``search`` matches name or email, any case.
    ``counts`` (from ``candidate_counts``, read in the same run) gives the
    number of rows without another count when the only filters are position
    and status. Raises ValueError for an unknown status or label.
    """
    if skip < 0 or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"skip must be >= 0 and limit between 1 and {MAX_PAGE_SIZE}")
    status = _label_value(AttemptStatus, status, "status")
    labels = _label_filters(thinking_style=thinking_style, risk_orientation=risk_orientation)
    search = (search or "").strip() or None
    position = position or None
    if labels:
        rows, total = _page_from_profiles(scope, labels, search, position, status, skip, limit)
    else:
        rows, total = _page_from_attempts(scope, search, position, status, skip, limit, counts)
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS), total


def _label_filters(**chosen: str | None) -> dict[str, str]:
    """Profile path -> label to match, for each label chosen (by column name)."""
    filters = {}
    for column, value in chosen.items():
        path, enum = _PROFILE_LABELS[column]
        label = _label_value(enum, value, column.replace("_", " "))
        if label is not None:
            filters[path] = label
    return filters


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
) -> tuple[list[dict[str, Any]], int]:
    query = scope.where(_candidate_filter(_ATTEMPT_FIELDS, search, position, status))
    attempts = scope.collection(dbmod.ATTEMPTS)
    if counts is not None and not search:
        total = counts.total(position=position, status=status)
    else:
        total = attempts.count_documents(query)
    if position and status:  # no index serves both with a range of created_at: one read, not one per window
        page = list(attempts.find(query, ATTEMPT_ROW_PROJECTION).sort(_NEWEST_ISSUED).skip(skip).limit(limit))
    else:
        page = newest_first(attempts, query, "created_at", projection=ATTEMPT_ROW_PROJECTION, skip=skip, limit=limit)
    profiles = _profiles_for(scope, [doc["_id"] for doc in page])
    return [_candidate_row(doc, profiles.get(doc["_id"])) for doc in page], total


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
    attempts = _attempts_for(scope, [doc["attempt_id"] for doc in page])
    return [_candidate_row(attempts.get(doc["attempt_id"]), doc) for doc in page], total


def _lookup(
    collection: Collection,
    query: dict[str, Any],
    key: str,
    ids: Sequence[ObjectId],
    projection: dict[str, Any] | None = None,
) -> dict[ObjectId, dict[str, Any]]:
    """The documents matching ``query`` whose (unique) ``key`` is one of
    ``ids``, by that key: one query, bounded by the number of ids."""
    if not ids:
        return {}
    # Asked by ``key`` alone and ``query`` (plain equalities) checked here: given
    # ``{organization_id: X, key: {$in: ids}}`` the store reads every document of
    # the organisation instead of the ``ids`` through ``key``'s unique index.
    if any(key_.startswith("$") or isinstance(value, dict) for key_, value in query.items()):
        raise ValueError("_lookup takes plain equality conditions")
    if projection is not None:
        projection = {**projection, **{field: 1 for field in query}}
    cursor = collection.find({key: {"$in": list(ids)}}, projection).sort(key, 1).limit(len(ids))
    return {doc[key]: doc for doc in cursor if all(_get(doc, field) == value for field, value in query.items())}


def _profiles_for(scope: Scope, attempt_ids: list[ObjectId]) -> dict[ObjectId, dict[str, Any]]:
    return _lookup(scope.collection(dbmod.PROFILES), scope.where(), "attempt_id", attempt_ids, _PROFILE_ROW_PROJECTION)


def _attempts_for(scope: Scope, attempt_ids: list[ObjectId]) -> dict[ObjectId, dict[str, Any]]:
    return _lookup(scope.collection(dbmod.ATTEMPTS), scope.where(), "_id", attempt_ids, ATTEMPT_ROW_PROJECTION)


def _candidate_row(attempt: dict[str, Any] | None, profile: dict[str, Any] | None) -> dict[str, Any]:
    """A list row; the profile's copies of the candidate fields stand in for
    an attempt that is gone (erased since the page was read)."""
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
    return row


@dataclass(frozen=True)
class CandidateCounts:
    """The organisation's attempts counted by (position, status), read from
    the counters: the position filter's choices and the candidates list's
    totals."""

    by_position_status: dict[tuple[Any, Any], int]

    @property
    def positions(self) -> list[str]:
        """What ``positions`` returns."""
        return sorted({p for p, _ in self.by_position_status if isinstance(p, str) and p})

    def total(self, *, position: str | None = None, status: str | None = None) -> int:
        """What ``count_documents`` gives for these filters (no search)."""
        return sum(
            n
            for (p, s), n in self.by_position_status.items()
            if (not position or p == position) and (not status or s == status)
        )


def candidate_counts(scope: Scope) -> CandidateCounts:
    """The organisation's attempts by position and status, from its counter
    documents (``hiremate.attempt_counts``): a few small documents, however
    many attempts there are."""
    return CandidateCounts(attempt_counts.by_position_status(scope.db, scope.organization_id))


def positions(scope: Scope) -> list[str]:
    """Every position the organisation has issued assessments for, sorted
    (from the counters, as ``candidate_counts``)."""
    return candidate_counts(scope).positions


# ---------------------------------------------------------------- one candidate


def profile_bundle(scope: Scope, attempt_id: str | ObjectId) -> ProfileBundle | None:
    """The attempt with its metrics, profile and events; None when the id is
    malformed or names no attempt of this organisation."""
    oid = as_object_id(attempt_id)
    if oid is None:
        return None
    doc = scope.collection(dbmod.ATTEMPTS).find_one(scope.where({"_id": oid}))
    if doc is None:
        return None
    # Metrics, profile and events carry no organisation of their own: they
    # are reached only through the attempt found in scope above.
    metrics = scope.collection(dbmod.METRICS).find_one({"attempt_id": oid})
    profile = scope.collection(dbmod.PROFILES).find_one({"attempt_id": oid})
    events = scope.collection(dbmod.EVENTS).find({"attempt_id": oid}, {"metadata": 0}).sort("sequence_number", 1)
    return ProfileBundle(
        attempt=TaskAttempt.from_doc(doc),
        metrics=ComputedMetrics.from_doc(metrics) if metrics else None,
        profile=SkillProfile.from_doc(profile) if profile else None,
        events=[BehaviorEvent.from_doc(event) for event in events],
    )


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


# ---------------------------------------------------------------- frames for the profile page


def _tasks_by_id(attempt: TaskAttempt) -> dict[ObjectId, tuple[int, Task | None]]:
    """Task id -> (1-based number in the attempt's order, its snapshot)."""
    snapshots = {task.id: task for task in attempt.task_snapshots}
    return {task_id: (number, snapshots.get(task_id)) for number, task_id in enumerate(attempt.task_ids, start=1)}


def _task_title(number: int, task: Task | None) -> str:
    return task.title if task else f"Task {number}"


def _option_text(task: Task | None, option_id: str | None) -> str:
    option = task.option(option_id) if task and option_id else None
    return option.text if option else (option_id or "")


def per_task_frame(metrics: ComputedMetrics | None, attempt: TaskAttempt) -> pd.DataFrame:
    """One row per completed task (``PER_TASK_COLUMNS``), in the attempt's order."""
    tasks = _tasks_by_id(attempt)
    rows = []
    for item in metrics.per_task_metrics if metrics else []:
        number, task = tasks.get(item.task_id, (0, None))
        rows.append(
            {
                "task_number": number,
                "task_title": _task_title(number, task),
                "time_spent_seconds": item.time_spent_seconds,
                "active_seconds": round(max(item.time_spent_seconds - item.hesitation_seconds, 0.0), 4),
                "hesitation_seconds": item.hesitation_seconds,
                "first_decision_seconds": item.first_decision_speed_seconds,
                "decision_changes": item.decision_change_count,
                "final_option": _option_text(task, item.final_option_id),
                "risk_level": item.final_option_risk_level,
                "reasoning_words": item.reasoning_word_count,
                "logical_keywords": item.reasoning_logical_keywords_count,
                "reasoning_depth_score": item.reasoning_depth_score,
                "idle_seconds": item.idle_time_seconds,
                "focus_losses": item.focus_loss_count,
            }
        )
    return pd.DataFrame(rows, columns=PER_TASK_COLUMNS)


def timeline_frame(events: Sequence[BehaviorEvent], attempt: TaskAttempt) -> pd.DataFrame:
    """The session, one row per event in sequence order (``TIMELINE_COLUMNS``).

    ``seconds_from_task_start`` is measured by ``event_time`` from the task's
    ``task_started`` (negative for a focus or idle event recorded between
    tasks). ``candidate_text`` is the candidate's own words, to be shown as
    plain text, never as markdown or HTML.
    """
    tasks = _tasks_by_id(attempt)
    ordered = sorted(events, key=lambda event: event.sequence_number)
    starts = _task_starts(ordered)
    rows = []
    for event in ordered:
        number, task = tasks.get(event.task_id, (0, None))
        start = starts.get(event.task_id, event.event_time)
        rows.append(
            {
                "task_number": number,
                "task_title": _task_title(number, task),
                "sequence_number": event.sequence_number,
                "seconds_from_task_start": round((event.event_time - start).total_seconds(), 3),
                "event_type": event.event_type,
                "description": _describe(event, task),
                "candidate_text": str(event.payload.get("final_text") or ""),
            }
        )
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


def _task_starts(events: Iterable[BehaviorEvent]) -> dict[ObjectId, datetime]:
    """Each task's ``task_started``; a task without one starts at its first event."""
    first_events: dict[ObjectId, datetime] = {}
    started: dict[ObjectId, datetime] = {}
    for event in events:
        first_events.setdefault(event.task_id, event.event_time)
        if event.event_type == EventType.TASK_STARTED:
            started.setdefault(event.task_id, event.event_time)
    return {**first_events, **started}


def _describe(event: BehaviorEvent, task: Task | None) -> str:
    """A neutral sentence for one event, with option texts instead of ids."""
    payload = event.payload

    def option(key: str) -> str:
        return f"“{_option_text(task, payload.get(key))}”"

    def seconds(key: str) -> str:
        return f"{(payload.get(key) or 0) / 1000:.1f}s"

    match event.event_type:
        case EventType.TASK_STARTED:
            return "Started the task"
        case EventType.OPTION_VIEWED:
            suffix = f" for {seconds('view_duration_ms')}" if payload.get("view_duration_ms") is not None else ""
            return f"Viewed option {option('option_id')}{suffix}"
        case EventType.OPTION_SELECTED:
            return f"Selected option {option('option_id')}"
        case EventType.OPTION_CHANGED:
            return f"Changed from {option('from_option_id')} to {option('to_option_id')}"
        case EventType.REASONING_STARTED:
            return "Started writing reasoning"
        case EventType.REASONING_UPDATED:
            return f"Reasoning in progress: {payload.get('word_count', 0)} words"
        case EventType.REASONING_SUBMITTED:
            return f"Submitted reasoning ({payload.get('word_count', 0)} words)"
        case EventType.TASK_COMPLETED:
            return f"Completed the task with {option('final_option_id')}"
        case EventType.IDLE_DETECTED:
            return f"No activity for {seconds('idle_duration_ms')}"
        case EventType.FOCUS_LOST:
            return "Left the assessment window"
        case EventType.FOCUS_GAINED:
            return "Returned to the assessment window"
    return str(event.event_type)


# ---------------------------------------------------------------- compare


def compare_frame(scope: Scope, attempt_ids: Sequence[str | ObjectId]) -> pd.DataFrame:
    """2 to 5 completed attempts side by side: one row per ``COMPARE_ROWS``
    key (index named ``metric``), one column per candidate, in the order given.

    Raises ValueError, with a message a recruiter can act on, for fewer than
    2 or more than 5 distinct attempts, a malformed id, or an attempt that is
    not a completed one of this organisation with a computed profile.
    """
    ids = _distinct_ids(attempt_ids)
    completed = scope.where({"status": AttemptStatus.COMPLETED.value})
    attempts = _lookup(
        scope.collection(dbmod.ATTEMPTS), completed, "_id", ids, {"candidate_info": 1, "completed_at": 1}
    )
    missing = [str(oid) for oid in ids if oid not in attempts]
    if missing:
        raise ReportError(f"not a completed attempt of your organisation: {', '.join(missing)}")
    # Reached only through attempts found in scope above.
    metrics = _lookup(scope.collection(dbmod.METRICS), {}, "attempt_id", ids)
    profiles = _lookup(scope.collection(dbmod.PROFILES), {}, "attempt_id", ids)
    not_computed = [str(oid) for oid in ids if oid not in metrics or oid not in profiles]
    if not_computed:
        raise ReportError(f"no computed profile yet for: {', '.join(not_computed)}")
    columns = _column_names([attempts[oid] for oid in ids])
    data = {
        column: _compare_values(
            attempts[oid], ComputedMetrics.from_doc(metrics[oid]), SkillProfile.from_doc(profiles[oid])
        )
        for column, oid in zip(columns, ids, strict=True)
    }
    frame = pd.DataFrame(data, index=COMPARE_ROWS, dtype=object)
    frame.index.name = "metric"
    return frame


def _distinct_ids(attempt_ids: Sequence[str | ObjectId]) -> list[ObjectId]:
    ids: list[ObjectId] = []
    for value in attempt_ids:
        oid = as_object_id(value)
        if oid is None:
            raise ReportError(f"not an attempt id: {value!r}")
        if oid not in ids:
            ids.append(oid)
    if not MIN_COMPARED <= len(ids) <= MAX_COMPARED:
        raise ReportError(f"choose {MIN_COMPARED} to {MAX_COMPARED} different candidates to compare (got {len(ids)})")
    return ids


def _column_names(attempts: list[dict[str, Any]]) -> list[str]:
    """Candidate names, made unique with the email, then the attempt id."""
    names = [_get(doc, "candidate_info.name") or str(doc["_id"]) for doc in attempts]
    if len(set(names)) < len(names):
        names = [f"{name} ({_get(doc, 'candidate_info.email')})" for name, doc in zip(names, attempts, strict=True)]
    if len(set(names)) < len(names):
        names = [f"{name} [{str(doc['_id'])[-6:]}]" for name, doc in zip(names, attempts, strict=True)]
    return names


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _compare_values(attempt: dict[str, Any], metrics: ComputedMetrics, profile: SkillProfile) -> list[Any]:
    risk = metrics.aggregated_patterns.risk_preference
    chosen = risk.low_count + risk.medium_count + risk.high_count
    tasks = metrics.per_task_metrics
    overall = metrics.global_metrics
    patterns = metrics.aggregated_patterns
    values = {
        "attempt_id": str(attempt["_id"]),
        "candidate_email": _get(attempt, "candidate_info.email"),
        "position": _get(attempt, "candidate_info.position") or "",
        "completed_at": attempt.get("completed_at"),
        "thinking_style": profile.thinking_style.primary,
        "thinking_style_confidence": profile.thinking_style.confidence,
        "decision_speed": profile.decision_pattern.speed,
        "decision_consistency": profile.decision_pattern.consistency,
        "decision_pattern_confidence": profile.decision_pattern.confidence,
        "risk_orientation": profile.risk_orientation.preference,
        "risk_orientation_confidence": profile.risk_orientation.confidence,
        "reasoning_depth": profile.communication_style.reasoning_depth,
        "logical_structure": profile.communication_style.logical_structure,
        "communication_style_confidence": profile.communication_style.confidence,
        "low_risk_count": risk.low_count,
        "medium_risk_count": risk.medium_count,
        "high_risk_count": risk.high_count,
        "dominant_risk": risk.dominant,
        "low_risk_share": round(risk.low_count / chosen, 4) if chosen else 0.0,
        "high_risk_share": round(risk.high_count / chosen, 4) if chosen else 0.0,
        "decision_consistency_score": patterns.decision_consistency,
        "reasoning_engagement": patterns.reasoning_engagement,
        "attention_stability": patterns.attention_stability,
        "total_time_seconds": overall.total_time_seconds,
        "active_time_seconds": overall.active_interaction_time_seconds,
        "hesitation_time_seconds": overall.hesitation_time_seconds,
        "total_tasks": overall.total_tasks,
        "tasks_completed": overall.tasks_completed,
        "avg_time_per_task_seconds": overall.avg_time_per_task_seconds,
        "mean_first_decision_seconds": _mean([t.first_decision_speed_seconds for t in tasks]),
        "mean_decision_changes": _mean([t.decision_change_count for t in tasks]),
        "total_idle_seconds": round(sum(t.idle_time_seconds for t in tasks), 4),
        "total_focus_losses": sum(t.focus_loss_count for t in tasks),
    }
    return [values[row] for row in COMPARE_ROWS]


def compare_csv(scope: Scope, attempt_ids: Sequence[str | ObjectId]) -> bytes:
    """The comparison as a CSV a person reads: a row per metric, with its label."""
    frame = compare_frame(scope, attempt_ids)
    writer = CsvWriter(["Metric", *frame.columns])
    for key, values in frame.iterrows():
        writer.writerow([column_label(str(key)), *values.tolist()])
    scope.audit("export", "compare", None, kind="compare", attempt_ids=[str(v) for v in frame.loc["attempt_id"]])
    return writer.to_bytes()


# ---------------------------------------------------------------- exports

CANDIDATES_CSV_COLUMNS = [
    "attempt_id",
    "candidate_name",
    "candidate_email",
    "position",
    "status",
    "completed_at",
    *PROFILE_COLUMNS,
    "summary",
    "strengths",
    "considerations",
    "profile_version",
    "generated_at",
]
PER_TASK_CSV_COLUMNS = [
    "attempt_id",
    "candidate_name",
    "candidate_email",
    "position",
    "task_number",
    "task_id",
    "task_title",
    "time_spent_seconds",
    "hesitation_seconds",
    "first_decision_speed_seconds",
    "decision_change_count",
    "final_option_id",
    "final_option_risk_level",
    "reasoning_depth_score",
    "reasoning_word_count",
    "reasoning_logical_keywords_count",
    "idle_time_seconds",
    "focus_loss_count",
    "metrics_version",
]
# Every payload field of every event type, once, in the protocol's order.
_PAYLOAD_FIELDS = list(dict.fromkeys(field for model in PAYLOAD_MODELS.values() for field in model.model_fields))
EVENTS_CSV_COLUMNS = [
    "attempt_id",
    "sequence_number",
    "task_id",
    "event_type",
    "event_time",
    "timestamp",
    "client_timestamp",
    *_PAYLOAD_FIELDS,
]


def _day_start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def _profile_filter(
    scope: Scope, date_from: date | datetime | None, date_to: date | datetime | None, position: str | None
) -> dict[str, Any]:
    """Profiles (so: attempts that ended after starting) completed in the
    range. A date is a whole UTC day, and ``date_to`` includes its day."""
    query: dict[str, Any] = {}
    completed: dict[str, datetime] = {}
    if date_from is not None:
        completed |= dbmod.at_or_after(_day_start(date_from))
    if date_to is not None:
        if isinstance(date_to, datetime):
            completed["$lte"] = _day_start(date_to)
        else:
            completed["$lt"] = _day_start(date_to + timedelta(days=1))
    if completed:
        query["completed_at"] = completed
    if position:
        query["position"] = position
    return scope.where(query)


def _profiles_in_batches(
    scope: Scope, query: dict[str, Any], projection: dict[str, Any] | None = None
) -> Iterator[list[dict[str, Any]]]:
    cursor = (
        scope.collection(dbmod.PROFILES).find(query, projection).sort(_NEWEST_COMPLETED).batch_size(EXPORT_BATCH_SIZE)
    )
    batch: list[dict[str, Any]] = []
    for doc in cursor:
        batch.append(doc)
        if len(batch) == EXPORT_BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _export_profiled(
    scope: Scope,
    kind: str,
    columns: list[str],
    projection: dict[str, Any],
    write: Callable[[CsvWriter, list[dict[str, Any]]], None],
    date_from: date | datetime | None,
    date_to: date | datetime | None,
    position: str | None,
) -> bytes:
    """A CSV of ``columns`` about the profiles matching the filters (read
    with ``projection``, batch by batch, each batch written by ``write``),
    audited as an export of ``kind``."""
    writer = CsvWriter(columns)
    query = _profile_filter(scope, date_from, date_to, position)
    for batch in _profiles_in_batches(scope, query, projection):
        write(writer, batch)
    _audit_export(scope, kind, writer, date_from=date_from, date_to=date_to, position=position)
    return writer.to_bytes()


def candidates_csv(
    scope: Scope,
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    position: str | None = None,
) -> bytes:
    """Every candidate with a profile, newest completion first
    (``CANDIDATES_CSV_COLUMNS``); dates filter on completion."""

    def write(writer: CsvWriter, batch: list[dict[str, Any]]) -> None:
        writer.writerows(_candidate_csv_row(doc) for doc in batch)

    return _export_profiled(
        scope, "candidates", CANDIDATES_CSV_COLUMNS, _CANDIDATES_CSV_PROJECTION, write, date_from, date_to, position
    )


_CANDIDATES_CSV_PROJECTION = {
    "metrics_id": 0,
    "thinking_style.evidence": 0,
    "decision_pattern.evidence": 0,
    "risk_orientation.evidence": 0,
    "communication_style.evidence": 0,
}


def _candidate_csv_row(doc: dict[str, Any]) -> list[Any]:
    values = {
        "attempt_id": doc.get("attempt_id"),
        "candidate_name": doc.get("candidate_name"),
        "candidate_email": doc.get("candidate_email"),
        "position": doc.get("position"),
        "status": doc.get("attempt_status"),
        "completed_at": doc.get("completed_at"),
        "thinking_style_confidence": _get(doc, "thinking_style.confidence"),
        "decision_pattern_confidence": _get(doc, "decision_pattern.confidence"),
        "risk_orientation_confidence": _get(doc, "risk_orientation.confidence"),
        "communication_style_confidence": _get(doc, "communication_style.confidence"),
        "summary": doc.get("overall_summary"),
        "strengths": doc.get("strengths") or [],
        "considerations": doc.get("considerations") or [],
        "profile_version": doc.get("version"),
        "generated_at": doc.get("generated_at"),
        **{column: _get(doc, path) for column, (path, _) in _PROFILE_LABELS.items()},
    }
    return [values[column] for column in CANDIDATES_CSV_COLUMNS]


def per_task_metrics_csv(
    scope: Scope,
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    position: str | None = None,
) -> bytes:
    """One row per completed task of every profiled attempt (``PER_TASK_CSV_COLUMNS``)."""
    projection = {"attempt_id": 1, "candidate_name": 1, "candidate_email": 1, "position": 1, "completed_at": 1}

    def write(writer: CsvWriter, batch: list[dict[str, Any]]) -> None:
        _write_per_task_rows(scope, writer, batch)

    return _export_profiled(
        scope, "per_task_metrics", PER_TASK_CSV_COLUMNS, projection, write, date_from, date_to, position
    )


def attempt_metrics_csv(scope: Scope, attempt_id: str | ObjectId) -> bytes:
    """The per-task metrics of one attempt (just the header until it has
    metrics). Raises ValueError when it is not one of this organisation's."""
    attempt = _scoped_attempt(scope, attempt_id)
    writer = CsvWriter(PER_TASK_CSV_COLUMNS)
    candidate = {
        "attempt_id": attempt["_id"],
        "candidate_name": _get(attempt, "candidate_info.name"),
        "candidate_email": _get(attempt, "candidate_info.email"),
        "position": _get(attempt, "candidate_info.position"),
    }
    _write_per_task_rows(scope, writer, [candidate])
    _audit_export(scope, "attempt_metrics", writer, target_id=attempt["_id"])
    return writer.to_bytes()


def _scoped_attempt(scope: Scope, attempt_id: str | ObjectId) -> dict[str, Any]:
    oid = as_object_id(attempt_id)
    attempt = None
    if oid is not None:
        attempt = scope.collection(dbmod.ATTEMPTS).find_one(scope.where({"_id": oid}), {"candidate_info": 1})
    if attempt is None:
        raise ReportError(f"no attempt {attempt_id} in your organisation")
    return attempt


def _write_per_task_rows(scope: Scope, writer: CsvWriter, candidates: list[dict[str, Any]]) -> None:
    """``candidates`` carry attempt_id and the candidate fields; one query for
    their metrics, one for their task titles."""
    ids = [doc["attempt_id"] for doc in candidates]
    # Metrics carry no organisation: these ids come from scoped documents.
    metrics = _lookup(scope.collection(dbmod.METRICS), {}, "attempt_id", ids)
    titles = _task_titles(scope, ids)
    for candidate in candidates:
        doc = metrics.get(candidate["attempt_id"])
        if doc is None:
            continue
        computed = ComputedMetrics.from_doc(doc)
        numbers = titles.get(candidate["attempt_id"], {})
        for item in computed.per_task_metrics:
            number, title = numbers.get(item.task_id, (None, None))
            values = {
                **candidate,
                **item.model_dump(),
                "task_number": number,
                "task_title": title,
                "metrics_version": computed.version,
            }
            writer.writerow(values.get(column) for column in PER_TASK_CSV_COLUMNS)


def _task_titles(scope: Scope, attempt_ids: list[ObjectId]) -> dict[ObjectId, dict[ObjectId, tuple[int, str]]]:
    """attempt id -> task id -> (number in the attempt, title), reading only
    the snapshots' ids and titles."""
    projection = {"task_ids": 1, "task_snapshots._id": 1, "task_snapshots.title": 1}
    attempts = _lookup(scope.collection(dbmod.ATTEMPTS), scope.where(), "_id", attempt_ids, projection)
    result: dict[ObjectId, dict[ObjectId, tuple[int, str]]] = {}
    for doc in attempts.values():
        titles = {snap.get("_id"): snap.get("title") for snap in doc.get("task_snapshots") or []}
        result[doc["_id"]] = {
            task_id: (number, titles.get(task_id) or f"Task {number}")
            for number, task_id in enumerate(doc.get("task_ids") or [], start=1)
        }
    return result


def events_csv(
    scope: Scope,
    *,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    position: str | None = None,
    attempt_id: str | ObjectId | None = None,
) -> bytes:
    """Raw events (``EVENTS_CSV_COLUMNS``, one payload field a column), by
    attempt and sequence. With ``attempt_id``: that attempt's events,
    whatever its status (ValueError when it is not one of this
    organisation's); otherwise those of every profiled attempt matching the
    filters."""
    if attempt_id is not None:
        attempt = _scoped_attempt(scope, attempt_id)
        writer = CsvWriter(EVENTS_CSV_COLUMNS)
        _write_events(scope, writer, [attempt["_id"]])
        _audit_export(scope, "attempt_events", writer, target_id=attempt["_id"])
        return writer.to_bytes()

    def write(writer: CsvWriter, batch: list[dict[str, Any]]) -> None:
        _write_events(scope, writer, [doc["attempt_id"] for doc in batch])

    projection = {"attempt_id": 1, "completed_at": 1}
    return _export_profiled(scope, "events", EVENTS_CSV_COLUMNS, projection, write, date_from, date_to, position)


def attempt_events_csv(scope: Scope, attempt_id: str | ObjectId) -> bytes:
    """The events of one attempt; ValueError when it is not one of this organisation's."""
    return events_csv(scope, attempt_id=attempt_id)


def _write_events(scope: Scope, writer: CsvWriter, attempt_ids: list[ObjectId]) -> None:
    """Each attempt's events together and in sequence order (the unique
    index's order; attempts within one batch follow their ids)."""
    cursor = (
        scope.collection(dbmod.EVENTS)
        .find({"attempt_id": {"$in": attempt_ids}}, {"metadata": 0})
        .sort([("attempt_id", 1), ("sequence_number", 1)])
        .batch_size(EXPORT_BATCH_SIZE * 4)
    )
    writer.writerows(_event_row(doc) for doc in cursor)


def _event_row(doc: dict[str, Any]) -> list[Any]:
    payload = doc.get("payload") or {}
    head = [
        doc.get("attempt_id"),
        doc.get("sequence_number"),
        doc.get("task_id"),
        doc.get("event_type"),
        doc.get("event_time"),
        doc.get("timestamp"),
        doc.get("client_timestamp"),
    ]
    return head + [payload.get(field) for field in _PAYLOAD_FIELDS]


def _audit_export(scope: Scope, kind: str, writer: CsvWriter, *, target_id: Any = None, **filters: Any) -> None:
    details = {key: value for key, value in filters.items() if value is not None}
    for key, value in details.items():
        if isinstance(value, date):  # the audit log stores plain values
            details[key] = value.isoformat()
    scope.audit("export", "attempt" if target_id else "csv", target_id, kind=kind, rows=writer.rows_written, **details)
