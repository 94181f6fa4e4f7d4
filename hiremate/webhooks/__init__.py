"""Webhooks: signed notices to an organisation's other systems, from a durable outbox.

Public functions (everything else is private to this package):

* endpoints, admins only, audited: ``add_endpoint(scope, url, events)``
  returns ``(EndpointPublic, secret)``, the ``whsec_`` secret shown this once
  (stored sealed: it must be read back to sign); ``list_endpoints``,
  ``get_endpoint``, ``set_enabled``, ``remove_endpoint``, ``rotate_secret``.
* the events, ``EVENT_TYPES``: one-line calls that never raise and read
  nothing more when no endpoint wants the event: ``attempt_started``,
  ``attempt_completed`` (after the profile is computed: its labels, the
  review state, links), ``attempt_expired``, ``accommodation_requested``
  (the ingest server calls these), ``review_decided`` (hiremate.reviews).
* ``emit(db, organization_id, type, data)``: one delivery per subscribed,
  enabled endpoint, only inserts; never raises.
* ``queue_callback(db, *, organization_id, attempt_id, url, method="PATCH",
  headers, body, signing_secret=None)``: any HTTP request through the same
  outbox (tries, back-off, lease, log, address rules), unsigned unless a
  ``whsec_`` secret is given; headers kept sealed. For adapters such as the
  Greenhouse partner API (its PATCH to the URL Greenhouse sent).
  Returns the delivery's id; ``get_delivery`` reads its state and log.
* ``drain(db, settings)`` (blocking, one by one) or ``claim_due`` and
  ``deliver`` (what the ingest server's loop runs, several at once in
  threads); ``redeliver(scope, delivery_id)`` (one more try of the same
  message, audited); ``list_deliveries(scope, endpoint_id)``;
  ``purge_finished`` (the retention purge); ``notices_of`` (what was sent
  about an attempt and to which host: an access request names recipients).
* ``sign(secret, msg_id, timestamp, body)``: the ``webhook-signature`` value.
* ``check_url(url, allow_private=...)``: the address rule (no server-side
  request forgery), raising WebhookTargetRefused.

docs/integrations.md "Webhooks" is the receiver's side (events, headers,
schedule, verification code); docs/architecture.md "Webhooks" the inside.
"""

from __future__ import annotations

from hiremate.errors import WebhookError, WebhookTargetRefused
from hiremate.outbox import QUEUED, SENDING, new_worker_id
from hiremate.webhooks._deliveries import (
    BACKOFF,
    CALLBACK,
    DELIVERED,
    EVENT,
    FAILED,
    MAX_TRIES,
    DeliveryView,
    DrainReport,
    Try,
    body_of,
    claim_due,
    deliver,
    drain,
    emit,
    get_delivery,
    list_deliveries,
    notices_of,
    purge_finished,
    queue_callback,
    redeliver,
    sign,
)
from hiremate.webhooks._endpoints import (
    ACCOMMODATION_REQUESTED,
    ATTEMPT_COMPLETED,
    ATTEMPT_EXPIRED,
    ATTEMPT_STARTED,
    EVENT_TYPES,
    MAX_ENDPOINTS,
    REVIEW_DECIDED,
    EndpointPublic,
    add_endpoint,
    check_events,
    get_endpoint,
    list_endpoints,
    remove_endpoint,
    rotate_secret,
    set_enabled,
)
from hiremate.webhooks._events import (
    accommodation_requested,
    attempt_completed,
    attempt_expired,
    attempt_started,
    links,
    profile_summary,
    review_decided,
    review_state,
)
from hiremate.webhooks._urls import MAX_URL_LENGTH, check_url

__all__ = [
    "ACCOMMODATION_REQUESTED",
    "ATTEMPT_COMPLETED",
    "ATTEMPT_EXPIRED",
    "ATTEMPT_STARTED",
    "BACKOFF",
    "CALLBACK",
    "DELIVERED",
    "EVENT",
    "EVENT_TYPES",
    "FAILED",
    "MAX_ENDPOINTS",
    "MAX_TRIES",
    "MAX_URL_LENGTH",
    "QUEUED",
    "REVIEW_DECIDED",
    "SENDING",
    "DeliveryView",
    "DrainReport",
    "EndpointPublic",
    "Try",
    "WebhookError",
    "WebhookTargetRefused",
    "accommodation_requested",
    "add_endpoint",
    "attempt_completed",
    "attempt_expired",
    "attempt_started",
    "body_of",
    "check_events",
    "check_url",
    "claim_due",
    "deliver",
    "drain",
    "emit",
    "get_delivery",
    "get_endpoint",
    "links",
    "list_deliveries",
    "list_endpoints",
    "new_worker_id",
    "notices_of",
    "profile_summary",
    "purge_finished",
    "queue_callback",
    "redeliver",
    "remove_endpoint",
    "review_decided",
    "review_state",
    "rotate_secret",
    "set_enabled",
    "sign",
]
