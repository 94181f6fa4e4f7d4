"""The live page's state: what a recruiter watching an attempt sees.

Two halves. Reads (scoped, small, indexed): the organisation's attempts in
progress, an attempt's status, and the events stored after the last one
seen, by ``(attempt_id, sequence_number)``. And pure functions that fold
those events, batch after batch, into a ``LiveState`` (current task,
progress, focus and idle signals, the last ``MAX_LINES`` readable event
lines) and turn it into a ``LivePanel`` for a given moment, so the page
never re-reads the whole event list and the rules are testable without
Streamlit or a database.

Wording is neutral: it says what happened ("Away from the assessment
window for 12s"), never why or how the candidate felt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING

from hiremate import db as dbmod
from hiremate.ids import as_object_id
from hiremate.metrics import IDLE_THRESHOLD_MS
from hiremate.models import AttemptStatus, BehaviorEvent, EventType, TaskAttempt
from hiremate.reports import (
    ATTEMPT_ROW_PROJECTION,
    AttemptSummary,
    attempt_summary,
    column_label,
    event_name,
    timeline_frame,
)
from hiremate.scope import Scope

MAX_LINES = 200  # event lines kept for the stream (older ones are dropped)
FETCH_BATCH = 500  # events read per query
MAX_FETCH_PER_TICK = 2000  # a tick catches up at most this many events
MAX_PICKER = 200  # attempts offered by the picker
IDLE_NOTICE_SECONDS = IDLE_THRESHOLD_MS / 1000

_STATUS_PROJECTION = {
    "status": 1,
    "current_task_index": 1,
    "completed_at": 1,
    "started_at": 1,
    "disconnected_at": 1,
}
_EVENT_PROJECTION = {"metadata": 0}


# ---------------------------------------------------------------- reads


def in_progress_attempts(scope: Scope, *, limit: int = MAX_PICKER) -> list[AttemptSummary]:
    """The organisation's attempts in progress, newest issued first (at most ``limit``)."""
    limit = max(1, min(limit, MAX_PICKER))
    cursor = (
        scope.collection(dbmod.ATTEMPTS)
        .find(scope.where({"status": AttemptStatus.IN_PROGRESS.value}), ATTEMPT_ROW_PROJECTION)
        .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        .limit(limit)
    )
    return [attempt_summary(doc) for doc in cursor]


@dataclass(frozen=True)
class AttemptStatusNow:
    """The few fields of the attempt the panel re-reads each tick."""

    status: str
    current_task_index: int
    completed_at: datetime | None
    disconnected_at: datetime | None = None  # the candidate's page is not connected since then

    @property
    def is_final(self) -> bool:
        return self.status in {s.value for s in AttemptStatus if s.is_final}


def attempt_status(scope: Scope, attempt_id: str | ObjectId) -> AttemptStatusNow | None:
    """The attempt's status now; None when it is not (or no longer) one of this organisation's."""
    oid = as_object_id(attempt_id)
    if oid is None:
        return None
    doc = scope.collection(dbmod.ATTEMPTS).find_one(scope.where({"_id": oid}), _STATUS_PROJECTION)
    if doc is None:
        return None
    return AttemptStatusNow(
        status=str(doc.get("status") or ""),
        current_task_index=int(doc.get("current_task_index") or 0),
        completed_at=doc.get("completed_at"),
        disconnected_at=doc.get("disconnected_at"),
    )


def events_after(
    scope: Scope, attempt: TaskAttempt, after_seq: int, *, limit: int = MAX_FETCH_PER_TICK
) -> list[BehaviorEvent]:
    """The attempt's events with ``sequence_number > after_seq``, in order,
    at most ``limit``, read in indexed batches.

    ``attempt`` must have been read through ``scope`` (events carry no
    organisation of their own; they are reached only through their attempt).
    """
    if attempt.organization_id != scope.organization_id:
        raise ValueError("this attempt is not one of your organisation's")
    events: list[BehaviorEvent] = []
    last = max(0, int(after_seq))
    collection = scope.collection(dbmod.EVENTS)
    while len(events) < limit:
        batch_size = min(FETCH_BATCH, limit - len(events))
        batch = list(
            collection.find({"attempt_id": attempt.id, "sequence_number": {"$gt": last}}, _EVENT_PROJECTION)
            .sort("sequence_number", ASCENDING)
            .limit(batch_size)
        )
        events.extend(BehaviorEvent.from_doc(doc) for doc in batch)
        if len(batch) < batch_size:
            break
        last = batch[-1]["sequence_number"]
    return events


# ---------------------------------------------------------------- the state


