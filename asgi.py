"""The recruiter app's entry point: `streamlit run asgi.py`.

Streamlit's ASGI app around the router (app.py), plus the two HTTP routes
that set and clear the HttpOnly session cookie, which a Streamlit script
cannot do itself (recruiter/session.py describes the hand-over).
"""

from __future__ import annotations

import contextlib
import os

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from hiremate import auth
from hiremate.db import get_db
from hiremate.settings import get_settings
from recruiter import session
from recruiter.security_headers import SecurityHeaders

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def start_cookie_session(request: Request) -> Response:
    """GET SESSION_ROUTE?code=<token>&next=<path>: swap the login form's fresh
    session token for the cookie's, then go back to the app."""
    try:
        token = auth.rotate_session(get_db(), request.query_params.get("code", ""))
    except session.DATABASE_DOWN:
        return PlainTextResponse(session.DATABASE_DOWN_MESSAGE, status_code=503, headers=_NO_STORE)
    response = RedirectResponse(
        session.local_path(request.query_params.get("next")), status_code=303, headers=_NO_STORE
    )
    if token:
        response.set_cookie(
            session.COOKIE_NAME,
            session.seal(token),
            max_age=get_settings().session_days * 86400,
            path="/",
            secure=_is_https(request),
            httponly=True,
            samesite="lax",
        )
    return response


def sign_out(request: Request) -> Response:
    """GET SIGNOUT_ROUTE: end the cookie's session and clear the cookie."""
    token = session.unseal(request.cookies.get(session.COOKIE_NAME))
    if token:
        # The app ended it already; this covers a bare visit. When the
        # database is down the cookie is cleared all the same.
        with contextlib.suppress(*session.DATABASE_DOWN):
            auth.end_session(get_db(), token)
    response = RedirectResponse("/", status_code=303, headers=_NO_STORE)
    response.delete_cookie(session.COOKIE_NAME, path="/", secure=_is_https(request), httponly=True, samesite="lax")
    return response


def _is_https(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    return get_settings().trust_proxy and request.headers.get("x-forwarded-proto") == "https"


# Plain (sync) handlers: Starlette runs them in its thread pool, so blocking
# pymongo calls never stall the event loop Streamlit's sockets share.
os.environ[session.COOKIE_ROUTES_ENV] = "1"
app = st.App(
    "app.py",
    on_script_error=session.on_script_error,
    # Outermost: every HTTP answer (pages, assets, the routes below) gets the
    # security headers (recruiter/security_headers.py).
    middleware=[Middleware(SecurityHeaders)],
    routes=[
        Route(session.SESSION_ROUTE, start_cookie_session, methods=["GET"]),
        Route(session.SIGNOUT_ROUTE, sign_out, methods=["GET"]),
    ],
)
