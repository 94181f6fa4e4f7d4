"""The webhook outbox (collection ``webhook_deliveries``): emitting, signing, delivering, the log.

One document per message and receiver: an event for a subscribed endpoint
(``kind: "event"``) or a callback queued by an adapter (``kind:
"callback"``, e.g. Greenhouse's PATCH). It keeps the body exactly as it will
be sent (so every try sends the same bytes under the same ``msg_id``), the
state, and the log of its tries (time, response code or error, duration).

States: ``queued`` (due at ``next_attempt_at``) -> ``sending`` (claimed with a
lease, ``hiremate.outbox``) -> ``delivered`` (a 2xx answer), or back to
``queued`` after BACKOFF, or ``failed`` after MAX_TRIES tries. A drainer that
dies while sending leaves its lease to expire; the delivery is claimed again
(at least once: a receiver may get a message twice, and dedupes on
``webhook-id``). A redelivery by hand is one more try of the same message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bson import ObjectId
from pymongo import DESCENDING
from pymongo.database import Database

from hiremate import db as dbmod
from hiremate import outbox, sealing
from hiremate.errors import WebhookError, WebhookTargetRefused
from hiremate.ids import as_object_id
from hiremate.outbox import QUEUED, SENDING, now_or
from hiremate.scope import Scope
from hiremate.settings import Settings, get_settings
from hiremate.timeutil import iso
from hiremate.webhooks import _urls
from hiremate.webhooks._endpoints import secret_key, secret_of

log = logging.getLogger("hiremate.webhooks")

DELIVERED, FAILED = "delivered", "failed"
EVENT, CALLBACK = "event", "callback"
# Standard Webhooks' schedule: the first try at once, then these waits.
BACKOFF = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_TRIES = len(BACKOFF) + 1
LEASE = timedelta(minutes=2)  # well above the 10 s timeout of one try
LOG_KEPT = 30  # tries kept in a delivery's log
ERROR_LENGTH = 300
PURGE_AFTER = timedelta(days=30)
USER_AGENT = "HireMate-Webhooks/1"
CALLBACK_SEAL_LABEL = b"hiremate webhook callback headers v1"
METHODS = ("POST", "PUT", "PATCH")


def new_message_id() -> str:
    return f"msg_{ObjectId()}"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and base64 of HMAC-SHA256 over ``id.timestamp.body``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def body_of(event_type: str, data: dict[str, Any], at: datetime) -> str:
    """The payload as the spec recommends: ``{"type", "timestamp", "data"}``."""
    return json.dumps({"type": event_type, "timestamp": iso(at), "data": data}, separators=(",", ":"), default=str)


# ---------------------------------------------------------------- emitting


def subscribers(db: Database, organization_id: ObjectId, event_type: str) -> list[ObjectId]:
    """The enabled endpoints of the organisation that get ``event_type`` (one indexed read)."""
    docs = db[dbmod.WEBHOOK_ENDPOINTS].find(
        {"organization_id": organization_id, "enabled": True, "events": event_type}, {"_id": 1}
    )
    return [doc["_id"] for doc in docs]


def emit(
    db: Database,
    organization_id: ObjectId,
    event_type: str,
    data: dict[str, Any],
    *,
    attempt_id: ObjectId | None = None,
    now: datetime | None = None,
    endpoints: list[ObjectId] | None = None,
) -> int:
    """Queue ``event_type`` for every subscribed, enabled endpoint; returns how many.

    Only inserts (an ingest server's drain delivers within seconds); one read
    when no endpoint wants it; never raises (a failure is logged)."""
    try:
        targets = subscribers(db, organization_id, event_type) if endpoints is None else endpoints
        if not targets:
            return 0
        at = now_or(now)
        msg_id, body = new_message_id(), body_of(event_type, data, at)
        docs = [
            _document(
                organization_id=organization_id,
                kind=EVENT,
                msg_id=msg_id,
                event_type=event_type,
                body=body,
                endpoint_id=endpoint_id,
                attempt_id=attempt_id,
                now=at,
            )
            for endpoint_id in targets
        ]
        db[dbmod.WEBHOOK_DELIVERIES].insert_many(docs, ordered=False)
        return len(docs)
    except Exception:
        log.exception("queueing the %s webhook of organisation %s failed", event_type, organization_id)
        return 0


def _document(
    *,
    organization_id: ObjectId,
    kind: str,
    msg_id: str,
    event_type: str,
    body: str,
    now: datetime,
    endpoint_id: ObjectId | None = None,
    attempt_id: ObjectId | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "_id": ObjectId(),
        "organization_id": organization_id,
        "kind": kind,
        "msg_id": msg_id,
        "event_type": event_type,
        "endpoint_id": endpoint_id,
        "attempt_id": attempt_id,
        "body": body,
        "status": QUEUED,
        "tries": 0,
        "next_attempt_at": now,
        "log": [],
        "last_code": None,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
        **extra,
    }


def queue_callback(
    db: Database,
    *,
    organization_id: ObjectId,
    attempt_id: ObjectId | None,
    url: str,
    method: str = "PATCH",
    headers: dict[str, str] | None = None,
    body: bytes | str | dict[str, Any] = b"",
    event_type: str = "callback",
    signing_secret: str | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> ObjectId:
    """Queue one HTTP request to ``url`` through the webhook outbox (same tries,
    back-off, lease, log and address rules as the events); returns the delivery's id.

    ``body``: bytes or str sent as is, a dict as JSON (``Content-Type:
    application/json`` unless ``headers`` say otherwise). ``headers`` are kept
    sealed (they may carry a partner's credentials). Not signed, unless
    ``signing_secret`` (a ``whsec_`` secret) is given: then the Standard
    Webhooks headers are added. Raises WebhookTargetRefused for a URL the
    rules refuse (checked again at every try)."""
    settings = settings or get_settings()
    _urls.check_url(url, allow_private=settings.webhook_allow_private)
    method = method.upper()
    if method not in METHODS:
        raise WebhookError(f"a callback's method is one of {', '.join(METHODS)}")
    sent_headers = dict(headers or {})
    if isinstance(body, dict):
        raw = json.dumps(body, separators=(",", ":"), default=str)
        if not any(name.lower() == "content-type" for name in sent_headers):
            sent_headers["Content-Type"] = "application/json"
    else:
        raw = body.decode() if isinstance(body, bytes) else body
    at = now_or(now)
    doc = _document(
        organization_id=organization_id,
        kind=CALLBACK,
        msg_id=new_message_id(),
        event_type=event_type,
        body=raw,
        attempt_id=attempt_id,
        now=at,
        url=url.strip(),
        method=method,
    )
    secrets_doc = {"headers": sent_headers, "signing_secret": signing_secret}
    doc["sealed_request"] = sealing.seal(
        settings.secret, json.dumps(secrets_doc), str(doc["_id"]), label=CALLBACK_SEAL_LABEL
    )
    db[dbmod.WEBHOOK_DELIVERIES].insert_one(doc)
    return doc["_id"]


# ---------------------------------------------------------------- delivering


@dataclass
class DrainReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    codes: list[int | None] = field(default_factory=list)


def claim_due(db: Database, worker: str, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` due deliveries, leased to ``worker``."""
    claimed = []
    for _ in range(limit):
        doc = outbox.claim(db[dbmod.WEBHOOK_DELIVERIES], worker, now, LEASE)
        if doc is None:
            break
        claimed.append(doc)
    return claimed


def drain(
    db: Database, settings: Settings, *, now: datetime | None = None, limit: int = 100, worker: str | None = None
) -> DrainReport:
    """Claim and deliver what is due, one after the other; blocking (the ingest
    server's loop claims and delivers several at once instead)."""
    report = DrainReport()
    worker = worker or outbox.new_worker_id()
    for _ in range(limit):
        at = now_or(now)
        claimed = claim_due(db, worker, at, 1)
        if not claimed:
            break
        deliver(db, settings, claimed[0], worker, now=now, report=report)
    return report


@dataclass(frozen=True)
class Try:
    at: datetime
    code: int | None
    error: str | None
    ms: int


def deliver(
    db: Database,
    settings: Settings,
    doc: dict[str, Any],
    worker: str,
    *,
    now: datetime | None = None,
    report: DrainReport | None = None,
) -> str:
    """Make one try of a claimed delivery and record it; returns the new status. Never raises."""
    report = report if report is not None else DrainReport()
    at = now_or(now)
    started = time.perf_counter()
    code: int | None = None
    error: str | None = None
    try:
        request = _request(db, settings, doc)
        if isinstance(request, str):
            error = request
        else:
            target, method, headers, body = request
            answer = _urls.send(target, method, headers, body)
            code = answer.status
            if 300 <= code < 400:
                error = "redirect not followed" + (f" (to {answer.location[:200]})" if answer.location else "")
    except WebhookTargetRefused as exc:
        error = f"refused: {exc}"
    except Exception as exc:  # the network, TLS, the receiver: recorded, tried again later
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    entry = Try(at, code, error[:ERROR_LENGTH] if error else None, round((time.perf_counter() - started) * 1000))
    report.codes.append(code)
    try:
        status = _record(db, doc, worker, entry)
    except Exception:
        log.exception("recording the try of webhook delivery %s failed", doc["_id"])
        return SENDING  # the lease runs out and the delivery is tried again
    if status == DELIVERED:
        report.delivered += 1
    elif status == FAILED:
        report.failed += 1
    else:
        report.retrying += 1
    return status


def _request(
    db: Database, settings: Settings, doc: dict[str, Any]
) -> tuple[_urls.Target, str, dict[str, str], bytes] | str:
    """What to send, or why nothing can be sent."""
    body = doc["body"].encode()
    headers = {"User-Agent": USER_AGENT}
    secret: str | None
    if doc["kind"] == CALLBACK:
        unsealed = sealing.unseal(
            settings.secret, doc.get("sealed_request", ""), str(doc["_id"]), label=CALLBACK_SEAL_LABEL
        )
        if unsealed is None:
            return "the callback's headers could not be read (was HIREMATE_SECRET changed?)"
        parts = json.loads(unsealed)
        headers |= parts.get("headers") or {}
        secret, url, method = parts.get("signing_secret"), doc["url"], doc.get("method", "PATCH")
    else:
        endpoint = db[dbmod.WEBHOOK_ENDPOINTS].find_one({"_id": doc.get("endpoint_id")})
        if endpoint is None:
            return "the endpoint was removed"
        if not endpoint.get("enabled"):
            return "the endpoint is disabled"
        secret = secret_of(settings, endpoint)
        if secret is None:
            return "the endpoint's secret could not be read (was HIREMATE_SECRET changed?)"
        headers["Content-Type"] = "application/json"
        url, method = endpoint["url"], "POST"
    target = _urls.check_url(url, allow_private=settings.webhook_allow_private)
    if secret:
        timestamp = int(time.time())
        headers |= {
            "webhook-id": doc["msg_id"],
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, doc["msg_id"], timestamp, body),
        }
    return target, method, headers, body


def _record(db: Database, doc: dict[str, Any], worker: str, entry: Try) -> str:
    delivered = entry.code is not None and 200 <= entry.code < 300 and entry.error is None
    tries = int(doc["tries"])
    wait = None if doc.get("manual") else outbox.backoff_after(tries, BACKOFF)
    status = DELIVERED if delivered else (QUEUED if wait is not None else FAILED)
    changes: dict[str, Any] = {
        "status": status,
        "last_code": entry.code,
        "last_error": entry.error,
        "last_try_at": entry.at,
        "updated_at": entry.at,
    }
    if status == QUEUED:
        assert wait is not None
        changes["next_attempt_at"] = entry.at + wait
    else:
        changes["finished_at"] = entry.at
        if delivered:
            changes["delivered_at"] = entry.at
    db[dbmod.WEBHOOK_DELIVERIES].update_one(
        {"_id": doc["_id"], "lease_owner": worker},
        {
            "$set": changes,
            "$unset": {"lease_until": "", "lease_owner": "", "manual": ""},
            "$push": {
                "log": {
                    "$each": [{"at": entry.at, "code": entry.code, "error": entry.error, "ms": entry.ms}],
                    "$slice": -LOG_KEPT,
                }
            },
        },
    )
    return status


# ---------------------------------------------------------------- what the page shows; by hand


@dataclass(frozen=True)
class DeliveryView:
    id: ObjectId
    msg_id: str
    event_type: str
    status: str
    tries: int
    last_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    log: list[Try]


def _view(doc: dict[str, Any]) -> DeliveryView:
    return DeliveryView(
        id=doc["_id"],
        msg_id=doc["msg_id"],
        event_type=doc.get("event_type") or doc["kind"],
        status=doc["status"],
        tries=int(doc.get("tries", 0)),
        last_code=doc.get("last_code"),
        last_error=doc.get("last_error"),
        created_at=doc["created_at"],
        next_attempt_at=doc.get("next_attempt_at") if doc["status"] == QUEUED else None,
        log=[Try(e["at"], e.get("code"), e.get("error"), int(e.get("ms", 0))) for e in doc.get("log") or []],
    )


def list_deliveries(scope: Scope, endpoint_id: ObjectId | str, *, limit: int = 50) -> list[DeliveryView]:
    """An endpoint's deliveries, newest first."""
    oid = as_object_id(endpoint_id)
    if oid is None:
        return []
    docs = (
        scope.collection(dbmod.WEBHOOK_DELIVERIES)
        .find(scope.where({"endpoint_id": oid}), {"body": 0, "sealed_request": 0})
        .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        .limit(limit)
    )
    return [_view(doc) for doc in docs]


def get_delivery(scope: Scope, delivery_id: ObjectId | str) -> DeliveryView | None:
    oid = as_object_id(delivery_id)
    doc = None if oid is None else scope.collection(dbmod.WEBHOOK_DELIVERIES).find_one(scope.where({"_id": oid}))
    return None if doc is None else _view(doc)


def redeliver(scope: Scope, delivery_id: ObjectId | str, *, now: datetime | None = None) -> DeliveryView:
    """One more try of the same message (same ``webhook-id``), now. Admins only; audited."""
    if not scope.is_admin:
        raise WebhookError("Only an admin of your organisation can manage webhooks.")
    oid = as_object_id(delivery_id)
    if oid is None:
        raise WebhookError("no such webhook delivery in your organisation")
    at = now_or(now)
    current = scope.collection(dbmod.WEBHOOK_DELIVERIES).find_one(scope.where({"_id": oid}), {"status": 1})
    if current is None:
        raise WebhookError("no such webhook delivery in your organisation")
    # A finished delivery gets exactly one more try; a waiting one is only brought forward.
    finished = current["status"] in (DELIVERED, FAILED)
    doc = dbmod.find_one_and_update(
        scope.collection(dbmod.WEBHOOK_DELIVERIES),
        scope.where({"_id": oid, "status": current["status"], "lease_owner": {"$exists": False}}),
        {"$set": {"status": QUEUED, "next_attempt_at": at, "manual": finished, "updated_at": at}},
    )
    if doc is None:
        raise WebhookError("this delivery is being tried right now: look again in a few seconds")
    scope.audit("webhook.redelivered", "webhook_delivery", oid, previous=doc["status"])
    view = get_delivery(scope, oid)
    assert view is not None
    return view


def notices_of(db: Database, organization_id: ObjectId, attempt_id: ObjectId) -> list[dict[str, Any]]:
    """What was sent about an attempt, and to whom (the receiving host): the
    recipients an access request must name. Oldest first."""
    docs = list(
        db[dbmod.WEBHOOK_DELIVERIES].find(
            {"attempt_id": attempt_id, "organization_id": organization_id},
            {"body": 1, "event_type": 1, "status": 1, "created_at": 1, "delivered_at": 1, "endpoint_id": 1, "url": 1},
        )
    )
    endpoint_ids = [doc["endpoint_id"] for doc in docs if doc.get("endpoint_id")]
    hosts = {
        doc["_id"]: doc.get("host")
        for doc in db[dbmod.WEBHOOK_ENDPOINTS].find({"_id": {"$in": endpoint_ids}}, {"host": 1})
    }
    notices = []
    for doc in sorted(docs, key=lambda d: (d["created_at"], d["_id"])):
        host = hosts.get(doc.get("endpoint_id")) if doc.get("endpoint_id") else urlsplit(doc.get("url") or "").hostname
        notices.append(
            {
                "event_type": doc.get("event_type"),
                "recipient_host": host,
                "status": doc["status"],
                "queued_at": doc["created_at"],
                "delivered_at": doc.get("delivered_at"),
                "sent": json.loads(doc["body"]) if doc.get("body", "").startswith("{") else doc.get("body"),
            }
        )
    return notices


def purge_finished(db: Database, organization_id: ObjectId, *, now: datetime, dry_run: bool = False) -> int:
    """Deliveries delivered or failed more than 30 days ago (the log need not outlive that;
    those of an attempt also go with it, through ``erasure.erase_attempts``)."""
    query = {
        "organization_id": organization_id,
        "status": {"$in": [DELIVERED, FAILED]},
        "finished_at": {"$lt": now - PURGE_AFTER},
    }
    if dry_run:
        return db[dbmod.WEBHOOK_DELIVERIES].count_documents(query)
    return db[dbmod.WEBHOOK_DELIVERIES].delete_many(query).deleted_count
