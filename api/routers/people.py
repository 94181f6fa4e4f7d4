"""Candidates (people first: each person by their latest attempt), one
candidate by email, and comparing attempts side by side."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from api.deps import ScopeDep
from api.schemas import (
    MAX_LIMIT,
    CandidateAttempt,
    CandidateDetail,
    CandidatePublic,
    CompareColumn,
    CompareRow,
    Comparison,
    Page,
    decode_key,
    encode_key,
)
from hiremate.errors import ReportError
from hiremate.reports import candidates, compare

router = APIRouter(tags=["candidates"])


@router.get("/candidates", summary="Candidates as people, newest issued first, by cursor")
def list_candidates(
    scope: ScopeDep,
    position: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 25,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Page[CandidatePublic]:
    rows, next_key = candidates.people_page(scope, position=position, after=decode_key(cursor), limit=limit)
    return Page[CandidatePublic](items=[CandidatePublic(**row) for row in rows], next_cursor=encode_key(next_key))


@router.get("/candidates/{email}", summary="One candidate by email, with their attempts (newest first)")
def get_candidate(scope: ScopeDep, email: str) -> CandidateDetail:
    found = candidates.attempts_for_email(scope, email)
    if not found:
        raise HTTPException(404, "No candidate with this email in your organisation.")
    return CandidateDetail(
        email=found[0].candidate_email,
        name=found[0].candidate_name,
        attempts=[
            CandidateAttempt(
                attempt_id=a.attempt_id,
                position=a.position,
                status=a.status,
                issued_at=a.issued_at,
                completed_at=a.completed_at,
            )
            for a in found
        ],
    )


def _plain(value: Any) -> Any:
    """A comparison cell as JSON: numbers, text or null (never NaN)."""
    if value is None:
        return None
    if hasattr(value, "item"):  # a NumPy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, str | int | float | bool) else str(value)


@router.get("/compare", summary="Compare 2 to 5 completed attempts side by side")
def compare_attempts(
    scope: ScopeDep,
    attempts: Annotated[str, Query(description="2 to 5 attempt ids, comma-separated")],
) -> Comparison:
    ids = [part.strip() for part in attempts.split(",") if part.strip()]
    try:
        frame = compare.compare_frame(scope, ids)
    except ReportError as exc:
        if str(exc).startswith("not a completed attempt of your organisation"):
            raise HTTPException(404, str(exc)) from None
        raise
    columns = [CompareColumn(attempt_id=oid, label=str(label)) for oid, label in zip(ids, frame.columns, strict=False)]
    rows = [CompareRow(metric=str(metric), values=[_plain(v) for v in frame.loc[metric]]) for metric in frame.index]
    return Comparison(columns=columns, rows=rows)
