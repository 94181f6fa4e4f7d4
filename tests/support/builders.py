"""Documents built in memory for the pure rules' tests (events, metrics,
skills): one builder each, so a new required field is added once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from hiremate.models import AttemptStatus, CandidateInfo, Task, TaskAttempt


def make_attempt(
    tasks: list[Task],
    *,
    issued_at: datetime,
    status: AttemptStatus = AttemptStatus.COMPLETED,
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
) -> TaskAttempt:
    """An attempt over ``tasks`` (snapshotted), issued at ``issued_at`` with
    the default seven days to run."""
    return TaskAttempt(
        id=ObjectId(),
        token_hash="h",
        candidate_info=CandidateInfo(name="Ada", email="ada@example.com"),
        task_ids=[task.id for task in tasks],
        task_snapshots=tasks,
        status=status,
        started_at=started_at,
        completed_at=completed_at,
        expires_at=issued_at + timedelta(days=7),
        created_at=issued_at,
        updated_at=issued_at,
    )


def start_attempt(db: Any, attempt: TaskAttempt, **kwargs: Any) -> tuple[TaskAttempt, str]:
    """``attempts.start`` as a candidate who acknowledged the notice they were shown."""
    from hiremate import attempts
    from hiremate.organizations import notice_for

    return attempts.start(db, attempt, notice_for(db, attempt.organization_id).version, **kwargs)
