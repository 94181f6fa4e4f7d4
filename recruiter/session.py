"""The Streamlit side of accounts: who uses this browser tab, logging in and
out, and the cookies that keep a login across page reloads.

A Streamlit script cannot set a cookie, so ``asgi.py`` adds HTTP routes
around the app, and the hand-over from the login form to the cookie is bound
to the browser that sent the form:

1. A logged-out browser without a login nonce is sent once to
   ``BEGIN_ROUTE``, which sets one: ``LOGIN_COOKIE``, random, HttpOnly,
   SameSite=Strict, so no other site's request carries it, and sends it back.
   The Streamlit script reads cookies (``st.context.cookies``) but no script
   in the page can.
2. The login form (``log_in``) starts a session bound to that nonce
   (``auth.start_session(handover=...)``) and sends the browser to
   ``SESSION_ROUTE``. A GET there changes nothing: it is a page that POSTs
   back at once (or on a click, without JavaScript).
3. The POST swaps the session for a fresh token (``auth.complete_handover``)
   only for the browser whose nonce cookie the login was bound to, once,
   within 120 s, sets it as the signed HttpOnly ``COOKIE_NAME``, gives the
   browser a device token (``DEVICE_COOKIE``, see ``hiremate.throttle``),
   drops the nonce and redirects to where the user was. Nothing in a URL
   opens a session, and a hand-over started in one browser does nothing in
   another.

Logging out ends the session on the server first, then sends the browser to
``SIGNOUT_ROUTE``, whose GET only clears a cookie whose session has already
ended; a POST there ends a session and clears it (same site only). A reload
finds the cookie in ``st.context.cookies``. Without the routes (``streamlit
run app.py``, AppTest) or in a browser that refuses cookies, a login lasts as
long as the tab's session.

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
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import urlencode, urlsplit

import streamlit as st
from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import ConnectionFailure

from hiremate import auth, throttle
from hiremate.db import StoreUnavailable, get_db
from hiremate.models import Role, User
from hiremate.scope import Scope
from hiremate.settings import get_settings

COOKIE_NAME = "hiremate_session"
LOGIN_COOKIE = "hiremate_login"  # the login nonce (SameSite=Strict)
DEVICE_COOKIE = "hiremate_device"  # the browser's device token for its last account
BEGIN_ROUTE = "/auth/begin"
SESSION_ROUTE = "/auth/session"
SIGNOUT_ROUTE = "/auth/signout"
# Added by BEGIN_ROUTE to the way back: the browser was there, so a nonce
# still missing means it refuses cookies (and must not be sent again).
BEGUN_PARAM = "hm_login"
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


def seal(token: str, purpose: str = COOKIE_NAME, *, secret: bytes | None = None) -> str:
    """The value of the cookie ``purpose`` for ``token``: the token and its
    HMAC (one cookie's value is never valid as another's). ``secret``: this
    process's by default; another's, for a client of a running app."""
    return f"{token}.{_signature(token, purpose, secret)}"


def unseal(value: str | None, purpose: str = COOKIE_NAME) -> str | None:
    """The token of a cookie value, or None when it was not sealed here for ``purpose``."""
    if not isinstance(value, str):
        return None
    token, _, signature = value.rpartition(".")
    if token and hmac.compare_digest(signature, _signature(token, purpose)):
        return token
    return None


def _signature(token: str, purpose: str, secret: bytes | None = None) -> str:
    label = b"session-cookie:" if purpose == COOKIE_NAME else purpose.encode() + b":"
    digest = hmac.new(secret or get_settings().secret, label + token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_login_nonce() -> str:
    """A value for LOGIN_COOKIE: a fresh random nonce, sealed."""
    return seal(secrets.token_urlsafe(32), LOGIN_COOKIE)


def new_device_cookie(user: User, previous: str | None) -> str:
    """A value for DEVICE_COOKIE: this browser's id (kept when it had one)
    for ``user``'s account, sealed."""
    device_id = (unseal(previous, DEVICE_COOKIE) or "").partition(":")[0] or secrets.token_urlsafe(16)
    return seal(throttle.device_token(device_id, throttle.account_tag(user.email)), DEVICE_COOKIE)


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


def current_user(*, touch: bool = True) -> User | None:
    """The logged-in user of this tab (re-read each run: a deactivated user
    or an ended or idle session is logged out at the next interaction).
    ``touch=False`` for runs nobody asked for (a timer), which must not keep
    an idle session alive."""
    token = _session_token()
    if not token:
        return None
    with database_guard():
        user = auth.user_for_session(database(), token, idle_hours=get_settings().session_idle_hours, touch=touch)
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


