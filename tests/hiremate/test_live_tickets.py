"""hiremate.live_tickets: signed live tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st

from hiremate.live_tickets import (
    TicketError,
    TicketExpired,
    TicketForged,
    TicketMalformed,
    mint_ticket,
    verify_ticket,
)

SECRET = b"live-secret"
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def ids():
    return {"attempt_id": ObjectId(), "user_id": ObjectId(), "organization_id": ObjectId()}


def test_round_trip():
    claims = ids()
    ticket = mint_ticket(SECRET, **claims, now=NOW)
    verified = verify_ticket(SECRET, ticket, now=NOW + timedelta(seconds=299))
    assert verified.attempt_id == str(claims["attempt_id"])
    assert verified.user_id == str(claims["user_id"])
    assert verified.organization_id == str(claims["organization_id"])
    assert verified.expires_at == NOW + timedelta(seconds=300)


def test_url_safe():
    ticket = mint_ticket(SECRET, **ids(), now=NOW)
    assert all(c.isalnum() or c in "._-" for c in ticket)


def test_expired_after_five_minutes():
    ticket = mint_ticket(SECRET, **ids(), now=NOW)
    with pytest.raises(TicketExpired):
        verify_ticket(SECRET, ticket, now=NOW + timedelta(seconds=300))
    short = mint_ticket(SECRET, **ids(), now=NOW, ttl_seconds=10)
    with pytest.raises(TicketExpired):
        verify_ticket(SECRET, short, now=NOW + timedelta(seconds=11))


def test_other_secret_is_forged():
    ticket = mint_ticket(SECRET, **ids(), now=NOW)
    with pytest.raises(TicketForged):
        verify_ticket(b"other", ticket, now=NOW)


@pytest.mark.parametrize("part", [1, 2, 3, 4])
def test_any_changed_claim_is_forged(part):
    ticket = mint_ticket(SECRET, **ids(), now=NOW)
    pieces = ticket.split(".")
    pieces[part] = str(ObjectId()) if part < 4 else str(int(pieces[4]) + 3600)
    with pytest.raises(TicketForged):
        verify_ticket(SECRET, ".".join(pieces), now=NOW)


@pytest.mark.parametrize("ticket", [None, "", "x", "v1.a.b.c.d.e", "v2.a.b.c.1.x", "v1.a.b.c.1", "a" * 600, 5])
def test_malformed(ticket):
    with pytest.raises(TicketMalformed):
        verify_ticket(SECRET, ticket, now=NOW)


@given(st.text(max_size=200))
def test_junk_never_verifies(text):
    with pytest.raises(TicketError):
        verify_ticket(SECRET, text, now=NOW)


def test_mint_refuses_bad_input():
    with pytest.raises(ValueError):
        mint_ticket(b"", **ids())
    with pytest.raises(ValueError):
        mint_ticket(SECRET, attempt_id="a.b", user_id="u", organization_id="o")
    with pytest.raises(ValueError):
        mint_ticket(SECRET, **ids(), ttl_seconds=0)


# ---------------------------------------------------------------- v2: bound to the minting session


def test_v2_round_trip_carries_the_session():
    claims, session_id = ids(), ObjectId()
    ticket = mint_ticket(SECRET, **claims, session_id=session_id, now=NOW)
    assert ticket.startswith("v2.") and len(ticket.split(".")) == 7
    verified = verify_ticket(SECRET, ticket, now=NOW + timedelta(seconds=299))
    assert verified.session_id == str(session_id)
    assert verified.user_id == str(claims["user_id"])
    assert verified.ticket_id == ticket.rsplit(".", 1)[1]
    assert verify_ticket(SECRET, mint_ticket(SECRET, **claims, now=NOW), now=NOW).session_id is None  # v1


@pytest.mark.parametrize("part", [1, 2, 3, 4, 5])
def test_any_changed_v2_claim_is_forged(part):
    ticket = mint_ticket(SECRET, **ids(), session_id=ObjectId(), now=NOW)
    pieces = ticket.split(".")
    pieces[part] = str(ObjectId()) if part < 5 else str(int(pieces[5]) + 3600)
    with pytest.raises(TicketForged):
        verify_ticket(SECRET, ".".join(pieces), now=NOW)


def test_v1_and_v2_cannot_be_turned_into_each_other():
    claims = ids()
    v1 = mint_ticket(SECRET, **claims, now=NOW)
    pieces = v1.split(".")
    relabelled = ".".join(["v2", *pieces[1:]])  # six parts with a v2 label
    with pytest.raises(TicketMalformed):
        verify_ticket(SECRET, relabelled, now=NOW)
    v2 = mint_ticket(SECRET, **claims, session_id=ObjectId(), now=NOW).split(".")
    # Dropping the session and relabelling keeps the v2 signature: it is over another domain.
    with pytest.raises(TicketForged):
        verify_ticket(SECRET, ".".join(["v1", *v2[1:4], *v2[5:]]), now=NOW)
