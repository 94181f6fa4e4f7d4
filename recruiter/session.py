"""The Streamlit side of accounts: who uses this browser tab, logging in and
out, and the cookie that keeps a login across page reloads.

A Streamlit script cannot set a cookie, so ``asgi.py`` adds two HTTP routes
around the app. Logging in starts a session, keeps its token in this tab's
session state and, when those routes are there, sends the browser to
``SESSION_ROUTE`` with the token; the route swaps it for a fresh one
(``auth.rotate_session``), sets it as a signed HttpOnly cookie and sends the
browser back. A reload then finds the cookie in ``st.context.cookies``.
Without the routes (``streamlit run app.py``, AppTest) a login lasts as long
as the tab's session.

Pages use ``require_user()`` and ``current_scope()``; ``database_guard()``
turns a database that does not answer into a message instead of a traceback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import urlencode, urlsplit

import streamlit as st
from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import ConnectionFailure

from hiremate import auth
from hiremate.db import StoreUnavailable, get_db
from hiremate.models import User
from hiremate.scope import Scope
from hiremate.settings import get_settings

COOKIE_NAME = "hiremate_session"
SESSION_ROUTE = "/auth/session"
SIGNOUT_ROUTE = "/auth/signout"
# Set by asgi.py in the server process: the cookie routes exist. An
# environment variable, not a module flag, because Streamlit may re-import
# project modules when their files change.
COOKIE_ROUTES_ENV = "HIREMATE_COOKIE_ROUTES"
# What "the database does not answer" looks like (other errors are bugs).
DATABASE_DOWN = (StoreUnavailable, ConnectionFailure)
DATABASE_DOWN_MESSAGE = (
    "The database does not answer right now. Try again in a moment; if this persists, tell your administrator."
)

_TOKEN_KEY = "auth_token"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
_log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the cookie value


def seal(token: str) -> str:
    """The cookie value for a session token: the token and its HMAC."""
    return f"{token}.{_signature(token)}"


def unseal(value: str | None) -> str | None:
    """The session token of a cookie value, or None when it was not sealed here."""
    if not isinstance(value, str):
        return None
    token, _, signature = value.rpartition(".")
    if token and hmac.compare_digest(signature, _signature(token)):
        return token
    return None


def _signature(token: str) -> str:
    digest = hmac.new(get_settings().secret, b"session-cookie:" + token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def escape_markdown(text: str) -> str:
    """``text`` shown literally by st.markdown and friends (user-typed names
    must not become links or formatting)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def local_path(path: str | None) -> str:
    """``path`` when it stays on this site, else "/" (no open redirects)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


# ---------------------------------------------------------------- the user of this tab


@contextmanager
def database_guard() -> Iterator[None]:
    """Show a clear message and stop the page when the database does not answer."""
    try:
        yield
    except DATABASE_DOWN as exc:
        _log.warning("database unavailable: %s", exc)
        st.error(DATABASE_DOWN_MESSAGE, icon=":material/cloud_off:")
        st.stop()


def on_script_error(error: Exception) -> bool:
    """st.App's last resort for any page: a database that stopped answering
    mid-page becomes the message; anything else keeps Streamlit's display."""
    if isinstance(error, DATABASE_DOWN):
        _log.warning("database unavailable: %s", error)
        st.error(DATABASE_DOWN_MESSAGE, icon=":material/cloud_off:")
        return True
    return False


def database() -> Database:
    with database_guard():
        return get_db()


def current_user() -> User | None:
    """The logged-in user of this tab (re-read each run: a deactivated user
    or an ended session is logged out at the next interaction)."""
    token = _session_token()
    if not token:
        return None
    with database_guard():
        user = auth.user_for_session(database(), token)
    if user is None:
        st.session_state.pop(_TOKEN_KEY, None)
    return user


def current_session_id() -> ObjectId | None:
    """The id of this tab's login session (a live ticket is bound to it, so
    it stops working when this session ends); None when logged out."""
    token = _session_token()
    if not token:
        return None
    with database_guard():
        return auth.live_session_id(database(), token)


def require_user() -> User:
    """The logged-in user; a page calls this first (app.py gates already,
    this is the second lock)."""
    user = current_user()
    if user is None:
        st.warning("Please log in.")
        st.stop()
    return user


def current_scope() -> Scope:
    """The scope of the logged-in user: every query of a page goes through it."""
    user = require_user()
    return auth.scope_for(database(), user)


def client_key() -> str:
    """An HMAC of the client's IP, for login throttling ("" when unknown)."""
    ip = st.context.ip_address
    if get_settings().trust_proxy:
        forwarded = st.context.headers.get("X-Forwarded-For")
        if isinstance(forwarded, str) and forwarded.strip():
            ip = forwarded.split(",")[0].strip()
    if not isinstance(ip, str) or not ip:  # None on localhost (and not a str under AppTest)
        return ""
    return hmac.new(get_settings().secret, b"client-ip:" + ip.encode(), hashlib.sha256).hexdigest()[:32]


def _session_token() -> str | None:
    return st.session_state.get(_TOKEN_KEY) or unseal(st.context.cookies.get(COOKIE_NAME))


# ---------------------------------------------------------------- logging in and out


def log_in(user: User) -> NoReturn:
    """Start a session for ``user`` in this tab and, where the routes exist,
    in the cookie; then rerun (or reload) the app."""
    with database_guard():
        token = auth.start_session(database(), user, days=get_settings().session_days)
    st.session_state[_TOKEN_KEY] = token
    if _cookie_routes_enabled():
        _send_browser_to(f"{SESSION_ROUTE}?{urlencode({'code': token, 'next': _current_path()})}")
    st.rerun()


def log_out() -> NoReturn:
    """End the session on the server (the cookie, if any, then opens nothing)
    and clear the cookie."""
    token = _session_token()
    if token:
        with database_guard():
            auth.end_session(database(), token)
    st.session_state.pop(_TOKEN_KEY, None)
    if _cookie_routes_enabled() and COOKIE_NAME in st.context.cookies:
        _send_browser_to(SIGNOUT_ROUTE)
    st.rerun()


def _cookie_routes_enabled() -> bool:
    return os.environ.get(COOKIE_ROUTES_ENV) == "1"


def _current_path() -> str:
    return local_path(urlsplit(st.context.url or "").path)


def _send_browser_to(url: str) -> NoReturn:
    # The message st.login uses to send the browser elsewhere; the front end
    # sets window.location to it. Internal API of the pinned streamlit 1.67
    # (tests/test_app.py's end-to-end test fails if it changes).
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None:
        message = ForwardMsg()
        message.auth_redirect.url = url
        ctx.enqueue(message)
    st.stop()
