"""Event validation: a sans-I/O state machine (docs/protocol.md, "Events").

Like the ``websockets`` protocol classes, the validation touches no socket,
database or clock: the ingest server feeds in the attempt, its stored events
(read with ``stored_events``: the readers at the end are the only functions
here that touch the database) and each incoming message (with the server's
``now``), and gets back either a ``BehaviorEvent`` ready to insert, a
``Duplicate`` (the seq is already stored: acknowledge it again) or a
``Rejection`` (the error code of docs/protocol.md). ``AttemptState`` is rebuilt
from the attempt's stored events, so every ingest server, after any restart,
validates the same way.

Checks, in this order: ``seq`` (duplicate / gap / next), ``event_type``,
``task_id``, payload model (strict), timestamps, ``word_count``,
``option_id``s, the transition table, ``task_duration_ms``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import bson.errors
from bson import ObjectId
from pydantic import ValidationError
from pymongo import ASCENDING
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate.models import PAYLOAD_MODELS, BehaviorEvent, EventMetadata, EventType, Task, TaskAttempt
from hiremate.timeutil import parse_iso, to_ms

# The complete list of docs/protocol.md's error codes.
INVALID_JSON = "invalid_json"
UNKNOWN_MESSAGE = "unknown_message"
NOT_STARTED = "not_started"
TOKEN_ALREADY_USED = "token_already_used"
INVALID_EVENT_TYPE = "invalid_event_type"
INVALID_PAYLOAD = "invalid_payload"
UNKNOWN_TASK = "unknown_task"
UNKNOWN_OPTION = "unknown_option"
INVALID_TRANSITION = "invalid_transition"
SEQUENCE_GAP = "sequence_gap"
WORD_COUNT_MISMATCH = "word_count_mismatch"
DURATION_OUT_OF_RANGE = "duration_out_of_range"
BATCH_TOO_LARGE = "batch_too_large"
ATTEMPT_CLOSED = "attempt_closed"
RATE_LIMITED = "rate_limited"
TASK_NOT_AVAILABLE = "task_not_available"
INCOMPLETE = "incomplete"
CONSENT_REQUIRED = "consent_required"  # protocol 1.2

ERROR_CODES = frozenset(
    {
        INVALID_JSON,
        UNKNOWN_MESSAGE,
        NOT_STARTED,
        TOKEN_ALREADY_USED,
        INVALID_EVENT_TYPE,
        INVALID_PAYLOAD,
        UNKNOWN_TASK,
        UNKNOWN_OPTION,
        INVALID_TRANSITION,
        SEQUENCE_GAP,
        WORD_COUNT_MISMATCH,
        DURATION_OUT_OF_RANGE,
        BATCH_TOO_LARGE,
        ATTEMPT_CLOSED,
        RATE_LIMITED,
        TASK_NOT_AVAILABLE,
        INCOMPLETE,
        CONSENT_REQUIRED,
    }
)

MAX_TASK_DURATION_MS = 1_800_000
"""``task_duration_ms`` must stay below this (30 minutes) ..."""
LONG_TASK_SPAN = timedelta(minutes=30)
"""... unless the task's stored events already span longer than this."""

_FOCUS_TYPES = frozenset(
    {EventType.FOCUS_LOST, EventType.FOCUS_GAINED, EventType.IDLE_DETECTED, EventType.NETWORK_WAIT}
)
_ADDED_IN_1_2 = frozenset({"input"})
_EVENT_TYPES = {member.value: member for member in EventType}
# Which payload models have a field added in protocol 1.2, looked up once:
# pydantic 2.11+ serves ``model_fields`` through a deprecation wrapper, about a
# microsecond on every event.
_HAS_1_2_FIELDS = {
    event_type: not _ADDED_IN_1_2.isdisjoint(model.model_fields) for event_type, model in PAYLOAD_MODELS.items()
}


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Rejection:
    """An event or message refused with one of docs/protocol.md's error codes."""

    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None

    def __post_init__(self) -> None:
        if self.code not in ERROR_CODES:
            raise ValueError(f"not a protocol error code: {self.code}")

    def to_message(self) -> dict[str, Any]:
        """The ``{"type":"error",...}`` frame for the client."""
        out: dict[str, Any] = {"type": "error"}
        if self.seq is not None:
            out["seq"] = self.seq
        out["code"] = self.code
        # A last bound: no message, however built, carries much of the input.
        out["message"] = self.message if len(self.message) <= MESSAGE_LIMIT else self.message[:MESSAGE_LIMIT] + "…"
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Duplicate:
    """The seq is already stored (or in flight): acknowledge it again, store nothing."""

    seq: int


