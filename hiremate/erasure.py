"""The data life cycle of candidates: erasure, access, retention.

**The one deletion path.** ``erase_attempts`` is the only code that deletes
a candidate's data: an attempt with its ``behavior_events``, its
``computed_metrics``, its ``skill_profiles``, its ``norm_points`` and its
``profile_reviews`` and ``self_identifications`` (both keyed by the
attempt's id), and it takes the attempt
off the organisation's counters (``hiremate.attempt_counts``) and its norm
points off the norms' histograms (``hiremate.norms.forget``) so the pages
stay right. ``erase_candidate`` (an admin's or the command line's erasure
of one person, GDPR Art. 17) and ``purge`` (retention) both go through it.
Outside it, ``behavior_events`` is never updated or deleted.

The attempt is deleted first, one compare-free ``find_one_and_delete`` at a
time, so its counters are adjusted by exactly the document removed and
nothing more can be recorded for it (the ingest writer refuses events of an
attempt that is no longer in progress, and profiling reads the attempt);
what it owned is then deleted twice over, the second pass catching a write
that was in flight during the first.

**What the audit log keeps.** One entry per erasure (``candidate.erased``)
and one per purge and organisation (``retention.purged``), with counts
only: never the email, the name or the attempts' ids. The receipt an
erasure returns is shown (printed, downloaded) and never stored.

**Access** (GDPR Art. 15, EU AI Act Art. 86): ``export_candidate`` gathers
everything stored about one email in one organisation as one JSON document,
with a plain-language explanation the organisation can send the person.

**Retention**: ``purge`` erases attempts whose last activity
(``completed_at``, else ``updated_at``, else ``created_at``) is older than
the organisation's ``retention_days`` (never less than 183 days for an
attempt with events: EU AI Act Art. 26(6) keeps logs six months), and
removes sessions that can no longer be used, the login throttle's entries
it has itself forgotten, and invitations expired, accepted or withdrawn
more than 30 days ago, emails to colleagues sent or failed more than 30
days ago (a candidate's emails belong to their attempt), and webhook
deliveries delivered or failed more than 30 days ago (those of an attempt
also go with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bson import ObjectId
from pymongo.database import Database

from hiremate import attempt_counts, mail, norms, people, self_id, throttle, webhooks
from hiremate import db as dbmod
from hiremate.emails import normalise
from hiremate.errors import ErasureError
from hiremate.models import AttemptStatus, Organization
from hiremate.scope import VIA_CLI, Scope, audit
from hiremate.timeutil import iso, to_ms, utcnow

__all__ = [
    "ERASED",
    "EXPORTED",
    "MIN_EVENT_RETENTION_DAYS",
    "PURGED",
    "VIA_RETENTION",
    "CandidateExport",
    "OrganizationPurge",
    "PurgeReport",
    "Receipt",
    "erase_attempts",
    "erase_candidate",
    "export_candidate",
    "purge",
]

ERASED = "candidate.erased"
EXPORTED = "candidate.exported"
PURGED = "retention.purged"
VIA_RETENTION = "retention"  # the purge's scope: no user acts
MIN_EVENT_RETENTION_DAYS = 183  # events are kept at least six months (EU AI Act Art. 26(6))
HOUSEKEEPING_DAYS = 30  # invitations expired, accepted or withdrawn this long ago are removed
BATCH = 500

# What an attempt owns, and the field that names the attempt in each.
OWNED_BY_ATTEMPT: dict[str, str] = {
    dbmod.EVENTS: "attempt_id",
    dbmod.METRICS: "attempt_id",
    dbmod.PROFILES: "attempt_id",
    dbmod.NORM_POINTS: "attempt_id",
    dbmod.REVIEWS: "_id",
    dbmod.SELF_IDS: "_id",
    dbmod.MAIL_OUTBOX: "attempt_id",
    dbmod.WEBHOOK_DELIVERIES: "attempt_id",
    dbmod.GREENHOUSE_TESTS: "_id",
}
ERASED_COLLECTIONS = (dbmod.ATTEMPTS, *OWNED_BY_ATTEMPT)

WHAT_IS_ERASED = (
    "the assessment attempts (the candidate's name, email, phone, position, resume link, "
    "accommodations and requests for them, consent)",
    "every behaviour event recorded during them",
    "the metrics computed from those events",
    "the observation profiles",
    "the norm points derived from them",
    "people's reviews of those profiles and the decisions recorded",
    "the voluntary self-identification (sex, race/ethnicity), if any was given",
    "the emails about those assessments (sent, queued or failed) and their state",
    "the webhook notices about those assessments (ids, states and links) and their delivery log",
    "for assessments sent from Greenhouse, the address Greenhouse gave to tell it of the completion",
)

_OPEN = (AttemptStatus.PENDING.value, AttemptStatus.IN_PROGRESS.value)
# What a candidate's access export leaves out of an attempt: hashes of secrets, the tasks' full text.
_NOT_EXPORTED = {"token_hash", "session_key_hash", "replaced_token_hashes", "task_snapshots"}


# ---------------------------------------------------------------- the one deletion path


def erase_attempts(
    scope: Scope, attempt_ids: Iterable[ObjectId], *, action: str | None = ERASED, **details: Any
) -> dict[str, int]:
    """Delete these attempts of the scope's organisation and everything they
    own; returns the documents removed per collection.

    The one deletion path for candidates' data (see the module docstring):
    erasure and retention both call it. ``behavior_events`` is otherwise
    never updated or deleted. Ids of another organisation's attempts (or of
    none) are skipped, and nothing they own is touched. With ``action``, one
    audit entry with the counts (and ``details``) is written; the purge
    passes None and writes its own per organisation.
    """
    db, organization_id = scope.db, scope.organization_id
    removed = dict.fromkeys(ERASED_COLLECTIONS, 0)
    owned: list[ObjectId] = []
    erased_people: list[str] = []  # their newest remaining attempt stands for them now
    for attempt_id in dict.fromkeys(attempt_ids):  # unique, in order
        doc = db[dbmod.ATTEMPTS].find_one_and_delete({"_id": attempt_id, "organization_id": organization_id})
        if doc is None:
            continue
        attempt_counts.record_transition(db, doc, None)
        owned.append(attempt_id)
        removed[dbmod.ATTEMPTS] += 1
        erased_people.append((doc.get("candidate_info") or {}).get("email"))
    for _ in range(2):  # the second pass: what a write in flight stored meanwhile
        for first in range(0, len(owned), BATCH):
            batch = owned[first : first + BATCH]
            for collection, key in OWNED_BY_ATTEMPT.items():
                if collection == dbmod.NORM_POINTS:  # taken off the norms' histograms as they go
                    removed[collection] += norms.forget(db, batch)
                else:
                    removed[collection] += db[collection].delete_many({key: {"$in": batch}}).deleted_count
    people.settle(db, organization_id, erased_people)
    if action is not None:
        scope.audit(action, "organization", organization_id, removed=removed, **details)
    return removed


# ---------------------------------------------------------------- erasure of one person


@dataclass(frozen=True)
class Receipt:
    """What an erasure removed, when and by whom: shown and offered for
    download, never stored (it names no person; its ids point at nothing now)."""

    organization_id: ObjectId
    organization: str
    attempt_ids: list[ObjectId]
    removed: dict[str, int]
    at: datetime
    by: str  # a user's id, "command line" or "retention purge"

    def as_json(self) -> dict[str, Any]:
        return {
            "receipt": "erasure",
            "organization_id": str(self.organization_id),
            "organization": self.organization,
            "what": list(WHAT_IS_ERASED),
            "attempts": [str(attempt_id) for attempt_id in self.attempt_ids],
            "removed": dict(self.removed),
            "at": iso(self.at),
            "by": self.by,
        }


def actor_of(scope: Scope) -> str:
    """Who acts in a scope, as a receipt says it."""
    if scope.user_id is not None:
        return str(scope.user_id)
    return {VIA_CLI: "command line", VIA_RETENTION: "retention purge"}.get(scope.via or "", "unknown")


def erase_candidate(scope: Scope, email: str, *, confirmation: str | None = None) -> Receipt:
    """Erase every attempt of ``email`` in the scope's organisation, with
    everything they own (``erase_attempts``); admins and the command line only.

    ``confirmation``, when given (the app's typed confirmation), must be the
    same address. ErasureError when it is not, or when no attempt of that
    email is stored there. Audited once (``candidate.erased``) with counts only."""
    _require_admin(scope)
    if confirmation is not None and normalise(confirmation) != normalise(email):
        raise ErasureError("Type the candidate's email again, exactly, to confirm the erasure.")
    attempt_ids = _attempt_ids_of(scope, email)
    at = utcnow()
    removed = erase_attempts(scope, attempt_ids, action=ERASED)
    return Receipt(
        organization_id=scope.organization_id,
        organization=_organization_label(scope),
        attempt_ids=attempt_ids,
        removed=removed,
        at=at,
        by=actor_of(scope),
    )


# ---------------------------------------------------------------- access


@dataclass(frozen=True)
class CandidateExport:
    """Everything stored about one person in one organisation (``document``,
    JSON-ready) and the plain-language ``explanation`` (also in the document)."""

    document: dict[str, Any]
    explanation: str


def export_candidate(scope: Scope, email: str) -> CandidateExport:
    """An access request: the person's attempts (candidate details,
    accommodations and requests, consent), events, metrics, profiles and
    reviews, self-identification, and an explanation the organisation can send them. Admins and
    the command line only; audited (``candidate.exported``) with counts only."""
    _require_admin(scope)
    attempt_ids = _attempt_ids_of(scope, email)
    db = scope.db
    attempts_out = []
    explained = []
    totals = {"attempts": 0, "events": 0}
    for attempt_id in attempt_ids:
        doc = db[dbmod.ATTEMPTS].find_one(scope.where({"_id": attempt_id}))
        if doc is None:
            continue
        events = list(db[dbmod.EVENTS].find({"attempt_id": attempt_id}).sort("sequence_number", 1))
        metrics = db[dbmod.METRICS].find_one({"attempt_id": attempt_id})
        profile = db[dbmod.PROFILES].find_one({"attempt_id": attempt_id})
        review = db[dbmod.REVIEWS].find_one(scope.where({"_id": attempt_id}))
        [self_identification] = self_id.for_attempts(scope, [attempt_id]) or [None]
        tasks = [{"task_id": t.get("_id"), "title": t.get("title")} for t in doc.get("task_snapshots") or []]
        attempts_out.append(
            _plain(
                {
                    "attempt": {k: v for k, v in doc.items() if k not in _NOT_EXPORTED},
                    "tasks": tasks,
                    "events": events,
                    "metrics": metrics,
                    "profile": profile,
                    "review": review,
                    "self_identification": self_identification,
                    # Recipients (GDPR Art. 15(1)(c)): the notices sent about it and to which hosts.
                    "webhook_notices": webhooks.notices_of(db, scope.organization_id, attempt_id),
                }
            )
        )
        explained.append(_explain(doc, tasks, events, profile, review, self_identification))
        totals["attempts"] += 1
        totals["events"] += len(events)
    organization = _organization_label(scope)
    explanation = _introduction(organization) + "\n\n".join(explained)
    document = {
        "export": "candidate data (access request)",
        "organization": organization,
        "email": normalise(email),
        "exported_at": iso(utcnow()),
        "attempts": attempts_out,
        "explanation": explanation,
    }
    scope.audit(EXPORTED, "organization", scope.organization_id, **totals)
    return CandidateExport(document, explanation)


_OBSERVED = (
    "when each task started; which options you looked at and for how long; the option you chose and any "
    "change of option; when you started writing your explanation, how long it grew and its final text; "
    "pauses without any activity; and when the page lost or regained focus"
)


def _introduction(organization: str) -> str:
    return (
        f"What {organization} holds about you from HireMate assessments, and how it was used.\n\n"
        "HireMate observes how a candidate works through short scenario tasks. Fixed, published rules turn "
        "those observations into figures and then into a description on four dimensions (thinking style, "
        "decision pattern, risk orientation, communication style). The description is not a score and has "
        "no right answers; recruiters read it, and a person reviews it before it is used.\n\n"
    )


def _explain(
    attempt: Mapping[str, Any],
    tasks: list[dict[str, Any]],
    events: list[Mapping[str, Any]],
    profile: Mapping[str, Any] | None,
    review: Mapping[str, Any] | None,
    self_identification: Mapping[str, Any] | None = None,
) -> str:
    info = attempt.get("candidate_info") or {}
    lines = [f"Assessment for {info.get('position') or 'a position'} (reference {attempt['_id']})"]
    lines.append(f"Issued {_day(attempt.get('created_at'))}; status: {attempt.get('status')}.")
    if attempt.get("started_at"):
        finished = f", finished {_day(attempt['completed_at'])}" if attempt.get("completed_at") else ""
        lines.append(f"Started {_day(attempt['started_at'])}{finished}.")
    consent = attempt.get("consent")
    if consent:
        lines.append(
            f"You acknowledged the notice (version {consent.get('notice_version')}) on {_day(consent.get('at'))}; "
            "nothing was recorded before that."
        )
    if attempt.get("accommodations"):
        lines.append("Accommodations were granted for this assessment (their details are in the data).")
    if attempt.get("accommodation_request"):
        lines.append("You asked for an accommodation or an alternative (your request is in the data).")
    if self_identification:
        lines.append(
            "You answered the voluntary self-identification questions (your answers are in the data). They are "
            "kept apart, never shown with your profile, and used only in counts per group to check that the "
            "assessment treats groups alike."
        )
    titles = ", ".join(str(t.get("title")) for t in tasks) or "none"
    lines.append(f"Tasks: {titles}.")
    if events:
        lines.append(f"What was observed: {len(events)} events, recording {_OBSERVED}.")
    else:
        lines.append("What was observed: nothing (the assessment was not started).")
    if profile is None:
        lines.append("No profile was produced from this assessment.")
    else:
        lines.append(
            f"Your profile was produced on {_day(profile.get('generated_at'))} by HireMate's metric rules, "
            f"version {profile.get('version')} (docs/metrics.md names every rule of that version)."
        )
        lines += _profile_lines(profile)
    lines.append(_review_line(review))
    return "\n".join(lines)


def _profile_lines(profile: Mapping[str, Any]) -> list[str]:
    described = [
        ("Thinking style", profile.get("thinking_style"), ("primary",)),
        ("Decision pattern", profile.get("decision_pattern"), ("speed", "consistency")),
        ("Risk orientation", profile.get("risk_orientation"), ("preference",)),
        ("Communication style", profile.get("communication_style"), ("reasoning_depth", "logical_structure")),
    ]
    lines = ["The profile:"]
    for title, part, keys in described:
        if not part:
            lines.append(f"- {title}: not described (no completed task showed it).")
            continue
        labels = ", ".join(str(part.get(key, "")).replace("_", " ") for key in keys)
        evidence = "; ".join(str(item) for item in part.get("evidence") or [])
        lines.append(f"- {title}: {labels}." + (f" Based on: {evidence}." if evidence else ""))
    if profile.get("overall_summary"):
        lines.append(f"Summary: {profile['overall_summary']}")
    return lines


def _review_line(review: Mapping[str, Any] | None) -> str:
    reviewers = len((review or {}).get("reviews") or {})
    if not reviewers:
        return "No person has reviewed this profile yet."
    text = (
        f"A person reviewed this profile: {reviewers} reviewer{'s' if reviewers != 1 else ''}, "
        f"last on {_day(review.get('last_reviewed_at'))}."
    )
    decision = (review or {}).get("decision")
    if decision:
        text += f" A person recorded a decision on {_day(decision.get('decided_at'))}: {decision.get('value')}."
    return text


def _day(value: Any) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, datetime) else "an unknown date"


def _plain(value: Any) -> Any:
    """A stored document as JSON: ids as strings, times in ISO 8601."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    return value


