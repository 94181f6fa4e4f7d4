"""The API's answers and request bodies: the domain's pydantic models where
they are what a client needs (``TaskInput``, ``CandidateInfo``,
``KitCreate``, ``KitUpdate``, ``KitPublic``, ``ComputedMetrics``,
``SkillProfile``, ``RecordedDecision``, ``Review``), and ``...Public`` shapes
of the rest that leave out what a client must never get: token and session
key hashes, confidential accommodations, request metadata of events.

Cursors are opaque to clients: the key of ``hiremate.paging`` (or an event
sequence number) as URL-safe base64 of a little JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from bson import ObjectId
from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from hiremate.attempts import IssuedAttempt
from hiremate.ids import as_object_id
from hiremate.models import (
    AttemptStatus,
    BehaviorEvent,
    CandidateInfo,
    Category,
    Consent,
    Difficulty,
    Task,
    TaskAttempt,
)
from hiremate.paging import Key
from hiremate.reviews import RecordedDecision, Review
from hiremate.tasks import TaskInput
from hiremate.timeutil import parse_iso, to_ms

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


# ---------------------------------------------------------------- cursors


def encode_key(key: Key | None) -> str | None:
    if key is None:
        return None
    raw = json.dumps({"t": to_ms(key[0]).isoformat(), "i": str(key[1])}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_key(cursor: str | None) -> Key | None:
    if not cursor:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        oid = as_object_id(raw["i"])
        if oid is None:
            raise ValueError
        return parse_iso(raw["t"]), oid
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None


def encode_seq(seq: int | None) -> str | None:
    return None if seq is None else base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_seq(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s") or not raw[1:].isdigit():
            raise ValueError
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None


def _bad_cursor() -> Exception:
    from fastapi.exceptions import RequestValidationError

    return RequestValidationError(
        [{"loc": ("query", "cursor"), "msg": "not a cursor this API gave out", "type": "value_error"}]
    )


# ---------------------------------------------------------------- me


class Me(BaseModel):
    organization_id: str
    organization_name: str
    key_id: str
    key_name: str
    access: Literal["read", "write"]


# ---------------------------------------------------------------- tasks


class TaskPublic(TaskInput):
    """A task as the organisation authored it (with risk levels and tags: the recruiter's view)."""

    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    id: str
    is_active: bool
    library_key: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, task: Task) -> TaskPublic:
        data = task.model_dump(exclude={"id", "organization_id", "created_by"})
        return cls(id=str(task.id), **data)


# ---------------------------------------------------------------- attempts


class AttemptCreate(BaseModel):
    """A new attempt: the candidate and exactly one of ``task_ids`` (in that
    order), ``sample`` (drawn at random, optionally of ``category`` and
    ``difficulty``) or ``kit_id``."""

    model_config = ConfigDict(extra="forbid")

    candidate: CandidateInfo
    task_ids: list[str] | None = Field(default=None, min_length=1, max_length=50)
    sample: int | None = Field(default=None, ge=1, le=50)
    category: Category | None = None
    difficulty: Difficulty | None = None
    kit_id: str | None = None
    expires_days: int | None = Field(default=None, ge=1, le=365)
    send_email: bool = False


class AttemptPublic(BaseModel):
    id: str
    status: AttemptStatus
    candidate: CandidateInfo
    task_ids: list[str]
    kit_id: str | None
    created_at: datetime
    expires_at: datetime
    start_by: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    locked_at: datetime | None
    locked_reason: str | None
    current_task_index: int
    superseded: bool
    accommodation_requested: bool
    consent: Consent | None

    @classmethod
    def of(cls, attempt: TaskAttempt) -> AttemptPublic:
        return cls(
            id=str(attempt.id),
            status=attempt.status,
            candidate=attempt.candidate_info,
            task_ids=[str(t) for t in attempt.task_ids],
            kit_id=str(attempt.kit_id) if attempt.kit_id else None,
            created_at=attempt.created_at,
            expires_at=attempt.expires_at,
            start_by=attempt.start_by,
            started_at=attempt.started_at,
            completed_at=attempt.completed_at,
            locked_at=attempt.locked_at,
            locked_reason=attempt.locked_reason,
            current_task_index=attempt.current_task_index,
            superseded=attempt.superseded,
            accommodation_requested=attempt.accommodation_request is not None,
            consent=attempt.consent,
        )


