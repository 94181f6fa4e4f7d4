"""What the candidate is told about their own attempt, in one place.

The candidate page reads it twice: rendered into ``GET /a/<token>`` (before
any socket) and in the socket's ``assessment_info``; both are built here, so
they can never disagree (docs/protocol.md "Page state" and
"assessment_info"). Nothing here is about other candidates, and an
accommodation's free-text note (written by a recruiter) is never included.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo.database import Database

from hiremate import self_id
from hiremate.models import TaskAttempt
from hiremate.organizations import notice_for
from hiremate.settings import get_settings
from hiremate.timeutil import iso

__all__ = ["facts", "replaced_facts"]


def facts(db: Database, attempt: TaskAttempt) -> dict[str, Any]:
    """The notice, the candidate's own accommodations and deadlines, and their pending request."""
    grace = get_settings().in_progress_grace_hours
    started = attempt.started_at is not None
    finish_by = attempt.expires_at if started else attempt.expires_at + timedelta(hours=grace)
    accommodations = attempt.accommodations
    request = attempt.accommodation_request
    return {
        "notice": notice_for(db, attempt.organization_id).public(),
        "accommodations": None
        if accommodations is None
        else {
            "time_multiplier": accommodations.time_multiplier,
            "untimed": accommodations.untimed,
            "assistive_technology": accommodations.assistive_technology,
        },
        "start_by": iso(attempt.start_by or attempt.expires_at),
        "finish_by": iso(finish_by),
        "grace_hours": grace,
        "accommodation_request": None if request is None else {"requested_at": iso(request.requested_at)},
        # protocol 1.3: the thank-you screen offers the voluntary questions (hiremate.self_id)
        "self_identification": self_id.enabled(db, attempt.organization_id),
    }


def replaced_facts(db: Database, attempt: TaskAttempt) -> dict[str, Any]:
    """For a link a re-issue replaced: only who to contact, nothing about the candidate."""
    return {"notice": notice_for(db, attempt.organization_id).public()}