ValidationResult = BehaviorEvent | Duplicate | Rejection


# ---------------------------------------------------------------- state


@dataclass(frozen=True)
class TaskRules:
    """What validation needs of one task of the attempt."""

    id: ObjectId
    index: int
    option_ids: frozenset[str]
    reasoning_required: bool
    reasoning_min_length: int

    @classmethod
    def from_task(cls, task: Task, index: int) -> TaskRules:
        if task.id is None:
            raise ValueError(f"task at index {index} has no id")
        return cls(
            id=task.id,
            index=index,
            option_ids=frozenset(option.id for option in task.options),
            reasoning_required=task.reasoning_required,
            reasoning_min_length=task.reasoning_min_length,
        )


@dataclass
class AttemptState:
    """The validation state of one attempt, rebuilt from its stored events.

    ``current_task_index`` counts the completed tasks (the index of the task
    to start next); ``open_task_index`` is the task between its
    ``task_started`` and its ``task_completed``, if any.
    """

    attempt_id: ObjectId
    tasks: tuple[TaskRules, ...]
    started_at: datetime | None = None
    current_task_index: int = 0
    open_task_index: int | None = None
    selected_option: str | None = None
    reasoning_in_progress: bool = False
    submitted_reasoning_length: int | None = None
    last_event_time: datetime | None = None
    last_seq: int = 0
    # task id -> (first, last) event_time of that task's events
    task_spans: dict[ObjectId, tuple[datetime, datetime]] = field(default_factory=dict)

    # ------------------------------------------------------------ building

    @classmethod
    def initial(cls, attempt: TaskAttempt, tasks: Sequence[Task] | None = None) -> AttemptState:
        """The state of an attempt without events. ``tasks`` defaults to the
        attempt's ``task_snapshots``."""
        if attempt.id is None:
            raise ValueError("the attempt has no id")
        tasks = list(attempt.task_snapshots if tasks is None else tasks)
        if not tasks:
            raise ValueError("the attempt has no tasks to validate against")
        return cls(
            attempt_id=attempt.id,
            tasks=tuple(TaskRules.from_task(task, index) for index, task in enumerate(tasks)),
            started_at=attempt.started_at,
        )

    @classmethod
    def rebuild(
        cls,
        attempt: TaskAttempt,
        events: Iterable[BehaviorEvent | Mapping[str, Any]],
        tasks: Sequence[Task] | None = None,
    ) -> AttemptState:
        """Replay the stored events: the contiguous run ``1..n`` of sequence
        numbers (anything stored beyond a hole is left to the unique index)."""
        state = cls.initial(attempt, tasks)
        parsed = [e if isinstance(e, BehaviorEvent) else BehaviorEvent.from_doc(dict(e)) for e in events]
        parsed.sort(key=lambda e: e.sequence_number)
        for event in parsed:
            if event.sequence_number <= state.last_seq:
                continue
            if event.sequence_number != state.last_seq + 1:
                break
            state.apply(event)
        return state

    def copy(self) -> AttemptState:
        clone = copy.copy(self)
        clone.task_spans = dict(self.task_spans)
        return clone

    # ------------------------------------------------------------ queries

    @property
    def total_tasks(self) -> int:
        return len(self.tasks)

    @property
    def next_seq(self) -> int:
        return self.last_seq + 1

    @property
    def all_tasks_completed(self) -> bool:
        return self.current_task_index >= len(self.tasks)

    @property
    def open_task(self) -> TaskRules | None:
        return None if self.open_task_index is None else self.tasks[self.open_task_index]

    def task_for(self, task_id: ObjectId) -> TaskRules | None:
        """The attempt's task with this id (the open or current one first,
        should an attempt list a task twice)."""
        open_task = self.open_task
        if open_task is not None and open_task.id == task_id:
            return open_task
        if self.current_task_index < len(self.tasks) and self.tasks[self.current_task_index].id == task_id:
            return self.tasks[self.current_task_index]
        return next((task for task in self.tasks if task.id == task_id), None)

    def ambient_task(self) -> TaskRules:
        """The task focus and idle events belong to: the open one, else the
        one at ``current_task_index`` (after the last task, the last one)."""
        open_task = self.open_task
        if open_task is not None:
            return open_task
        return self.tasks[min(self.current_task_index, len(self.tasks) - 1)]

    def task_span(self, task_id: ObjectId) -> timedelta:
        span = self.task_spans.get(task_id)
        return timedelta(0) if span is None else span[1] - span[0]

    # ------------------------------------------------------------ transitions

    def apply(self, event: BehaviorEvent) -> None:
        """Advance the state by one event that was validated (or stored)."""
        self.last_seq = max(self.last_seq, event.sequence_number)
        event_time = event.event_time
        if self.last_event_time is None or event_time > self.last_event_time:
            self.last_event_time = event_time
        span = self.task_spans.get(event.task_id)
        if span is None:
            self.task_spans[event.task_id] = (event_time, event_time)
        else:
            self.task_spans[event.task_id] = (min(span[0], event_time), max(span[1], event_time))

        payload = event.payload
        match _EVENT_TYPES[event.event_type]:
            case EventType.TASK_STARTED:
                self.open_task_index = min(self.current_task_index, len(self.tasks) - 1)
                self.selected_option = None
                self.reasoning_in_progress = False
                self.submitted_reasoning_length = None
            case EventType.OPTION_SELECTED:
                self.selected_option = payload.get("option_id")
            case EventType.OPTION_CHANGED:
                self.selected_option = payload.get("to_option_id")
            case EventType.REASONING_STARTED:
                self.reasoning_in_progress = True
            case EventType.REASONING_SUBMITTED:
                self.reasoning_in_progress = False
                self.submitted_reasoning_length = len(payload.get("final_text") or "")
            case EventType.TASK_COMPLETED:
                self.open_task_index = None
                self.selected_option = None
                self.reasoning_in_progress = False
                self.submitted_reasoning_length = None
                self.current_task_index += 1
            case _:
                pass


