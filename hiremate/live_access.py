"""May a live ticket's holder still watch? The database side of a live ticket.

A ticket's signature proves who it was minted for, and when it expires
(``live_tickets``). What it cannot prove is that the right still holds: the
ingest server asks this module at the handshake of ``/ws/live`` and then
periodically while the socket is open. The right holds while the ticket's user
exists, is active and belongs to the attempt's organisation, and, for a v2
ticket, while the login session that minted it has neither ended (logout,
deactivation, password reset) nor expired.
"""

from __future__ import annotations

from bson import ObjectId
from pymongo.database import Database

from hiremate import auth
from hiremate import db as dbmod
from hiremate.ids import as_object_id
from hiremate.live_tickets import TicketClaims


def access_refusal(db: Database, claims: TicketClaims, organization_id: ObjectId | None) -> str | None:
    """Why the ticket's user may no longer watch an attempt of
    ``organization_id`` (one short sentence), or None when they may."""
    user_id = as_object_id(claims.user_id)
    user = (
        None if user_id is None else db[dbmod.USERS].find_one({"_id": user_id}, {"is_active": 1, "organization_id": 1})
    )
    if user is None or user_id is None:
        return "the ticket's user does not exist"
    if user.get("is_active", True) is not True:
        return "the ticket's user has been deactivated"
    if organization_id is None or user.get("organization_id") != organization_id:
        return "the ticket's user is not in the attempt's organisation"
    if claims.session_id is not None:
        session_id = as_object_id(claims.session_id)
        if session_id is None or not auth.user_session_is_live(db, session_id, user_id):
            return "the session that minted the ticket has ended"
    return None
