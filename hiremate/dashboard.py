"""The recruiter dashboard: headline counts and a recent-activity feed.

The numbers come from the organisation's attempt counters
(``hiremate.attempt_counts``: counts by status, completions per UTC day and a
histogram of completion durations in whole seconds), so they cost a handful of
small documents however many attempts there are; the feed reads at most
``limit`` documents per source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from hiremate import api_keys, attempt_counts
from hiremate import db as dbmod
from hiremate.ids import as_object_id
from hiremate.models import AttemptStatus
from hiremate.scope import VIA_CLI, Scope
from hiremate.timeutil import utcnow
from hiremate.windowed import newest_first

RECENT_DAYS = 7
MAX_ACTIVITY = 100
_ONE_HOUR = timedelta(hours=1)

# Audit actions (written by hiremate.attempts) -> the feed's kind of item.
_AUDITED_KINDS = {
    "attempt.issued": "issued",
    "attempt.link_reissued": "reissued",
    "attempt.locked": "locked",
}
COMMAND_LINE = "The command line"  # the actor of what `python -m hiremate` did
API_KEY_ACTOR = "API key {name}"  # the actor of what a key did through the REST API (hiremate.api_keys)
# What the candidate does is read from the attempt's own timestamps.
_COMPLETED = AttemptStatus.COMPLETED.value


@dataclass(frozen=True)
class DashboardStats:
    active_tasks: int
    attempts_by_status: dict[str, int]  # every status, in life-cycle order, zeros included
    completed_last_7_days: int  # exact: completed_at >= now - 7 days
    # Median of completed_at - started_at over every completed attempt, to the
    # second: durations are counted rounded to whole seconds, so it is within
    # half a second of the exact one (x.5 when the middle two differ). None
    # when none.
    median_completion_seconds: float | None
    median_sample_size: int

    @property
    def total_attempts(self) -> int:
        return sum(self.attempts_by_status.values())


@dataclass(frozen=True)
class ActivityItem:
    kind: str  # issued, reissued, locked (a recruiter did it); started, completed (the candidate did)
    at: datetime
    actor: str  # the recruiter's name, COMMAND_LINE, or the candidate's
    candidate_name: str
    attempt_id: str | None
    detail: str = ""  # a lock's reason

    @property
    def text(self) -> str:
        """One neutral sentence, for the feed."""
        candidate = self.candidate_name or "a candidate"
        match self.kind:
            case "issued":
                return f"{self.actor} issued an assessment to {candidate}"
            case "reissued":
                return f"{self.actor} re-issued the assessment link of {candidate}"
            case "locked":
                reason = f" ({self.detail})" if self.detail else ""
                return f"{self.actor} locked the assessment of {candidate}{reason}"
            case "started":
                return f"{candidate} started the assessment"
            case "completed":
                return f"{candidate} completed the assessment"
        return f"{self.actor}: {self.kind}"


# ---------------------------------------------------------------- stats


def dashboard_stats(scope: Scope, *, now: datetime | None = None) -> DashboardStats:
    """The organisation's headline numbers; ``now`` anchors "the last 7 days".

    From the counters: statuses, the completion days after the first of the
    seven-day window (that partial first day is counted from its attempts)
    and the durations histogram; reading them costs the same at 10,000
    attempts as at 1,000.
    """
    now = now or utcnow()
    db, org = scope.db, scope.organization_id
    median, sample_size = attempt_counts.median_seconds(attempt_counts.duration_histogram(db, org))
    return DashboardStats(
        active_tasks=scope.collection(dbmod.TASKS).count_documents(scope.where({"is_active": True})),
        attempts_by_status=attempt_counts.by_status(db, org),
        completed_last_7_days=attempt_counts.completed_since(db, org, now - timedelta(days=RECENT_DAYS)),
        median_completion_seconds=median,
        median_sample_size=sample_size,
    )


# ---------------------------------------------------------------- activity


def recent_activity(scope: Scope, limit: int = 20) -> list[ActivityItem]:
    """Issued, re-issued, locked, started and completed assessments, newest
    first. Each source reads at most ``limit`` documents; names are resolved
    with one query for recruiters and one for candidates."""
    limit = max(1, min(limit, MAX_ACTIVITY))
    audited = _recent_audit_entries(scope, limit)
    # The hour counters tell how far back ``limit`` completions go; starts are
    # an hour ahead of most completions, and any that are not just take a wider window.
    span = attempt_counts.recent_completions(scope.db, scope.organization_id, now=utcnow()).span(limit)
    started_span = None if span is None else span + _ONE_HOUR
    started = _recent_attempts(scope, {}, "started_at", limit, dates_only=True, first_span=started_span)
    completed = _recent_attempts(scope, {"status": _COMPLETED}, "completed_at", limit, first_span=span)
    recruiters = _user_names(scope, {entry["actor_id"] for entry in audited if entry.get("actor_id")})
    recruiters |= _key_names(scope, audited)
    candidates = _candidates(scope, {as_object_id(entry.get("target_id")) for entry in audited} - {None})
    items = [_audited_item(entry, recruiters, candidates) for entry in audited]
    items += [_candidate_item("started", doc, doc["started_at"]) for doc in started]
    items += [_candidate_item("completed", doc, doc["completed_at"]) for doc in completed]
    items.sort(key=lambda item: (item.at, item.attempt_id or "", item.kind), reverse=True)
    return items[:limit]


def _recent_audit_entries(scope: Scope, limit: int) -> list[dict[str, Any]]:
    query = scope.where({"action": {"$in": list(_AUDITED_KINDS)}})
    cursor = scope.collection(dbmod.AUDIT_LOG).find(query).sort([("at", -1), ("_id", -1)]).limit(limit)
    return list(cursor)


def _recent_attempts(
    scope: Scope,
    query: dict[str, Any],
    field: str,
    limit: int,
    *,
    dates_only: bool = False,
    first_span: timedelta | None = None,
) -> list[dict[str, Any]]:
    projection = {"candidate_info.name": 1, field: 1}
    collection = scope.collection(dbmod.ATTEMPTS)
    return newest_first(
        collection,
        scope.where(query),
        field,
        projection=projection,
        limit=limit,
        dates_only=dates_only,
        first_span=first_span,
    )


def _user_names(scope: Scope, user_ids: set[ObjectId]) -> dict[ObjectId, str]:
    if not user_ids:
        return {}
    cursor = (
        scope.collection(dbmod.USERS)
        .find(scope.where({"_id": {"$in": sorted(user_ids)}}), {"full_name": 1, "email": 1})
        .sort("_id", 1)
        .limit(len(user_ids))
    )
    return {doc["_id"]: doc.get("full_name") or doc.get("email") or "" for doc in cursor}


def _candidates(scope: Scope, attempt_ids: set[ObjectId]) -> dict[ObjectId, dict[str, Any]]:
    """The attempts the feed's entries name: their candidate's name and lock
    reason (free text lives on the attempt, never in the audit log)."""
    if not attempt_ids:
        return {}
    # By ``_id`` alone, the organisation checked here: given both, the store
    # reads every attempt of the organisation instead of these few.
    cursor = (
        scope.collection(dbmod.ATTEMPTS)
        .find(
            {"_id": {"$in": sorted(attempt_ids)}},
            {"candidate_info.name": 1, "locked_reason": 1, "organization_id": 1},
        )
        .sort("_id", 1)
        .limit(len(attempt_ids))
    )
    return {doc["_id"]: doc for doc in cursor if doc.get("organization_id") == scope.organization_id}


def _audited_item(
    entry: dict[str, Any], recruiters: dict[ObjectId, str], candidates: dict[ObjectId, dict[str, Any]]
) -> ActivityItem:
    attempt_id = as_object_id(entry.get("target_id"))
    attempt = candidates.get(attempt_id, {}) if attempt_id else {}
    # Entries written before reasons left the log still carry one.
    reason = attempt.get("locked_reason") or (entry.get("details") or {}).get("reason")
    return ActivityItem(
        kind=_AUDITED_KINDS[entry["action"]],
        at=entry["at"],
        actor=_actor(entry, recruiters),
        candidate_name=(attempt.get("candidate_info") or {}).get("name", ""),
        attempt_id=str(attempt_id) if attempt_id else None,
        detail=str(reason or "") if entry["action"] == "attempt.locked" else "",
    )


def actor_names(scope: Scope, entries: list[dict[str, Any]]) -> list[str]:
    """Who did each audit entry, by the feed's rule (``_actor``), with one query for the names."""
    recruiters = _user_names(scope, {entry["actor_id"] for entry in entries if entry.get("actor_id")})
    recruiters |= _key_names(scope, entries)
    return [_actor(entry, recruiters) for entry in entries]