@dataclass(frozen=True)
class EventLine:
    """One event as the stream shows it. ``candidate_text`` is the
    candidate's own words: plain text only."""

    sequence_number: int
    at: datetime
    task_number: int
    event_type: str
    description: str
    candidate_text: str = ""


@dataclass(frozen=True)
class LiveState:
    """Everything the panel needs, folded from the events seen so far.

    Bounded: ``lines`` keeps the last ``MAX_LINES`` events; the rest are
    counters. Immutable: ``advance`` returns a new state.
    """

    attempt_id: str
    total_tasks: int
    task_titles: tuple[str, ...]  # in the attempt's order
    task_numbers: dict[str, int] = field(default_factory=dict)  # task id -> 1-based number
    last_seq: int = 0
    events_seen: int = 0
    tasks_completed: int = 0
    current_task_number: int = 0  # the task started last (0: none yet)
    open_task_started_at: datetime | None = None  # set while a task is open
    selected_option_id: str | None = None  # in the open task
    reasoning_words: int = 0  # in the open task, as last reported
    away_since: datetime | None = None
    focus_losses: int = 0
    idle_periods: int = 0
    idle_ms_total: int = 0
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    lines: tuple[EventLine, ...] = ()


def start_state(attempt: TaskAttempt) -> LiveState:
    """The state before any event of ``attempt`` was seen."""
    snapshots = {task.id: task for task in attempt.task_snapshots}
    titles = []
    for number, task_id in enumerate(attempt.task_ids, start=1):
        task = snapshots.get(task_id)
        titles.append(task.title if task else f"Task {number}")
    return LiveState(
        attempt_id=str(attempt.id),
        total_tasks=len(attempt.task_ids),
        task_titles=tuple(titles),
        task_numbers={str(task_id): number for number, task_id in enumerate(attempt.task_ids, start=1)},
    )


def advance(state: LiveState, attempt: TaskAttempt, events: list[BehaviorEvent]) -> LiveState:
    """``state`` after ``events`` (any order; those already seen, by
    sequence number, and those of other attempts are ignored)."""
    fresh = sorted(
        (e for e in events if str(e.attempt_id) == state.attempt_id and e.sequence_number > state.last_seq),
        key=lambda e: e.sequence_number,
    )
    if not fresh:
        return state
    frame = timeline_frame(fresh, attempt)  # readable descriptions, option texts instead of ids
    descriptions = {
        int(seq): str(text) for seq, text in zip(frame["sequence_number"], frame["description"], strict=True)
    }
    current = state
    new_lines: list[EventLine] = []
    for event in fresh:
        current = _apply(current, event)
        new_lines.append(
            EventLine(
                sequence_number=event.sequence_number,
                at=event.event_time,
                task_number=state.task_numbers.get(str(event.task_id), 0),
                event_type=str(event.event_type),
                description=descriptions.get(event.sequence_number, str(event.event_type)),
                candidate_text=str(event.payload.get("final_text") or ""),
            )
        )
    return replace(current, lines=(*current.lines, *new_lines)[-MAX_LINES:])


def _apply(state: LiveState, event: BehaviorEvent) -> LiveState:
    """One event folded into the counters (the line is added by ``advance``)."""
    at = event.event_time
    payload = event.payload
    changes: dict[str, Any] = {
        "last_seq": event.sequence_number,
        "events_seen": state.events_seen + 1,
        "last_event_at": at if state.last_event_at is None else max(at, state.last_event_at),
        "first_event_at": state.first_event_at or at,
    }
    match event.event_type:
        case EventType.TASK_STARTED:
            changes |= {
                "current_task_number": state.task_numbers.get(str(event.task_id), state.current_task_number + 1),
                "open_task_started_at": at,
                "selected_option_id": None,
                "reasoning_words": 0,
            }
        case EventType.OPTION_SELECTED:
            changes["selected_option_id"] = payload.get("option_id")
        case EventType.OPTION_CHANGED:
            changes["selected_option_id"] = payload.get("to_option_id")
        case EventType.REASONING_UPDATED | EventType.REASONING_SUBMITTED:
            changes["reasoning_words"] = int(payload.get("word_count") or 0)
        case EventType.TASK_COMPLETED:
            changes |= {
                "tasks_completed": state.tasks_completed + 1,
                "open_task_started_at": None,
                "selected_option_id": payload.get("final_option_id"),
            }
        case EventType.FOCUS_LOST:
            changes["focus_losses"] = state.focus_losses + 1
            if state.away_since is None:
                changes["away_since"] = at
        case EventType.FOCUS_GAINED:
            changes["away_since"] = None
        case EventType.IDLE_DETECTED:
            changes |= {
                "idle_periods": state.idle_periods + 1,
                "idle_ms_total": state.idle_ms_total + int(payload.get("idle_duration_ms") or 0),
            }
    return replace(state, **changes)