# ---------------------------------------------------------------- retention


@dataclass
class OrganizationPurge:
    organization_id: ObjectId
    organization: str
    retention_days: int
    removed: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {
            "organization_id": str(self.organization_id),
            "organization": self.organization,
            "retention_days": self.retention_days,
            "removed": dict(self.removed),
        }


@dataclass
class PurgeReport:
    now: datetime
    dry_run: bool
    organizations: list[OrganizationPurge] = field(default_factory=list)
    housekeeping: dict[str, int] = field(default_factory=dict)  # sessions, login failures, throttle pairs

    def as_json(self) -> dict[str, Any]:
        return {
            "purge": "dry run: nothing removed" if self.dry_run else "done",
            "now": iso(self.now),
            "organizations": [org.as_json() for org in self.organizations],
            "housekeeping": dict(self.housekeeping),
        }


def purge(db: Database, *, now: datetime | None = None, dry_run: bool = False, limit: int | None = None) -> PurgeReport:
    """Remove what is past retention (see the module docstring); with
    ``dry_run``, count what would go and remove nothing. ``limit``: at most
    that many attempts per organisation (the ingest server's sweep; the rest
    goes next time). One audit entry per organisation that lost something
    (``retention.purged``, counts only), and one of no organisation for the
    sessions and login throttle."""
    now = utcnow() if now is None else to_ms(now)
    report = PurgeReport(now, dry_run)
    for doc in db[dbmod.ORGANIZATIONS].find({}).sort("_id", 1):
        organization = Organization.from_doc(doc)
        scope = Scope(db, organization.id, None, is_admin=True, via=VIA_RETENTION)
        retention = organization.settings.retention_days
        due = _due_attempts(db, organization.id, now, retention, limit)
        invitations = _stale_invitations(now, organization.id)
        if dry_run:
            removed = _would_remove(db, due)
            removed[dbmod.INVITATIONS] = db[dbmod.INVITATIONS].count_documents(invitations)
        else:
            removed = erase_attempts(scope, due, action=None)
            removed[dbmod.INVITATIONS] = db[dbmod.INVITATIONS].delete_many(invitations).deleted_count
        # Colleagues' invitation emails sent or failed 30 days ago (candidates' go with their attempts).
        removed[dbmod.MAIL_OUTBOX] += mail.purge_finished(db, organization.id, now=now, dry_run=dry_run)
        # Webhook deliveries finished 30 days ago: their log need not be kept longer.
        removed[dbmod.WEBHOOK_DELIVERIES] += webhooks.purge_finished(db, organization.id, now=now, dry_run=dry_run)
        if not dry_run and any(removed.values()):
            scope.audit(PURGED, "organization", organization.id, removed=removed, retention_days=retention)
        report.organizations.append(OrganizationPurge(organization.id, organization.slug, retention, removed))
    for collection, query in _housekeeping(now).items():
        if dry_run:
            report.housekeeping[collection] = db[collection].count_documents(query)
        else:
            report.housekeeping[collection] = db[collection].delete_many(query).deleted_count
    if not dry_run and any(report.housekeeping.values()):
        audit(db, PURGED, organization_id=None, removed=dict(report.housekeeping))
    return report


