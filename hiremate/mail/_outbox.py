"""The outbox (collection ``mail_outbox``): queueing, claiming with a lease, sending, back-off.

A message is stored as what to send and to whom by reference (the kind, the
attempt, the recruiter's user id or the colleague's invitation), never as
its text: the text is rendered when it is sent, from the organisation's
template and the documents as they are then. So the outbox holds no name
or email address; a candidate's invitation holds its link sealed
(``hiremate.sealing``) until it is sent or abandoned, then the link is unset.

States: ``queued`` (due at ``next_attempt_at``) -> ``sending`` (claimed by
one drainer until ``lease_until``) -> ``sent``, or back to ``queued`` with
the server's reason and a later ``next_attempt_at`` (BACKOFF), or ``failed``
for good (a permanent refusal, MAX_TRIES tries, or nothing left to send: the
attempt closed, the link replaced, the invitation used). A drainer that
dies while sending leaves its lease to expire; the message is then claimed
again (each claim counts as a try).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from hiremate import attempts, emails, sealing
from hiremate import db as dbmod
from hiremate.errors import HireMateError, MailSendFailed
from hiremate.mail import _templates
from hiremate.mail._smtp import REASON_LENGTH, Connection, SmtpConfig
from hiremate.models import AttemptStatus, TaskAttempt
from hiremate.organizations import contact_of, get_organization, time_zone_of
from hiremate.outbox import QUEUED, new_worker_id, now_or
from hiremate.outbox import claim as _claim
from hiremate.scope import Scope
from hiremate.settings import Settings
from hiremate.timeutil import utcnow

log = logging.getLogger("hiremate.mail")

SENT, FAILED = "sent", "failed"
SEAL_LABEL = b"hiremate mail outbox link v1"  # unchanged since links were first sealed
# Waits after the 1st, 2nd, ... failed try; after the last one the message has failed for good.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=4),
    timedelta(hours=12),
)
MAX_TRIES = len(BACKOFF) + 1
LEASE = timedelta(minutes=5)  # well above smtplib's timeouts for one message
VIA_MAIL = "mail"  # the scope of what the drain does itself (a reminder's new link)


def enqueue(
    db: Database,
    secret: bytes,
    *,
    kind: str,
    organization_id: ObjectId,
    attempt_id: ObjectId | None = None,
    recipient_user_id: ObjectId | None = None,
    invitation_id: ObjectId | None = None,
    sealed_text: str | None = None,
    queued_by: ObjectId | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> ObjectId:
    """Store one message to send now; ``key`` (unique) makes it once only (DuplicateKeyError otherwise)."""
    doc = message(
        secret,
        kind=kind,
        organization_id=organization_id,
        attempt_id=attempt_id,
        recipient_user_id=recipient_user_id,
        invitation_id=invitation_id,
        sealed_text=sealed_text,
        queued_by=queued_by,
        key=key,
        now=now,
    )
    db[dbmod.MAIL_OUTBOX].insert_one(doc)
    return doc["_id"]


def enqueue_many(db: Database, docs: list[dict[str, Any]]) -> int:
    """Store ``message`` documents in one ordered ``insert_many``; how many
    were stored (all of them, or the ones before the first that failed)."""
    if not docs:
        return 0
    try:
        return len(db[dbmod.MAIL_OUTBOX].insert_many(docs, ordered=True).inserted_ids)
    except BulkWriteError as error:
        log.exception("the outbox stored %s of %s messages", error.details.get("nInserted", 0), len(docs))
        return int(error.details.get("nInserted", 0))


def message(
    secret: bytes,
    *,
    kind: str,
    organization_id: ObjectId,
    attempt_id: ObjectId | None = None,
    recipient_user_id: ObjectId | None = None,
    invitation_id: ObjectId | None = None,
    sealed_text: str | None = None,
    queued_by: ObjectId | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The outbox document of one message to send now (not stored)."""
    now = now_or(now)
    oid = ObjectId()
    doc: dict[str, Any] = {
        "_id": oid,
        "key": key or str(oid),
        "kind": kind,
        "organization_id": organization_id,
        "attempt_id": attempt_id,
        "recipient_user_id": recipient_user_id,
        "invitation_id": invitation_id,
        "queued_by": queued_by,
        "status": QUEUED,
        "tries": 0,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
    }
    if sealed_text is not None:
        doc["sealed"] = sealing.seal(secret, sealed_text, str(oid), label=SEAL_LABEL)
    return doc


