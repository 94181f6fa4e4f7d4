"""Live tickets: short-lived signed permits for ``/ws/live/{attempt_id}``.

The recruiter app mints one for a logged-in user of the attempt's
organisation (``mint_ticket``); the ingest server checks it
(``verify_ticket``) and then compares the claims with the attempt. An
HMAC-SHA256 with ``HIREMATE_SECRET`` covers the attempt id, the user id, the
organisation id and the expiry, so a ticket can be neither altered nor
reused for another attempt. Pure: no socket, no database.

Format (URL-safe, no padding): ``v1.<attempt_id>.<user_id>.<organization_id>.<expires unix s>.<mac>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hiremate.errors import TicketError as TicketError  # re-exported: live_tickets.TicketError
from hiremate.errors import TicketExpired, TicketForged, TicketMalformed
from hiremate.timeutil import utcnow

TICKET_TTL_SECONDS = 300
_VERSION = "v1"
_DOMAIN = b"hiremate/live-ticket/v1\x00"
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_MAC = re.compile(r"^[A-Za-z0-9_\-]{43}$")


@dataclass(frozen=True)
class TicketClaims:
    attempt_id: str
    user_id: str
    organization_id: str
    expires_at: datetime


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, _DOMAIN + body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _id(value: Any, name: str) -> str:
    text = str(value)
    if not _ID.match(text):
        raise ValueError(f"{name} must be 1-64 letters, digits, '_' or '-'")
    return text


def mint_ticket(
    secret: bytes,
    *,
    attempt_id: Any,
    user_id: Any,
    organization_id: Any,
    now: datetime | None = None,
    ttl_seconds: int = TICKET_TTL_SECONDS,
) -> str:
    """A ticket for one user of one organisation to watch one attempt."""
    if not secret:
        raise ValueError("a ticket needs a secret")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued = now or utcnow()
    expires = int(issued.timestamp()) + int(ttl_seconds)
    body = ".".join(
        (
            _VERSION,
            _id(attempt_id, "attempt_id"),
            _id(user_id, "user_id"),
            _id(organization_id, "organization_id"),
            str(expires),
        )
    )
    return f"{body}.{_mac(secret, body)}"


def verify_ticket(secret: bytes, ticket: str | None, *, now: datetime | None = None) -> TicketClaims:
    """The claims of a genuine, unexpired ticket; raises ``TicketError`` otherwise."""
    if not isinstance(ticket, str) or not ticket or len(ticket) > 512:
        raise TicketMalformed("missing or malformed ticket")
    parts = ticket.split(".")
    if len(parts) != 6 or parts[0] != _VERSION:
        raise TicketMalformed("malformed ticket")
    _, attempt_id, user_id, organization_id, expires_text, mac = parts
    if not all(_ID.match(p) for p in (attempt_id, user_id, organization_id)) or not (
        expires_text.isdigit() and len(expires_text) <= 12
    ):
        raise TicketMalformed("malformed ticket")
    if not _MAC.match(mac):
        raise TicketMalformed("malformed ticket signature")
    body = ticket[: -(len(mac) + 1)]
    if not hmac.compare_digest(_mac(secret, body), mac):
        raise TicketForged("the ticket signature does not match")
    expires = int(expires_text)
    current = (now or utcnow()).timestamp()
    if expires <= current:
        raise TicketExpired("the ticket has expired")
    return TicketClaims(
        attempt_id=attempt_id,
        user_id=user_id,
        organization_id=organization_id,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )
