"""Attempts: issue (the link once), list by cursor, get, lock; their events,
metrics and skill profile, and computing them; their review state and decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError

from api.deps import ScopeDep, WriteScopeDep
from api.schemas import (
    MAX_LIMIT,
    AttemptCreate,
    AttemptPublic,
    ComputeResult,
    DecisionRequest,
    EventPublic,
    IssuedAttemptPublic,
    LockRequest,
    Page,
    ReviewStatePublic,
    decode_key,
    decode_seq,
    encode_key,
    encode_seq,
    object_id_or_404,
)
from hiremate import attempts, events, kits, mail, profiles, reviews
from hiremate.errors import AttemptError
from hiremate.models import AttemptStatus, ComputedMetrics, SkillProfile, TaskAttempt
from hiremate.scope import Scope

router = APIRouter(prefix="/attempts", tags=["attempts"])

CursorQuery = Annotated[str | None, Query(description="`next_cursor` of the previous page; none for the first")]


def attempt_or_404(scope: Scope, attempt_id: str) -> TaskAttempt:
    attempt = attempts.get_attempt(scope, object_id_or_404(attempt_id, "attempt"))
    if attempt is None:
        raise HTTPException(404, f"No attempt {attempt_id!r} in your organisation.")
    return attempt


@router.post("", status_code=status.HTTP_201_CREATED, summary="Issue an attempt; the answer holds its link once")
def create_attempt(scope: WriteScopeDep, body: AttemptCreate) -> IssuedAttemptPublic:
    chosen = sum(x is not None for x in (body.task_ids, body.sample, body.kit_id))
    if chosen != 1:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "give exactly one of task_ids, sample or kit_id", "type": "value_error"}]
        )
    if body.send_email and not mail.is_configured():
        raise AttemptError(mail.NOT_CONFIGURED.replace("copy the link and send it yourself", "leave out send_email"))
    source = None
    if body.kit_id is not None:
        kit = kits.get_kit(scope, object_id_or_404(body.kit_id, "kit"))
        if kit is None:
            raise HTTPException(404, f"No kit {body.kit_id!r} in your organisation.")
        source = kits.task_source(scope, kit)
    task_ids = None
    if body.task_ids is not None:
        task_ids = [object_id_or_404(task_id, "task") for task_id in body.task_ids]
    issued = attempts.issue_attempt(
        scope,
        candidate=body.candidate,
        task_ids=task_ids,
        sample=body.sample,
        category=body.category,
        difficulty=body.difficulty,
        source=source,
        expires_days=body.expires_days,
    )
    sent = None
    if body.send_email:
        mail.queue_invitation(scope, issued.attempt, issued.link)
        sent = mail.QUEUED
    return IssuedAttemptPublic.of(issued, sent)


@router.get("", summary="List attempts, newest issued first, by cursor")
def list_attempts(
    scope: ScopeDep,
    status: AttemptStatus | None = None,
    position: str | None = None,
    email: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 25,
    cursor: CursorQuery = None,
) -> Page[AttemptPublic]:
    found, next_key = attempts.page_attempts(
        scope, status=status, position=position, email=email, after=decode_key(cursor), limit=limit
    )
    return Page[AttemptPublic](items=[AttemptPublic.of(a) for a in found], next_cursor=encode_key(next_key))


@router.get("/{attempt_id}", summary="Get an attempt")
def get_attempt(scope: ScopeDep, attempt_id: str) -> AttemptPublic:
    return AttemptPublic.of(attempt_or_404(scope, attempt_id))


@router.post("/{attempt_id}/lock", summary="Lock a pending or running attempt for good")
def lock_attempt(scope: WriteScopeDep, attempt_id: str, body: LockRequest) -> AttemptPublic:
    current = attempt_or_404(scope, attempt_id)
    return AttemptPublic.of(attempts.lock_attempt(scope, current.id, body.reason))


@router.get("/{attempt_id}/events", summary="An attempt's behaviour events in order, by cursor")
def list_events(
    scope: ScopeDep,
    attempt_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: CursorQuery = None,
) -> Page[EventPublic]:
    current = attempt_or_404(scope, attempt_id)
    found, next_seq = events.page_events(scope.db, current.id, after_seq=decode_seq(cursor), limit=limit)
    return Page[EventPublic](items=[EventPublic.of(e) for e in found], next_cursor=encode_seq(next_seq))


def _results(scope: Scope, attempt_id: str) -> tuple[ComputedMetrics | None, SkillProfile | None]:
    try:
        return profiles.stored_results(scope, object_id_or_404(attempt_id, "attempt"))
    except LookupError:
        raise HTTPException(404, f"No attempt {attempt_id!r} in your organisation.") from None


@router.get(
    "/{attempt_id}/metrics",
    response_model=ComputedMetrics,
    response_model_by_alias=False,
    summary="An attempt's computed metrics",
)
def get_metrics(scope: ScopeDep, attempt_id: str) -> ComputedMetrics:
    metrics, _ = _results(scope, attempt_id)
    if metrics is None:
        raise HTTPException(404, "No metrics yet: the attempt has not ended, or compute them first.")
    return metrics


@router.get(
    "/{attempt_id}/skills",
    response_model=SkillProfile,
    response_model_by_alias=False,
    summary="An attempt's skill profile",
)
def get_skills(scope: ScopeDep, attempt_id: str) -> SkillProfile:
    _, profile = _results(scope, attempt_id)
    if profile is None:
        raise HTTPException(404, "No skill profile yet: the attempt has not ended, or compute it first.")
    return profile


@router.post(
    "/{attempt_id}/metrics/compute", summary="Compute (or recompute) metrics and profile from the stored events"
)
def compute_metrics(scope: WriteScopeDep, attempt_id: str) -> ComputeResult:
    try:
        computed = profiles.recompute(scope, object_id_or_404(attempt_id, "attempt"))
    except LookupError:
        raise HTTPException(404, f"No attempt {attempt_id!r} in your organisation.") from None
    if computed is None:
        raise AttemptError("this attempt has not ended after starting: nothing to compute yet")
    metrics, profile = computed
    return ComputeResult(
        attempt_id=attempt_id,
        rules=profile.version,
        metrics_id=str(metrics.id) if metrics.id else None,
        profile_id=str(profile.id) if profile.id else None,
    )


@router.get("/{attempt_id}/review", summary="Where the attempt's review stands")
def get_review(scope: ScopeDep, attempt_id: str) -> ReviewStatePublic:
    current = attempt_or_404(scope, attempt_id)
    recorded = reviews.get_review(scope, current.id)
    summary = reviews.summaries(scope, [current.id]).get(current.id)
    _, profile = profiles.stored_results(scope, current.id)
    reviewable = current.status == AttemptStatus.COMPLETED and profile is not None
    state = (summary.state.value if summary else reviews.ReviewState.AWAITING.value) if reviewable else None
    return ReviewStatePublic(
        attempt_id=str(current.id),
        state=state,
        decision=recorded.decision if recorded else None,
        reviews=recorded.latest_reviews() if recorded else [],
        decisions=recorded.decisions if recorded else [],
    )


@router.post("/{attempt_id}/review/decision", summary="Record the hiring decision (refused: see the guide)")
def record_decision(scope: WriteScopeDep, attempt_id: str, body: DecisionRequest) -> ReviewStatePublic:
    current = attempt_or_404(scope, attempt_id)
    reviews.record_decision(scope, current.id, body.decision, body.reason, seen_at=body.seen_at)
    return get_review(scope, attempt_id)