def require_admin(page_title: str) -> User:
    """The logged-in admin; for a recruiter, a notice and the page stops
    (app.py gates admin pages already, this is the second lock)."""
    user = require_user()
    if user.role != Role.ADMIN:
        st.warning(f"The {page_title} page is for admins of your organisation.")
        st.stop()
    return user


def current_scope() -> Scope:
    """The scope of the logged-in user: every query of a page goes through it."""
    user = require_user()
    return auth.scope_for(database(), user)


def client_key() -> str:
    """Who is asking, for throttling: an HMAC of the client's address ("" when
    unknown, as on localhost). Behind HIREMATE_TRUST_PROXY the address is the
    right-most X-Forwarded-For entry our proxies did not write
    (``throttle.client_address``): the left-most is whatever the client sent."""
    settings = get_settings()
    peer = st.context.ip_address
    forwarded = st.context.headers.get_all("X-Forwarded-For") if settings.trust_proxy else []
    address = throttle.client_address(
        peer if isinstance(peer, str) else None,  # not a str under AppTest
        [value for value in forwarded if isinstance(value, str)],
        trust_proxy=settings.trust_proxy,
        proxy_hops=settings.proxy_hops,
    )
    return throttle.client_key(address, settings.secret)


def _session_token() -> str | None:
    return st.session_state.get(_TOKEN_KEY) or unseal(st.context.cookies.get(COOKIE_NAME))


# ---------------------------------------------------------------- logging in and out


def device_token() -> str:
    """This browser's device token (DEVICE_COOKIE), for ``auth.authenticate``."""
    return unseal(st.context.cookies.get(DEVICE_COOKIE), DEVICE_COOKIE) or ""


def _login_nonce() -> str | None:
    return unseal(st.context.cookies.get(LOGIN_COOKIE), LOGIN_COOKIE)


def prepare_login() -> None:
    """Before the login forms: make sure this browser holds a login nonce,
    so a login can be handed over to it (and to it only). Without one, the
    browser is sent to BEGIN_ROUTE once; a browser that comes back still
    without one refuses cookies, and gets a tab-only login instead."""
    if not _cookie_routes_enabled():
        return
    if _login_nonce():
        if BEGUN_PARAM in st.query_params:
            del st.query_params[BEGUN_PARAM]
        return
    if BEGUN_PARAM in st.query_params:
        st.info("This browser does not keep HireMate's cookies, so a login lasts until you close this tab.")
        return
    _send_browser_to(f"{BEGIN_ROUTE}?{urlencode({'next': _current_path(with_query=True)})}")


def log_in(user: User) -> NoReturn:
    """Start a session for ``user`` in this tab and, where the routes exist,
    hand it over to this browser's cookie; then rerun (or reload) the app."""
    nonce = _login_nonce() if _cookie_routes_enabled() else None
    with database_guard():
        token = auth.start_session(
            database(),
            user,
            days=get_settings().session_days,
            handover=nonce or "",
            next_path=_current_path(with_query=True),
        )
    st.session_state[_TOKEN_KEY] = token
    if nonce:
        _send_browser_to(SESSION_ROUTE)
    st.rerun()


def log_out() -> NoReturn:
    """End the session on the server (the cookie, if any, then opens nothing)
    and have the browser drop the cookie."""
    token = _session_token()
    if token:
        with database_guard():
            auth.end_session(database(), token)
    st.session_state.pop(_TOKEN_KEY, None)
    if _cookie_routes_enabled() and COOKIE_NAME in st.context.cookies:
        _send_browser_to(SIGNOUT_ROUTE)
    st.rerun()


def change_password(user: User, current_password: str, new_password: str) -> User:
    """Change the user's own password from this tab: this session stays,
    every other one of the user ends."""
    with database_guard():
        return auth.change_password(
            database(),
            user,
            current_password,
            new_password,
            keep_token=_session_token() or "",
            client_key=client_key(),
            device=device_token(),
        )


def _cookie_routes_enabled() -> bool:
    return os.environ.get(COOKIE_ROUTES_ENV) == "1"


def _current_path(*, with_query: bool = False) -> str:
    path = urlsplit(st.context.url or "").path or "/"
    if with_query:
        query = {key: value for key, value in st.query_params.to_dict().items() if key != BEGUN_PARAM}
        if query:
            path += "?" + urlencode(query)
    return local_path(path)


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