# ---------------------------------------------------------------- the panel


@dataclass(frozen=True)
class LivePanel:
    """What the panel shows at one moment."""

    status: str
    is_final: bool
    progress: float  # 0..1, tasks completed of all tasks
    progress_text: str
    current_task: str  # "Task 2 of 5: Budget overrun", or a sentence when none is open
    time_on_task_seconds: float | None  # None when no task is open
    away_seconds: float | None  # None when the candidate is in the window
    disconnected_seconds: float | None  # the page is closed or offline since (None while connected)
    quiet_seconds: float | None  # no event for this long (None under the idle notice threshold, or while away)
    focus_losses: int
    idle_periods: int
    idle_seconds_total: float
    events_seen: int
    lines: tuple[EventLine, ...]  # newest first


def panel(state: LiveState, status: str, *, now: datetime, disconnected_at: datetime | None = None) -> LivePanel:
    """The panel for ``state`` at ``now`` (the attempt's current ``status``;
    ``disconnected_at``: since when the candidate's page has no connection).
    A closed or offline page is "disconnected", which is not "away" (the
    page open, its window not in focus): neither away nor quiet is shown then."""
    final = status in {s.value for s in AttemptStatus if s.is_final}
    disconnected = _seconds(now, disconnected_at) if disconnected_at is not None and not final else None
    total = state.total_tasks
    progress = state.tasks_completed / total if total else 0.0
    progress_text = f"{state.tasks_completed} of {total} task{'s' if total != 1 else ''} completed"
    open_task = state.open_task_started_at is not None and not final
    if open_task:
        number = state.current_task_number
        title = state.task_titles[number - 1] if 1 <= number <= len(state.task_titles) else ""
        current = f"Task {number} of {total}" + (f": {title}" if title else "")
    elif final:
        current = f"The attempt is {status.replace('_', ' ')}"
    elif state.events_seen == 0:
        current = "Waiting for the first task to start"
    elif state.tasks_completed >= total:
        current = "All tasks completed"
    else:
        current = f"Between tasks ({state.tasks_completed} of {total} done)"
    time_on_task = _seconds(now, state.open_task_started_at) if open_task else None
    away = _seconds(now, state.away_since) if state.away_since is not None and not final else None
    if disconnected is not None:
        away = None
    quiet = None
    if not final and away is None and disconnected is None and state.last_event_at is not None:
        silent = _seconds(now, state.last_event_at)
        quiet = silent if silent >= IDLE_NOTICE_SECONDS else None
    return LivePanel(
        status=status,
        is_final=final,
        progress=min(1.0, max(0.0, progress)),
        progress_text=progress_text,
        current_task=current,
        time_on_task_seconds=time_on_task,
        away_seconds=away,
        disconnected_seconds=disconnected,
        quiet_seconds=quiet,
        focus_losses=state.focus_losses,
        idle_periods=state.idle_periods,
        idle_seconds_total=state.idle_ms_total / 1000,
        events_seen=state.events_seen,
        lines=tuple(reversed(state.lines)),
    )


def _seconds(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def lines_table(lines: tuple[EventLine, ...], zone: tzinfo = UTC) -> list[dict[str, Any]]:
    """The stream's rows, for a table (column names are the shown words;
    times to the second in ``zone``, the organisation's time zone)."""
    return [
        {
            column_label("sequence_number"): line.sequence_number,
            "Time": line.at.astimezone(zone).strftime("%H:%M:%S"),
            "Task": line.task_number or None,
            column_label("event_type"): event_name(line.event_type),
            column_label("description"): line.description,
            column_label("candidate_text"): line.candidate_text,
        }
        for line in lines
    ]


# ---------------------------------------------------------------- live socket for integrations


def live_socket_url(public_url: str, attempt_id: str, ticket: str) -> str:
    """``{public_url with a ws scheme}/ws/live/{attempt_id}?ticket=...``
    (http becomes ws, https becomes wss; a path prefix is kept)."""
    parts = urlsplit(public_url.strip())
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"the public URL {public_url!r} is not an http(s) URL")
    path = f"{parts.path.rstrip('/')}/ws/live/{quote(str(attempt_id), safe='')}"
    return urlunsplit((scheme, parts.netloc, path, f"ticket={quote(ticket, safe='')}", ""))