# ---------------------------------------------------------------- event time


def derive_event_time(
    timestamp: datetime,
    sent_at: datetime | None,
    client_timestamp: datetime | None,
    previous_event_time: datetime | None,
    started_at: datetime | None,
) -> datetime:
    """``timestamp - (sent_at - client_timestamp)``, clamped to be no later
    than ``timestamp``, then no earlier than the previous event's event time
    and the attempt's ``started_at`` (the lower bounds win should the clocks
    of two servers disagree: event time never runs backwards)."""
    timestamp = to_ms(timestamp)
    if sent_at is not None and client_timestamp is not None:
        skew = to_ms(sent_at) - to_ms(client_timestamp)
        try:
            event_time = timestamp - skew
        except OverflowError:  # absurd client clocks: clamped below just the same
            event_time = timestamp if skew < timedelta(0) else datetime.min.replace(tzinfo=UTC)
    else:
        event_time = timestamp
    event_time = min(event_time, timestamp)
    for lower in (previous_event_time, started_at):
        if lower is not None:
            event_time = max(event_time, to_ms(lower))
    return event_time


# ---------------------------------------------------------------- validation


QUOTE_LIMIT = 64
MESSAGE_LIMIT = 500


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for an error message, cut to its first ``limit``
    characters and an ellipsis: an error never echoes more of a client's
    input than that (a 60 KB bad value once came back whole)."""
    if isinstance(value, str) and len(value) > limit:
        value = value[: limit + 1]  # the repr of a prefix: no copy of a huge string
    try:
        text = repr(value)  # other values are bounded by the frame size, then cut
    except RecursionError:
        return "(a deeply nested value)"
    return text if len(text) <= limit else text[:limit] + "…"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _payload_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "payload"
        parts.append(f"payload.{where}: {error.get('msg')}")
    return "; ".join(parts) or "invalid payload"


def _parse_time(value: Any, name: str, seq: int) -> datetime | Rejection | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except (ValueError, TypeError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range by its offset
        return Rejection(INVALID_PAYLOAD, f"{name} must be an ISO 8601 time with an offset", seq=seq)


def check_seq(state: AttemptState, message: Mapping[str, Any]) -> int | Duplicate | Rejection:
    """The first check: the seq itself (a duplicate is acknowledged again
    whatever else the re-sent event carries)."""
    seq = message.get("seq")
    if not _is_int(seq) or seq < 1:
        return Rejection(INVALID_PAYLOAD, "seq must be a whole number >= 1")
    if seq <= state.last_seq:
        return Duplicate(seq)
    if seq > state.next_seq:
        return Rejection(
            SEQUENCE_GAP, f"expected seq {state.next_seq}, got {seq}", {"expected": state.next_seq}, seq=seq
        )
    return seq


def validate(
    state: AttemptState,
    message: Mapping[str, Any],
    *,
    now: datetime,
    sent_at: Any = None,
    metadata: EventMetadata | None = None,
    event_id: ObjectId | None = None,
) -> ValidationResult:
    """Validate one event message (``{"seq","task_id","event_type","payload",
    "client_timestamp","sent_at"}``; in a batch, pass the batch's
    ``sent_at``) against ``state``. Pure: ``state`` is not changed; call
    ``state.apply(event)`` once the event is accepted. ``event_id``: the
    ``_id`` an accepted event gets (none by default)."""
    checked = check_seq(state, message)
    if not isinstance(checked, int):
        return checked
    seq = checked

    raw_type = message.get("event_type")
    event_type = _EVENT_TYPES.get(raw_type) if isinstance(raw_type, str) else None
    if event_type is None:
        return Rejection(INVALID_EVENT_TYPE, f"unknown event_type {quote(raw_type)}", seq=seq)

    raw_task = message.get("task_id")
    task_id = _object_id(raw_task) if isinstance(raw_task, str) else None
    task = None if task_id is None else state.task_for(task_id)
    if task is None or task_id is None:
        return Rejection(UNKNOWN_TASK, f"task {quote(raw_task)} is not part of this assessment", seq=seq)

    raw_payload = message.get("payload", {})
    if not isinstance(raw_payload, dict):
        return Rejection(INVALID_PAYLOAD, "payload must be an object", seq=seq)
    try:
        payload_model = PAYLOAD_MODELS[event_type].model_validate(raw_payload)
    except ValidationError as exc:
        return Rejection(INVALID_PAYLOAD, _payload_error(exc), seq=seq)
    # Protocol 1.2's optional fields are not stored as null when a client
    # leaves them out: an old client's events are stored exactly as before.
    if not _HAS_1_2_FIELDS[event_type]:
        payload = payload_model.model_dump()
    else:
        payload = payload_model.model_dump(exclude=_ADDED_IN_1_2 - payload_model.model_fields_set)
    if not _plainly_storable(payload):
        try:  # what the store cannot hold (ints beyond 64 bits, lone surrogates) would fail the whole write group
            bson.encode(payload)
        except (OverflowError, ValueError, bson.errors.InvalidDocument):
            return Rejection(INVALID_PAYLOAD, "payload values must be 64-bit integers and valid UTF-8 text", seq=seq)

    client_timestamp = _parse_time(message.get("client_timestamp"), "client_timestamp", seq)
    if isinstance(client_timestamp, Rejection):
        return client_timestamp
    own_sent_at = message.get("sent_at", sent_at)
    parsed_sent_at = _parse_time(own_sent_at, "sent_at", seq)
    if isinstance(parsed_sent_at, Rejection):
        return parsed_sent_at

    if event_type is EventType.REASONING_SUBMITTED:
        expected = len(payload["final_text"].split())
        if payload["word_count"] != expected:
            return Rejection(
                WORD_COUNT_MISMATCH,
                f"word_count is {payload['word_count']}, the text has {expected} words",
                {"expected": expected},
                seq=seq,
            )

    for key in _option_keys(event_type):
        option_id = payload[key]
        if option_id not in task.option_ids:
            return Rejection(UNKNOWN_OPTION, f"{key} {quote(option_id)} is not an option of this task", seq=seq)

    refusal = _transition_refusal(state, event_type, task, payload)
    if refusal is not None:
        return Rejection(INVALID_TRANSITION, refusal, seq=seq)

    if event_type is EventType.TASK_COMPLETED:
        duration = payload["task_duration_ms"]
        if duration < 0 or (duration >= MAX_TASK_DURATION_MS and state.task_span(task.id) <= LONG_TASK_SPAN):
            return Rejection(
                DURATION_OUT_OF_RANGE,
                f"task_duration_ms must be >= 0 and < {MAX_TASK_DURATION_MS}, got {duration}",
                seq=seq,
            )

    event_time = derive_event_time(now, parsed_sent_at, client_timestamp, state.last_event_time, state.started_at)
    # Every field is checked and in its stored form by now (ObjectIds, the
    # type's value, times in UTC milliseconds, the payload as its model
    # dumped it): built without a second validation pass, it equals what
    # BehaviorEvent(...) would build (a test holds them equal).
    return BehaviorEvent.checked(
        attempt_id=state.attempt_id,
        task_id=task.id,
        event_type=event_type.value,
        timestamp=to_ms(now),
        event_time=to_ms(event_time),
        sequence_number=seq,
        payload=payload,
        client_timestamp=client_timestamp,
        metadata=metadata or EventMetadata(),
        id=event_id,
    )


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _plainly_storable(payload: Mapping[str, Any]) -> bool:
    """True when every value is one BSON surely holds (ASCII text, a 64-bit
    integer, a boolean, null): then nothing needs encoding to know it. Any
    other value is left to ``bson.encode``, the one judge."""
    for value in payload.values():
        if value is None or value is True or value is False:
            continue
        kind = type(value)
        if kind is str:
            if not value.isascii():
                return False
        elif kind is int:
            if not _INT64_MIN <= value <= _INT64_MAX:
                return False
        else:
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _object_id(text: str) -> ObjectId | None:
    """The ObjectId a 24-hex string names (None for any other string);
    remembered, since every event of an attempt names one of a few tasks."""
    return ObjectId(text) if ObjectId.is_valid(text) else None


def _option_keys(event_type: EventType) -> tuple[str, ...]:
    match event_type:
        case EventType.OPTION_VIEWED | EventType.OPTION_SELECTED:
            return ("option_id",)
        case EventType.OPTION_CHANGED:
            return ("from_option_id", "to_option_id")
        case EventType.TASK_COMPLETED:
            return ("final_option_id",)
        case _:
            return ()


def _transition_refusal(
    state: AttemptState, event_type: EventType, task: TaskRules, payload: dict[str, Any]
) -> str | None:
    """Why docs/protocol.md's table refuses this event now (None: allowed)."""
    open_task = state.open_task
    if event_type is EventType.TASK_STARTED:
        if open_task is not None:
            return f"task {open_task.index} is still open"
        if state.all_tasks_completed:
            return "every task is already completed"
        current = state.tasks[state.current_task_index]
        if task.id != current.id:
            return f"the task to start is the one at index {state.current_task_index}"
        if payload["task_index"] != state.current_task_index:
            return f"task_index must be {state.current_task_index}"
        return None
    if event_type in _FOCUS_TYPES:
        ambient = state.ambient_task()
        if task.id != ambient.id:
            return f"{event_type.value} now belongs to task {ambient.id} (index {ambient.index})"
        return None
    if open_task is None or open_task.id != task.id:
        return "its task is not open"
    match event_type:
        case EventType.OPTION_SELECTED:
            if state.selected_option is not None:
                return "an option is already selected: use option_changed"
        case EventType.OPTION_CHANGED:
            if state.selected_option is None:
                return "no option is selected yet"
            if payload["from_option_id"] != state.selected_option:
                return f"from_option_id must be the selected option {state.selected_option!r}"
        case EventType.REASONING_STARTED:
            if state.reasoning_in_progress:
                return "reasoning is already in progress"
        case EventType.REASONING_UPDATED | EventType.REASONING_SUBMITTED:
            if not state.reasoning_in_progress:
                return "reasoning is not in progress"
        case EventType.TASK_COMPLETED:
            if state.selected_option is None:
                return "no option is selected"
            if payload["final_option_id"] != state.selected_option:
                return f"final_option_id must be the selected option {state.selected_option!r}"
            if task.reasoning_required:
                length = state.submitted_reasoning_length
                if length is None:
                    return "this task requires submitted reasoning"
                if length < task.reasoning_min_length:
                    return f"the submitted reasoning has {length} characters, at least {task.reasoning_min_length} are required"
        case _:
            pass
    return None