def last_activity(attempt: Mapping[str, Any]) -> datetime:
    """An attempt's last activity: completed_at, else updated_at, else created_at."""
    return attempt.get("completed_at") or attempt.get("updated_at") or attempt["created_at"]


def _due_attempts(
    db: Database, organization_id: ObjectId, now: datetime, retention_days: int, limit: int | None
) -> list[ObjectId]:
    """The organisation's attempts past retention, oldest issued first. An
    attempt's last activity is never before its creation, so only attempts
    created before the cut-off are read (the (organization_id, created_at) index)."""
    cutoff = now - timedelta(days=retention_days)
    event_cutoff = now - timedelta(days=max(retention_days, MIN_EVENT_RETENTION_DAYS))
    fields = {"created_at": 1, "updated_at": 1, "completed_at": 1, "status": 1, "expires_at": 1}
    cursor = (
        db[dbmod.ATTEMPTS]
        .find({"organization_id": organization_id, "created_at": {"$lt": cutoff}}, fields)
        .sort([("created_at", 1), ("_id", 1)])
    )
    due: list[ObjectId] = []
    for doc in cursor:
        last = last_activity(doc)
        if last >= cutoff:
            continue
        if doc.get("status") in _OPEN and doc.get("expires_at") and doc["expires_at"] > now:
            continue  # a link still valid (issued with a long expiry) is not past its last contact
        if last >= event_cutoff and db[dbmod.EVENTS].find_one({"attempt_id": doc["_id"]}, {"_id": 1}):
            continue  # its events are kept six months at least
        due.append(doc["_id"])
        if limit is not None and len(due) >= limit:
            break
    return due


