"""Dashboard numbers and the recent-activity feed, as the Dashboard page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ScopeDep
from api.schemas import ActivityPublic, DashboardStatsPublic
from hiremate import dashboard

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("/stats", summary="Headline counts")
def stats(scope: ScopeDep) -> DashboardStatsPublic:
    found = dashboard.dashboard_stats(scope)
    return DashboardStatsPublic(
        active_tasks=found.active_tasks,
        attempts_by_status=found.attempts_by_status,
        total_attempts=found.total_attempts,
        completed_last_7_days=found.completed_last_7_days,
        median_completion_seconds=found.median_completion_seconds,
        median_sample_size=found.median_sample_size,
    )


@router.get("/activity", summary="Recent activity, newest first")
def activity(
    scope: ScopeDep, limit: Annotated[int, Query(ge=1, le=dashboard.MAX_ACTIVITY)] = 20
) -> list[ActivityPublic]:
    return [
        ActivityPublic(
            kind=item.kind,
            at=item.at,
            actor=item.actor,
            candidate_name=item.candidate_name,
            attempt_id=item.attempt_id,
            detail=item.detail,
            text=item.text,
        )
        for item in dashboard.recent_activity(scope, limit)
    ]