# ---------------------------------------------------------------- the drain


@dataclass
class DrainReport:
    configured: bool = True
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    reasons: list[str] = field(default_factory=list)


def claim(db: Database, worker: str, now: datetime) -> dict[str, Any] | None:
    """Take the oldest due message (or one whose sender's lease ran out) for ``worker``."""
    return _claim(db[dbmod.MAIL_OUTBOX], worker, now, LEASE)


def drain(
    db: Database, settings: Settings, *, now: datetime | None = None, limit: int = 100, worker: str | None = None
) -> DrainReport:
    """Send what is due, at most ``limit`` messages, over one connection; blocking.

    Without HIREMATE_SMTP_URL nothing is touched: queued messages wait for a
    process that has a mail server."""
    if not settings.smtp_url or not settings.mail_from:
        return DrainReport(configured=False)
    report = DrainReport()
    worker = worker or new_worker_id()
    config = SmtpConfig.from_url(settings.smtp_url, require_tls=settings.smtp_require_tls)
    with Connection(config) as connection:
        for _ in range(limit):
            at = now_or(now)
            doc = claim(db, worker, at)
            if doc is None:
                break
            _deliver(db, settings, connection, doc, worker, at, report)
    return report


def _deliver(
    db: Database,
    settings: Settings,
    connection: Connection,
    doc: dict[str, Any],
    worker: str,
    now: datetime,
    report: DrainReport,
) -> None:
    try:
        composed = _compose(db, settings, doc, now)
        if isinstance(composed, str):
            _finish(db, doc, worker, now, status=FAILED, reason=composed)
            report.failed += 1
            report.reasons.append(composed)
            return
        message, recipient = composed
        connection.send(message, recipient)
    except MailSendFailed as exc:
        reason = exc.reason[:REASON_LENGTH]
        report.reasons.append(reason)
        if exc.permanent or doc["tries"] >= MAX_TRIES:
            _finish(db, doc, worker, now, status=FAILED, reason=reason)
            report.failed += 1
        else:
            _retry_later(db, doc, worker, now, reason)
            report.retrying += 1
        return
    except HireMateError as exc:  # a refusal of the domain (the attempt changed as it was re-issued)
        _retry_later(db, doc, worker, now, str(exc)[:REASON_LENGTH])
        report.retrying += 1
        return
    except Exception:  # a bug or the database: the lease is given back, retried after back-off
        log.exception("sending mail %s failed", doc["_id"])
        _retry_later(db, doc, worker, now, "HireMate could not prepare this email (see the ingest server's log)")
        report.retrying += 1
        return
    _finish(db, doc, worker, now, status=SENT, reason=None)
    report.sent += 1


def _retry_later(db: Database, doc: dict[str, Any], worker: str, now: datetime, reason: str) -> None:
    tries = int(doc["tries"])
    if tries >= MAX_TRIES:
        _finish(db, doc, worker, now, status=FAILED, reason=reason)
        return
    wait = BACKOFF[min(tries, len(BACKOFF)) - 1]
    db[dbmod.MAIL_OUTBOX].update_one(
        {"_id": doc["_id"], "lease_owner": worker},
        {
            "$set": {"status": QUEUED, "next_attempt_at": now + wait, "last_error": reason, "updated_at": now},
            "$unset": {"lease_until": "", "lease_owner": ""},
        },
    )


def _finish(db: Database, doc: dict[str, Any], worker: str, now: datetime, *, status: str, reason: str | None) -> None:
    """Sent, or failed for good: either way the sealed link goes."""
    changes: dict[str, Any] = {"status": status, "finished_at": now, "updated_at": now}
    if status == SENT:
        changes["sent_at"] = now
    if reason is not None:
        changes["last_error"] = reason
    db[dbmod.MAIL_OUTBOX].update_one(
        {"_id": doc["_id"], "lease_owner": worker},
        {"$set": changes, "$unset": {"sealed": "", "lease_until": "", "lease_owner": ""}},
    )


# ---------------------------------------------------------------- composing a message


