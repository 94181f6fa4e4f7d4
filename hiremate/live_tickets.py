"""Live tickets: short-lived signed permits for ``/ws/live/{attempt_id}``.

The recruiter app mints one for a logged-in user of the attempt's
organisation (``mint_ticket``); the ingest server checks it
(``verify_ticket``) and then compares the claims with the attempt. An
HMAC-SHA256 with ``HIREMATE_SECRET`` covers the attempt id, the user id, the
organisation id and the expiry, so a ticket can be neither altered nor
reused for another attempt. Pure: no socket, no database.

Format (URL-safe, no padding):
``v2.<attempt_id>.<user_id>.<organization_id>.<session_id>.<expires unix s>.<mac>``,
where ``session_id`` is the ``_id`` of the recruiter's login session that
minted it (not a secret: it opens nothing by itself), so the ingest server can
close the live socket when that session ends. The older
``v1.<attempt_id>.<user_id>.<organization_id>.<expires unix s>.<mac>`` (no
session) is still verified: it carries no session, so only its user and
organisation can be checked. The recruiter app mints v2.

What the signature cannot tell (is the user still active, still in the
organisation, still signed in?) the ingest server asks the database:
``hiremate.live_access``.
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
_V1, _V2 = "v1", "v2"
_DOMAINS = {_V1: b"hiremate/live-ticket/v1\x00", _V2: b"hiremate/live-ticket/v2\x00"}
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_MAC = re.compile(r"^[A-Za-z0-9_\-]{43}$")


@dataclass(frozen=True)
class TicketClaims:
    attempt_id: str
    user_id: str
    organization_id: str
    expires_at: datetime
    session_id: str | None = None  # v2: the login session that minted it; None for v1
    ticket_id: str = ""  # the ticket's signature: tells one ticket from another (sockets per ticket)


def _mac(secret: bytes, body: str) -> str:
    domain = _DOMAINS[body.split(".", 1)[0]]
    digest = hmac.new(secret, domain + body.encode("ascii"), hashlib.sha256).digest()
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
    session_id: Any = None,
    now: datetime | None = None,
    ttl_seconds: int = TICKET_TTL_SECONDS,
) -> str:
    """A ticket for one user of one organisation to watch one attempt; with
    ``session_id`` (the recruiter app always passes it) a v2 ticket bound to
    that login session, without it a v1 ticket."""
    if not secret:
        raise ValueError("a ticket needs a secret")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued = now or utcnow()
    expires = int(issued.timestamp()) + int(ttl_seconds)
    ids = [_id(attempt_id, "attempt_id"), _id(user_id, "user_id"), _id(organization_id, "organization_id")]
    if session_id is not None:
        body = ".".join((_V2, *ids, _id(session_id, "session_id"), str(expires)))
    else:
        body = ".".join((_V1, *ids, str(expires)))
    return f"{body}.{_mac(secret, body)}"


def verify_ticket(secret: bytes, ticket: str | None, *, now: datetime | None = None) -> TicketClaims:
    """The claims of a genuine, unexpired ticket (v1 or v2); raises ``TicketError`` otherwise."""
    if not isinstance(ticket, str) or not ticket or len(ticket) > 512:
        raise TicketMalformed("missing or malformed ticket")
    parts = ticket.split(".")
    if not ((parts[0] == _V1 and len(parts) == 6) or (parts[0] == _V2 and len(parts) == 7)):
        raise TicketMalformed("malformed ticket")
    ids, expires_text, mac = parts[1:-2], parts[-2], parts[-1]
    if not all(_ID.match(p) for p in ids) or not (expires_text.isdigit() and len(expires_text) <= 12):
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
    attempt_id, user_id, organization_id = ids[:3]
    return TicketClaims(
        attempt_id=attempt_id,
        user_id=user_id,
        organization_id=organization_id,
        expires_at=datetime.fromtimestamp(expires, UTC),
        session_id=ids[3] if len(ids) == 4 else None,
        ticket_id=mac,
    )
