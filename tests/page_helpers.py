"""Helpers for AppTest tests of recruiter pages: real accounts in the test's
database, a logged-in app opened on one page, and text of what it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pymongo.database import Database
from streamlit.testing.v1 import AppTest

from hiremate import auth
from hiremate.models import Role, User
from hiremate.scope import Scope

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-7"


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_BCRYPT_ROUNDS", 4)


def make_admin(db: Database, org: str = "Acme", email: str = "ada@acme.test", name: str = "Ada Admin") -> User:
    return auth.register(db, email=email, full_name=name, password=PASSWORD, organization_name=org)


def make_member(db: Database, admin: User, email: str, name: str, role: Role = Role.RECRUITER) -> User:
    token = auth.invite(auth.scope_for(db, admin), email, role)
    return auth.register(db, email=email, full_name=name, password=PASSWORD, invitation_token=token)


def scope_of(db: Database, user: User) -> Scope:
    return auth.scope_for(db, user)


def open_page(db: Database, user: User, page: str, timeout: float = 20) -> AppTest:
    """The app, logged in as ``user``, showing ``page`` (e.g. "app_pages/tasks.py")."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.session_state["auth_token"] = auth.start_session(db, user, days=1)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Every piece of text the page shows (markdown, captions, headings,
    alerts, code, text, widget labels and radio options), one per line,
    unescaped."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "code", "info", "success"):
        parts += [str(element.value) for element in getattr(at, kind)]
    parts += [str(e.value) for e in at.warning] + [str(e.value) for e in at.error]
    for kind in ("text_input", "text_area", "selectbox", "number_input", "checkbox", "multiselect", "button"):
        parts += [str(widget.label) for widget in getattr(at, kind)]
    for radio in at.radio:
        parts += [radio.label, *map(str, radio.options)]
    return unescape("\n".join(parts))


def unescape(text: str) -> str:
    """Markdown as read: without web.escape_markdown's backslashes."""
    return re.sub(r"\\(.)", r"\1", text)


def run_ok(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return run_ok(at)