def _compose(db: Database, settings: Settings, doc: dict[str, Any], now: datetime) -> tuple[EmailMessage, str] | str:
    """The message and its recipient, or the reason there is nothing to send any more."""
    organization = get_organization(db, doc["organization_id"])
    if organization is None:
        return "the organisation no longer exists"
    zone = time_zone_of(organization)
    values = {
        "organization": (organization.settings.display_name or organization.name).strip(),
        "contact": contact_of(db, organization),
    }
    kind = doc["kind"]
    reply_to: str | None = None
    if kind == _templates.COLLEAGUE_INVITATION:
        invitation = db[dbmod.INVITATIONS].find_one({"_id": doc.get("invitation_id")})
        if invitation is None:
            return "the invitation no longer exists"
        if invitation.get("accepted_at") is not None:
            return "the invitation was accepted before it was sent"
        if invitation.get("revoked_at") is not None:
            return "the invitation was withdrawn before it was sent"
        if invitation["expires_at"] <= now:
            return "the invitation expired before it was sent"
        token = _unsealed(settings, doc)
        if token is None:
            return "the invitation token could not be read (was HIREMATE_SECRET changed?)"
        if hashlib.sha256(token.encode()).hexdigest() != invitation["token_hash"]:
            return "the invitation was replaced before it was sent"
        values |= {
            "token": token,
            "link": settings.app_url,
            "expires": _templates.format_expiry(invitation["expires_at"], zone),
        }
        recipient = invitation["email"]
    else:
        attempt = attempts.read_attempt(db, doc["attempt_id"]) if doc.get("attempt_id") else None
        if attempt is None:
            return "the assessment no longer exists"
        info = attempt.candidate_info
        values |= {
            "candidate_name": info.name,
            "position": info.position.strip() or "the open position",
            "expires": _templates.format_expiry(attempt.start_by or attempt.expires_at, zone),
        }
        if kind in _templates.CANDIDATE_KINDS:
            link_or_reason = _candidate_link(db, settings, doc, attempt)
            if not link_or_reason.startswith(("http://", "https://")):
                return link_or_reason
            values["link"] = link_or_reason
            values["expires"] = _templates.format_expiry(attempt.expires_at, zone)
            recipient = info.email
            reply_to = values["contact"] if emails.is_valid(emails.normalise(values["contact"])) else None
        else:
            user = db[dbmod.USERS].find_one({"_id": doc.get("recipient_user_id"), "is_active": True}, {"email": 1})
            if user is None:
                return "the recruiter's account is no longer active"
            page = "profile" if kind == _templates.COMPLETED else "assessments"
            values["link"] = f"{settings.app_url}/{page}?attempt={attempt.id}"
            recipient = user["email"]
    rendered = _templates.render(_templates.get_template(db, organization.id, kind), values)
    message = EmailMessage()
    message["From"] = settings.mail_from or ""
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=_domain_of(settings.mail_from or ""))
    if reply_to:
        message["Reply-To"] = reply_to
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message, recipient


def _candidate_link(db: Database, settings: Settings, doc: dict[str, Any], attempt: TaskAttempt) -> str:
    """The link to send a candidate, or the reason not to send."""
    open_statuses = {AttemptStatus.PENDING, AttemptStatus.IN_PROGRESS}
    if AttemptStatus(attempt.status) not in open_statuses or attempt.expires_at <= utcnow():
        return f"the assessment is {'expired' if attempt.status in open_statuses else attempt.status}: not sent"
    if doc["kind"] == _templates.REMINDER:
        if attempt.status != AttemptStatus.PENDING or attempt.started_at is not None:
            return "the candidate started meanwhile: no reminder needed"
        # The lease holder alone gets here: a fresh link, never stored.
        scope = Scope(db, attempt.organization_id, None, via=VIA_MAIL)
        return attempts.reissue_link(scope, attempt.id, public_url=settings.public_url).link
    link = _unsealed(settings, doc)
    if link is None:
        return "the link could not be read (was HIREMATE_SECRET changed?)"
    token = link.rsplit("/", 1)[-1]
    if attempts.hash_secret(token) != attempt.token_hash:
        return "the link was replaced before this email was sent"
    return link


def _unsealed(settings: Settings, doc: dict[str, Any]) -> str | None:
    sealed = doc.get("sealed")
    return None if not sealed else sealing.unseal(settings.secret, sealed, str(doc["_id"]), label=SEAL_LABEL)


def _domain_of(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rpartition("@")[2] or "hiremate.local"
