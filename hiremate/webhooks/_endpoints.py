"""Endpoints (collection ``webhook_endpoints``): an organisation's receivers.

A document holds the URL, the event types it gets, whether it is enabled,
and its signing secret sealed (``hiremate.sealing``, bound to the endpoint's
id): the secret must be read back to sign, so it is encrypted rather than
hashed, and it is shown once, when made. Admins only; every change audited
with ids, counts and action names.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Any

from bson import ObjectId
from pydantic import BaseModel, ConfigDict

from hiremate import db as dbmod
from hiremate import sealing
from hiremate.errors import WebhookError
from hiremate.ids import as_object_id
from hiremate.scope import Scope
from hiremate.settings import Settings, get_settings
from hiremate.timeutil import utcnow
from hiremate.webhooks._urls import check_url

ATTEMPT_STARTED = "attempt.started"
ATTEMPT_COMPLETED = "attempt.completed"
ATTEMPT_EXPIRED = "attempt.expired"
REVIEW_DECIDED = "review.decided"
ACCOMMODATION_REQUESTED = "accommodation.requested"
EVENT_TYPES: dict[str, str] = {
    ATTEMPT_STARTED: "A candidate started an assessment",
    ATTEMPT_COMPLETED: "A candidate completed an assessment (with the profile's summary)",
    ATTEMPT_EXPIRED: "An assessment's link expired before it was completed",
    REVIEW_DECIDED: "A reviewer recorded a hiring decision on a profile",
    ACCOMMODATION_REQUESTED: "A candidate asked for an accommodation",
}
MAX_ENDPOINTS = 20  # per organisation
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
SEAL_LABEL = b"hiremate webhook endpoint secret v1"


class EndpointPublic(BaseModel):
    """What anyone may see of an endpoint (never its secret)."""

    model_config = ConfigDict(frozen=True)

    id: str
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime
    secret_rotated_at: datetime | None = None


def new_secret() -> str:
    """``whsec_`` and base64 of 24 random bytes, as the Standard Webhooks spec writes secrets."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret: its base64 part, decoded."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def check_events(events: list[str] | tuple[str, ...] | None) -> list[str]:
    """The event types asked for, checked; none means every one."""
    chosen = [str(e).strip() for e in (events or []) if str(e).strip()]
    unknown = sorted({e for e in chosen if e not in EVENT_TYPES})
    if unknown:
        raise WebhookError(f"unknown event type(s): {', '.join(unknown)}; choose from {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(chosen)) or list(EVENT_TYPES)


def public(doc: dict[str, Any]) -> EndpointPublic:
    return EndpointPublic(
        id=str(doc["_id"]),
        url=doc["url"],
        events=list(doc.get("events") or []),
        enabled=bool(doc.get("enabled")),
        created_at=doc["created_at"],
        secret_rotated_at=doc.get("secret_rotated_at"),
    )


def _require_admin(scope: Scope) -> None:
    if not scope.is_admin:
        raise WebhookError("Only an admin of your organisation can manage webhooks.")


def add_endpoint(
    scope: Scope, url: str, events: list[str] | tuple[str, ...] | None = None, *, settings: Settings | None = None
) -> tuple[EndpointPublic, str]:
    """Register a receiver of ``events`` (None or empty: all) at ``url``; returns it and its
    secret, which is shown this once. The URL is checked (``_urls.check_url``). Audited."""
    _require_admin(scope)
    settings = settings or get_settings()
    target = check_url(url, allow_private=settings.webhook_allow_private)
    chosen = check_events(events)
    collection = scope.collection(dbmod.WEBHOOK_ENDPOINTS)
    if collection.count_documents(scope.where(), limit=MAX_ENDPOINTS) >= MAX_ENDPOINTS:
        raise WebhookError(f"an organisation has at most {MAX_ENDPOINTS} webhook endpoints: remove one first")
    oid, now, secret = ObjectId(), utcnow(), new_secret()
    doc = {
        "_id": oid,
        "organization_id": scope.organization_id,
        "url": url.strip(),
        "host": target.host,
        "events": chosen,
        "enabled": True,
        "sealed_secret": sealing.seal(settings.secret, secret, str(oid), label=SEAL_LABEL),
        "created_at": now,
        "created_by": scope.user_id,
        "updated_at": now,
    }
    collection.insert_one(doc)
    scope.audit("webhook.endpoint_added", "webhook_endpoint", oid, events=len(chosen))
    return public(doc), secret


def list_endpoints(scope: Scope) -> list[EndpointPublic]:
    """The organisation's endpoints, oldest first."""
    docs = scope.collection(dbmod.WEBHOOK_ENDPOINTS).find(scope.where(), {"sealed_secret": 0}).limit(MAX_ENDPOINTS * 2)
    return sorted((public(doc) for doc in docs), key=lambda e: (e.created_at, e.id))


def get_endpoint(scope: Scope, endpoint_id: ObjectId | str) -> EndpointPublic | None:
    oid = as_object_id(endpoint_id)
    if oid is None:
        return None
    doc = scope.collection(dbmod.WEBHOOK_ENDPOINTS).find_one(scope.where({"_id": oid}), {"sealed_secret": 0})
    return None if doc is None else public(doc)


def _endpoint_id(scope: Scope, endpoint_id: ObjectId | str) -> ObjectId:
    oid = as_object_id(endpoint_id)
    if oid is None or scope.collection(dbmod.WEBHOOK_ENDPOINTS).find_one(scope.where({"_id": oid}), {"_id": 1}) is None:
        raise WebhookError("no such webhook endpoint in your organisation")
    return oid


def set_enabled(scope: Scope, endpoint_id: ObjectId | str, enabled: bool) -> EndpointPublic:
    """Pause (deliveries wait, none are made for new events) or resume an endpoint. Audited."""
    _require_admin(scope)
    oid = _endpoint_id(scope, endpoint_id)
    scope.collection(dbmod.WEBHOOK_ENDPOINTS).update_one(
        scope.where({"_id": oid}), {"$set": {"enabled": bool(enabled), "updated_at": utcnow()}}
    )
    scope.audit("webhook.endpoint_enabled" if enabled else "webhook.endpoint_disabled", "webhook_endpoint", oid)
    endpoint = get_endpoint(scope, oid)
    assert endpoint is not None
    return endpoint


def remove_endpoint(scope: Scope, endpoint_id: ObjectId | str) -> int:
    """Remove an endpoint with its deliveries and their log; returns how many deliveries went. Audited."""
    _require_admin(scope)
    oid = _endpoint_id(scope, endpoint_id)
    scope.collection(dbmod.WEBHOOK_ENDPOINTS).delete_one(scope.where({"_id": oid}))
    removed = scope.collection(dbmod.WEBHOOK_DELIVERIES).delete_many(scope.where({"endpoint_id": oid})).deleted_count
    scope.audit("webhook.endpoint_removed", "webhook_endpoint", oid, deliveries=removed)
    return removed


def rotate_secret(scope: Scope, endpoint_id: ObjectId | str, *, settings: Settings | None = None) -> str:
    """A new secret for the endpoint (shown once); the old one stops signing at once. Audited."""
    _require_admin(scope)
    settings = settings or get_settings()
    oid = _endpoint_id(scope, endpoint_id)
    secret, now = new_secret(), utcnow()
    scope.collection(dbmod.WEBHOOK_ENDPOINTS).update_one(
        scope.where({"_id": oid}),
        {
            "$set": {
                "sealed_secret": sealing.seal(settings.secret, secret, str(oid), label=SEAL_LABEL),
                "secret_rotated_at": now,
                "updated_at": now,
            }
        },
    )
    scope.audit("webhook.secret_rotated", "webhook_endpoint", oid)
    return secret


def secret_of(settings: Settings, doc: dict[str, Any]) -> str | None:
    """The endpoint's secret (None when it does not open: HIREMATE_SECRET changed)."""
    sealed = doc.get("sealed_secret")
    return None if not sealed else sealing.unseal(settings.secret, sealed, str(doc["_id"]), label=SEAL_LABEL)