def _key_names(scope: Scope, entries: list[dict[str, Any]]) -> dict[ObjectId, str]:
    """Key id -> "API key <name>" for the entries a key's request wrote."""
    key_ids = {api_keys.key_id_of_via((entry.get("details") or {}).get("via")) for entry in entries} - {None}
    found = api_keys.names(scope.db, scope.organization_id, key_ids)  # type: ignore[arg-type]
    return {key_id: API_KEY_ACTOR.format(name=found.get(key_id) or "(deleted)") for key_id in key_ids}


def _actor(entry: dict[str, Any], recruiters: dict[ObjectId, str]) -> str:
    """Who did it: the recruiter's name; the command line (``python -m
    hiremate``, which acts as no user: ``via: "cli"``, and before that was
    recorded, no actor at all, since nothing else acts without a user); or a
    user no longer in the organisation."""
    actor_id = entry.get("actor_id")
    via = (entry.get("details") or {}).get("via")
    key_id = api_keys.key_id_of_via(via)
    if key_id is not None:
        return recruiters.get(key_id) or API_KEY_ACTOR.format(name="(deleted)")
    if actor_id is None or via == VIA_CLI:
        return COMMAND_LINE
    return recruiters.get(actor_id, "") or "A former team member"


def _candidate_item(kind: str, attempt: dict[str, Any], at: datetime) -> ActivityItem:
    name = (attempt.get("candidate_info") or {}).get("name", "")
    return ActivityItem(kind=kind, at=at, actor=name, candidate_name=name, attempt_id=str(attempt["_id"]))
