"""Email: an outbox drained by the ingest servers, templates per organisation.

Public functions (everything else is private to this package):

* ``queue_invitation(scope, attempt, link)``: email a candidate their link
  (the issue form and ``python -m hiremate issue --send-email`` call it);
  MailNotConfigured without a mail server. ``queue_invitations(scope,
  pairs)``: the same for many at once (bulk issue).
* ``resend_invitation(scope, attempt_id)``: send the link again; once the
  link was dropped from the outbox (sent or abandoned) it is re-issued.
* ``queue_colleague_invitation(scope, token)``: email a colleague their
  invitation token (the Team page).
* ``notify_completed(db, attempt_id)`` and
  ``notify_accommodation_requested(db, attempt_id)``: a notice to the
  recruiter who issued the assessment (the ingest server calls them; they
  never raise).
* ``queue_due_reminders(db)`` and ``drain(db, settings)``: what the ingest
  server's mail loop runs.
* ``attempt_mail(scope, attempt_id)``: the mail of one attempt and its state.
* templates: ``get_template``, ``save_template``, ``reset_template``,
  ``preview``, ``DEFAULTS``, ``KIND_TITLES``, ``PLACEHOLDERS``.

docs/architecture.md "Mail" describes the states, the lease, the back-off,
the encryption and what is kept.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bson import ObjectId
from pymongo import DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from hiremate import attempts
from hiremate import db as dbmod
from hiremate.errors import MailError, MailNotConfigured
from hiremate.ids import as_object_id
from hiremate.mail import _outbox
from hiremate.mail._outbox import (
    BACKOFF,
    FAILED,
    MAX_TRIES,
    SENT,
    DrainReport,
    drain,
    enqueue,
    new_worker_id,
    now_or,
)
from hiremate.mail._smtp import SmtpConfig
from hiremate.mail._templates import (
    ACCOMMODATION_REQUESTED,
    COLLEAGUE_INVITATION,
    COMPLETED,
    DEFAULTS,
    INVITATION,
    KIND_TITLES,
    PLACEHOLDERS,
    REMINDER,
    Rendered,
    Template,
    get_template,
    reset_template,
    save_template,
)
from hiremate.mail._templates import check as check_template
from hiremate.mail._templates import format_expiry as _format_expiry
from hiremate.mail._templates import render as _render
from hiremate.models import AttemptStatus, Organization, TaskAttempt
from hiremate.organizations import contact_of, time_zone_of
from hiremate.outbox import QUEUED, SENDING
from hiremate.scope import Scope
from hiremate.settings import Settings, get_settings
from hiremate.timeutil import utcnow

__all__ = [
    "ACCOMMODATION_REQUESTED",
    "BACKOFF",
    "COLLEAGUE_INVITATION",
    "COMPLETED",
    "DEFAULTS",
    "FAILED",
    "INVITATION",
    "KIND_TITLES",
    "MAX_TRIES",
    "NOT_CONFIGURED",
    "PLACEHOLDERS",
    "QUEUED",
    "REMINDER",
    "SENDING",
    "SENT",
    "DrainReport",
    "MailStatus",
    "Rendered",
    "Resent",
    "Template",
    "attempt_mail",
    "check_template",
    "describe_server",
    "drain",
    "get_template",
    "is_configured",
    "new_worker_id",
    "notify_accommodation_requested",
    "notify_completed",
    "preview",
    "purge_finished",
    "queue_colleague_invitation",
    "queue_due_reminders",
    "queue_invitation",
    "queue_invitations",
    "resend_invitation",
    "reset_template",
    "save_template",
]

log = logging.getLogger("hiremate.mail")

NOT_CONFIGURED = "Email is not set up (HIREMATE_SMTP_URL and HIREMATE_MAIL_FROM): copy the link and send it yourself."
ACCOMMODATION_NOTICE_EVERY = timedelta(hours=1)  # at most one notice an hour per attempt


def is_configured(settings: Settings | None = None) -> bool:
    """Whether this process can queue and send email."""
    settings = settings or get_settings()
    return bool(settings.smtp_url and settings.mail_from)


def describe_server(settings: Settings | None = None) -> str:
    """Where mail goes, without credentials (or why it does not go)."""
    settings = settings or get_settings()
    if not is_configured(settings):
        return NOT_CONFIGURED
    assert settings.smtp_url is not None
    return SmtpConfig.from_url(settings.smtp_url, require_tls=settings.smtp_require_tls).describe()


# ---------------------------------------------------------------- candidates


def queue_invitation(scope: Scope, attempt: TaskAttempt, link: str, *, settings: Settings | None = None) -> ObjectId:
    """Email ``link`` (just issued or re-issued for ``attempt``) to the candidate.

    The link is kept encrypted until the message is sent or abandoned. The
    message leaves within seconds (an ingest server drains the outbox every
    few seconds). Audited (``mail.queued``, the attempt's id and the kind)."""
    settings = _configured(settings)
    problem = _invitation_problem(scope, attempt)
    if problem:
        raise MailError(problem)
    oid = _enqueue_invitation(scope, settings, attempt.id, link)
    scope.audit("mail.queued", "attempt", attempt.id, kind=INVITATION)
    return oid


def queue_invitations(
    scope: Scope, issued: Sequence[tuple[TaskAttempt, str]], *, settings: Settings | None = None
) -> set[ObjectId]:
    """``queue_invitation`` for many (attempt, link) pairs at once (bulk
    issue): one ``insert_many`` and one append of audit entries instead of
    one write and one chained append each. Returns the ids of the attempts
    whose invitation is queued; an attempt that could not be emailed
    (another organisation's, closed) or that the store refused is left out,
    so its link goes to the recruiter's download instead."""
    settings = _configured(settings)
    docs = [
        _outbox.message(
            settings.secret,
            kind=INVITATION,
            organization_id=scope.organization_id,
            attempt_id=attempt.id,
            sealed_text=link,
            queued_by=scope.user_id,
        )
        for attempt, link in issued
        if not _invitation_problem(scope, attempt)
    ]
    stored = docs[: _outbox.enqueue_many(scope.db, docs)]
    scope.audit_each("mail.queued", "attempt", [(doc["attempt_id"], {"kind": INVITATION}) for doc in stored])
    return {doc["attempt_id"] for doc in stored}


def _configured(settings: Settings | None) -> Settings:
    """``settings`` (this process's by default), when they name a mail server."""
    settings = settings or get_settings()
    if not is_configured(settings):
        raise MailNotConfigured(NOT_CONFIGURED)
    return settings


def _invitation_problem(scope: Scope, attempt: TaskAttempt) -> str | None:
    """Why ``attempt``'s link cannot be emailed, or None."""
    if attempt.id is None or attempt.organization_id != scope.organization_id:
        return "this assessment is not one of your organisation's"
    if attempt.status not in (AttemptStatus.PENDING, AttemptStatus.IN_PROGRESS):
        return f"this assessment is {attempt.status}: there is no link to send"
    return None


def _enqueue_invitation(scope: Scope, settings: Settings, attempt_id: ObjectId, link: str) -> ObjectId:
    """Queue a candidate's invitation, its link sealed until it is sent."""
    return enqueue(
        scope.db,
        settings.secret,
        kind=INVITATION,
        organization_id=scope.organization_id,
        attempt_id=attempt_id,
        sealed_text=link,
        queued_by=scope.user_id,
    )


@dataclass(frozen=True)
class Resent:
    outbox_id: ObjectId
    reissued: attempts.IssuedAttempt | None  # the new link when the old one had to be replaced
    sooner: bool = False  # a queued message was only brought forward


def resend_invitation(
    scope: Scope, attempt_id: ObjectId | str, *, settings: Settings | None = None, public_url: str | None = None
) -> Resent:
    """Send the candidate their link again.

    A message still queued (waiting after a failure) is sent now. Otherwise
    the link is no longer in the outbox (it goes once sent or abandoned), so
    it is re-issued (``attempts.reissue_link``: the old link stops working)
    and the new one queued."""
    settings = _configured(settings)
    attempt = attempts.get_attempt(scope, attempt_id)
    if attempt is None:
        raise MailError("no such assessment in your organisation")
    if attempt.status not in (AttemptStatus.PENDING, AttemptStatus.IN_PROGRESS):
        raise MailError(f"this assessment is {attempt.status}: there is no link to send")
    # The attempt's newest invitation still queued, brought forward. Through
    # db.find_one_and_update: the store's own findAndModify would read the
    # whole outbox, which keeps sent messages 30 days (``outbox`` module).
    now = utcnow()
    waiting = dbmod.find_one_and_update(
        scope.db[dbmod.MAIL_OUTBOX],
        scope.where({"attempt_id": attempt.id, "kind": INVITATION, "status": QUEUED, "sealed": {"$exists": True}}),
        {"$set": {"next_attempt_at": now, "updated_at": now}},
        sort=[("created_at", DESCENDING)],
    )
    if waiting is not None:
        scope.audit("mail.resent", "attempt", attempt.id, kind=INVITATION, reissued=False)
        return Resent(waiting["_id"], None, sooner=True)
    issued = attempts.reissue_link(scope, attempt.id, public_url=public_url or settings.public_url)
    oid = _enqueue_invitation(scope, settings, attempt.id, issued.link)
    scope.audit("mail.resent", "attempt", attempt.id, kind=INVITATION, reissued=True)
    return Resent(oid, issued)


def queue_due_reminders(db: Database, *, now: datetime | None = None, settings: Settings | None = None) -> int:
    """Queue a reminder for every candidate due one; returns how many were queued.

    Due: the organisation's ``reminder_hours_before_expiry`` is set, the
    attempt is pending (never started), it expires within that many hours,
    its link was valid for longer than that when issued, and its invitation
    email was sent. Once per attempt (the outbox key ``reminder:<id>``). The
    reminder's link is re-issued when it is sent, so it is never stored."""
    settings = settings or get_settings()
    if not is_configured(settings):
        return 0
    now = now_or(now)
    hours: dict[ObjectId, int] = {}
    for doc in db[dbmod.ORGANIZATIONS].find({}, {"settings": 1}):
        value = (doc.get("settings") or {}).get("reminder_hours_before_expiry", 24)
        if value:
            hours[doc["_id"]] = int(value)
    if not hours:
        return 0
    candidates = db[dbmod.ATTEMPTS].find(
        {
            "status": AttemptStatus.PENDING.value,
            "expires_at": {"$gt": now, "$lte": now + timedelta(hours=max(hours.values()))},
            "organization_id": {"$in": list(hours)},
        },
        {"organization_id": 1, "expires_at": 1, "created_at": 1, "started_at": 1},
    )
    due = {}
    for doc in candidates:
        window = timedelta(hours=hours[doc["organization_id"]])
        if (
            doc.get("started_at") is None
            and doc["expires_at"] - window <= now
            and doc["created_at"] + window < doc["expires_at"]
        ):
            due[doc["_id"]] = doc["organization_id"]
    if not due:
        return 0
    invited = {
        doc["attempt_id"]
        for doc in db[dbmod.MAIL_OUTBOX].find(
            {"attempt_id": {"$in": list(due)}, "kind": INVITATION, "status": SENT}, {"attempt_id": 1}
        )
    }
    queued = 0
    for attempt_id in invited:
        try:
            enqueue(
                db,
                settings.secret,
                kind=REMINDER,
                organization_id=due[attempt_id],
                attempt_id=attempt_id,
                key=f"reminder:{attempt_id}",
                now=now,
            )
            queued += 1
        except DuplicateKeyError:
            continue
    return queued


# ---------------------------------------------------------------- recruiters and colleagues


def notify_completed(db: Database, attempt_id: ObjectId, *, settings: Settings | None = None) -> ObjectId | None:
    """A notice to the recruiter who issued the attempt that it was completed; once; never raises."""
    return _notify(db, attempt_id, COMPLETED, settings, key=f"completed:{attempt_id}")


def notify_accommodation_requested(
    db: Database, attempt_id: ObjectId, *, settings: Settings | None = None
) -> ObjectId | None:
    """A notice to the issuing recruiter that the candidate asked for an accommodation
    (at most one an hour per attempt); never raises."""
    return _notify(db, attempt_id, ACCOMMODATION_REQUESTED, settings, key=None)


def _notify(
    db: Database, attempt_id: ObjectId, kind: str, settings: Settings | None, *, key: str | None
) -> ObjectId | None:
    try:
        settings = settings or get_settings()
        if not is_configured(settings):
            return None
        doc = db[dbmod.ATTEMPTS].find_one({"_id": attempt_id}, {"organization_id": 1, "created_by": 1})
        if doc is None or doc.get("created_by") is None:
            return None  # issued from the command line: no one to tell
        if key is None:
            recent = db[dbmod.MAIL_OUTBOX].find_one(
                {"attempt_id": attempt_id, "kind": kind, "created_at": {"$gt": utcnow() - ACCOMMODATION_NOTICE_EVERY}},
                {"_id": 1},
            )
            if recent is not None:
                return None
        return enqueue(
            db,
            settings.secret,
            kind=kind,
            organization_id=doc["organization_id"],
            attempt_id=attempt_id,
            recipient_user_id=doc["created_by"],
            key=key,
        )
    except DuplicateKeyError:
        return None
    except Exception:
        log.exception("queueing the %s notice of attempt %s failed", kind, attempt_id)
        return None


def queue_colleague_invitation(scope: Scope, token: str, *, settings: Settings | None = None) -> ObjectId:
    """Email a colleague the invitation ``token`` that ``auth.invite`` just returned."""
    settings = _configured(settings)
    invitation = scope.db[dbmod.INVITATIONS].find_one(
        scope.where({"token_hash": hashlib.sha256(token.encode()).hexdigest()}), {"_id": 1}
    )
    if invitation is None:
        raise MailError("this invitation is not one of your organisation's")
    oid = enqueue(
        scope.db,
        settings.secret,
        kind=COLLEAGUE_INVITATION,
        organization_id=scope.organization_id,
        invitation_id=invitation["_id"],
        sealed_text=token,
        queued_by=scope.user_id,
    )
    scope.audit("mail.queued", "invitation", invitation["_id"], kind=COLLEAGUE_INVITATION)
    return oid


# ---------------------------------------------------------------- what the pages show


@dataclass(frozen=True)
class MailStatus:
    id: ObjectId
    kind: str
    status: str
    tries: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None

    @property
    def title(self) -> str:
        return {
            INVITATION: "Invitation",
            REMINDER: "Reminder",
            COMPLETED: "Completion notice to the recruiter",
            ACCOMMODATION_REQUESTED: "Accommodation notice to the recruiter",
        }.get(self.kind, self.kind)


def attempt_mail(scope: Scope, attempt_id: ObjectId | str, *, limit: int = 20) -> list[MailStatus]:
    """The attempt's emails, newest first."""
    oid = as_object_id(attempt_id)
    if oid is None:
        return []
    docs = (
        scope.db[dbmod.MAIL_OUTBOX]
        .find(scope.where({"attempt_id": oid}))
        .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        .limit(limit)
    )
    return [
        MailStatus(
            id=doc["_id"],
            kind=doc["kind"],
            status=doc["status"],
            tries=int(doc.get("tries", 0)),
            last_error=doc.get("last_error"),
            created_at=doc["created_at"],
            next_attempt_at=doc.get("next_attempt_at") if doc["status"] == QUEUED else None,
            sent_at=doc.get("sent_at"),
        )
        for doc in docs
    ]


def preview(db: Database, organization: Organization, kind: str, subject: str, body: str) -> Rendered:
    """``subject`` and ``body`` rendered with sample values and the organisation's own."""
    zone = time_zone_of(organization)
    sample = {
        "candidate_name": "Alex Example",
        "organization": (organization.settings.display_name or organization.name).strip(),
        "position": "Data Analyst",
        "link": "https://assess.example.com/a/EXAMPLE-LINK"
        if kind in (INVITATION, REMINDER)
        else "https://hiremate.example.com/",
        "expires": _format_expiry(utcnow() + timedelta(days=7), zone),
        "contact": contact_of(db, organization),
        "token": "EXAMPLE-INVITATION-TOKEN",
    }
    return _render(Template(kind, subject, body, is_default=False), sample)


# ---------------------------------------------------------------- retention


PURGE_AFTER = timedelta(days=30)


def purge_finished(db: Database, organization_id: ObjectId, *, now: datetime, dry_run: bool = False) -> int:
    """Colleagues' invitations sent or failed more than 30 days ago (candidates'
    mail goes with its attempt, through ``erasure.erase_attempts``)."""
    query = {
        "organization_id": organization_id,
        "attempt_id": None,
        "status": {"$in": [SENT, FAILED]},
        "finished_at": {"$lt": now - PURGE_AFTER},
    }
    if dry_run:
        return db[dbmod.MAIL_OUTBOX].count_documents(query)
    return db[dbmod.MAIL_OUTBOX].delete_many(query).deleted_count