def _would_remove(db: Database, attempt_ids: list[ObjectId]) -> dict[str, int]:
    counts = {dbmod.ATTEMPTS: len(attempt_ids)}
    for collection, key in OWNED_BY_ATTEMPT.items():
        counts[collection] = sum(
            db[collection].count_documents({key: {"$in": attempt_ids[i : i + BATCH]}})
            for i in range(0, len(attempt_ids), BATCH)
        )
    return counts


def _stale_invitations(now: datetime, organization_id: ObjectId) -> dict[str, Any]:
    """Invitations expired, accepted or withdrawn more than HOUSEKEEPING_DAYS ago."""
    before = now - timedelta(days=HOUSEKEEPING_DAYS)
    return {
        "organization_id": organization_id,
        "$or": [{"expires_at": {"$lt": before}}, {"accepted_at": {"$lt": before}}, {"revoked_at": {"$lt": before}}],
    }


def _housekeeping(now: datetime) -> dict[str, dict[str, Any]]:
    """Sessions that can never be used again (past their absolute expiry, or
    ended), and what the login throttle has itself forgotten (the rules of
    ``throttle.fail``: pairs whose last failure is older than its memory and
    that are not locked, entries older than every window)."""
    return {
        dbmod.SESSIONS: {"$or": [{"expires_at": {"$lt": now}}, {"ended_at": {"$lt": now}}]},
        dbmod.LOGIN_THROTTLE: {"last_failure_at": {"$lt": now - throttle.FAILURE_MEMORY}, "locked_until": {"$lt": now}},
        dbmod.LOGIN_FAILURES: {"at": {"$lt": now - max(throttle.CLIENT_WINDOW, throttle.REGISTRATION_WINDOW)}},
    }


# ---------------------------------------------------------------- helpers


def _require_admin(scope: Scope) -> None:
    if not scope.is_admin:
        raise ErasureError("Only an admin of your organisation can erase or export a candidate's data.")


def _attempt_ids_of(scope: Scope, email: str) -> list[ObjectId]:
    address = normalise(email)
    if not address:
        raise ErasureError("Give the candidate's email address.")
    docs = scope.db[dbmod.ATTEMPTS].find(scope.where({"candidate_info.email": address}), {"_id": 1}).sort("_id", 1)
    ids = [doc["_id"] for doc in docs]
    if not ids:
        raise ErasureError(f"No candidate with the email {address} in {_organization_label(scope)}.")
    return ids


def _organization_label(scope: Scope) -> str:
    doc = scope.db[dbmod.ORGANIZATIONS].find_one({"_id": scope.organization_id}, {"slug": 1, "name": 1})
    return str((doc or {}).get("slug") or (doc or {}).get("name") or "this organisation")