# ---------------------------------------------------------------- reads


def stored_events(db: Database, attempt_id: ObjectId, *, from_seq: int = 1) -> list[dict[str, Any]]:
    """The attempt's stored event documents from ``from_seq`` on, in ``sequence_number`` order."""
    query: dict[str, Any] = {"attempt_id": attempt_id}
    if from_seq > 1:
        query["sequence_number"] = {"$gte": from_seq}
    return list(db[dbmod.EVENTS].find(query).sort("sequence_number", ASCENDING))


def stored_ids(db: Database, attempt_id: ObjectId, seqs: list[int]) -> dict[int, ObjectId]:
    """seq -> stored ``_id``, for those of ``seqs`` the attempt has stored."""
    cursor = db[dbmod.EVENTS].find(
        {"attempt_id": attempt_id, "sequence_number": {"$in": seqs}}, {"_id": 1, "sequence_number": 1}
    )
    return {doc["sequence_number"]: doc["_id"] for doc in cursor}


def page_events(
    db: Database, attempt_id: ObjectId, *, after_seq: int = 0, limit: int = 100
) -> tuple[list[BehaviorEvent], int | None]:
    """One page of the attempt's events in sequence order after ``after_seq``
    and the sequence number to continue after (None at the end). Sequence
    numbers have no gaps, so a page is the range ``(after_seq, after_seq +
    limit]`` of the unique (attempt, sequence) index, never a sort of all of
    them. Without their request metadata (user agent, address hash). The
    caller checks the attempt is in its organisation's scope first."""
    limit = max(1, limit)
    query = {"attempt_id": attempt_id, "sequence_number": {"$gt": after_seq, "$lte": after_seq + limit}}
    docs = list(db[dbmod.EVENTS].find(query, {"metadata": 0}).sort("sequence_number", ASCENDING))
    more = db[dbmod.EVENTS].find_one(
        {"attempt_id": attempt_id, "sequence_number": {"$gt": after_seq + limit}}, {"_id": 1}
    )
    return [BehaviorEvent.from_doc(doc) for doc in docs], (after_seq + limit if more else None)