class IssuedAttemptPublic(BaseModel):
    """A new attempt with its one-time link: ``token`` and ``link`` are in
    this answer only (only the token's hash is stored)."""

    attempt: AttemptPublic
    token: str
    link: str
    expires_at: datetime
    mail: str | None = None

    @classmethod
    def of(cls, issued: IssuedAttempt, mail: str | None) -> IssuedAttemptPublic:
        return cls(
            attempt=AttemptPublic.of(issued.attempt),
            token=issued.token,
            link=issued.link,
            expires_at=issued.attempt.expires_at,
            mail=mail,
        )


class LockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class EventPublic(BaseModel):
    """A behaviour event as the profile's timeline reads it (no request metadata)."""

    id: str
    sequence_number: int
    task_id: str
    event_type: str
    timestamp: datetime
    event_time: datetime
    client_timestamp: datetime | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, event: BehaviorEvent) -> EventPublic:
        return cls(
            id=str(event.id),
            sequence_number=event.sequence_number,
            task_id=str(event.task_id),
            event_type=str(event.event_type),
            timestamp=event.timestamp,
            event_time=event.event_time,
            client_timestamp=event.client_timestamp,
            payload=event.payload,
        )


class ComputeResult(BaseModel):
    attempt_id: str
    rules: str
    metrics_id: str | None
    profile_id: str | None


# ---------------------------------------------------------------- candidates


class CandidatePublic(BaseModel):
    """A person (one email in the organisation) by their latest attempt."""

    attempt_id: str
    candidate_name: str | None
    candidate_email: str | None
    position: str
    status: str | None
    issued_at: datetime | None
    completed_at: datetime | None
    thinking_style: str | None = None
    decision_speed: str | None = None
    decision_consistency: str | None = None
    risk_orientation: str | None = None
    reasoning_depth: str | None = None
    logical_structure: str | None = None
    review_state: str | None = None
    decision: str | None = None
    attempts: int


class CandidateAttempt(BaseModel):
    attempt_id: str
    position: str
    status: str
    issued_at: datetime | None
    completed_at: datetime | None


class CandidateDetail(BaseModel):
    email: str
    name: str
    attempts: list[CandidateAttempt]


class CompareColumn(BaseModel):
    attempt_id: str
    label: str


class CompareRow(BaseModel):
    metric: str
    values: list[Any]


class Comparison(BaseModel):
    columns: list[CompareColumn]
    rows: list[CompareRow]


# ---------------------------------------------------------------- dashboard


class DashboardStatsPublic(BaseModel):
    active_tasks: int
    attempts_by_status: dict[str, int]
    total_attempts: int
    completed_last_7_days: int
    median_completion_seconds: float | None
    median_sample_size: int


class ActivityPublic(BaseModel):
    kind: str
    at: datetime
    actor: str
    candidate_name: str
    attempt_id: str | None
    detail: str
    text: str


# ---------------------------------------------------------------- reviews


class ReviewStatePublic(BaseModel):
    """Where an attempt's review stands: ``state`` is None until the attempt
    is completed with a profile (only those are reviewed)."""

    attempt_id: str
    state: Literal["awaiting_review", "reviewed"] | None
    decision: RecordedDecision | None
    reviews: list[Review]
    decisions: list[RecordedDecision]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["advance", "hold", "reject"]
    reason: str = Field(min_length=1, max_length=2000)
    seen_at: datetime | None = None


def object_id_or_404(value: str, what: str) -> ObjectId:
    """Malformed ids answer 404 like ids of other organisations (nothing to tell apart)."""
    oid = as_object_id(value)
    if oid is None:
        raise HTTPException(404, f"No {what} {value[:64]!r} in your organisation.")
    return oid
