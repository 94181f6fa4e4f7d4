"""Helpers for AppTest tests of recruiter pages: real accounts in the test's
database (an admin who registered, or an organisation with a recruiter and
three tasks), attempts seeded by the simulator, a logged-in app opened on one
page, and text of what it shows."""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymongo.database import Database
from streamlit.testing.v1 import AppTest

from hiremate import attempt_counts, auth
from hiremate import db as dbmod
from hiremate.models import AttemptStatus, CandidateInfo, Role, Task, TaskAttempt, User
from hiremate.ops import simulate
from hiremate.scope import Scope

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-7"
_seeds = itertools.count(7000)


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_BCRYPT_ROUNDS", 4)


# ---------------------------------------------------------------- accounts


def make_admin(db: Database, org: str = "Acme", email: str = "ada@acme.test", name: str = "Ada Admin") -> User:
    return auth.register(db, email=email, full_name=name, password=PASSWORD, organization_name=org)


def make_member(db: Database, admin: User, email: str, name: str, role: Role = Role.RECRUITER) -> User:
    token = auth.invite(auth.scope_for(db, admin), email, role)
    return auth.register(db, email=email, full_name=name, password=PASSWORD, invitation_token=token)


def scope_of(db: Database, user: User) -> Scope:
    return auth.scope_for(db, user)


# ---------------------------------------------------------------- an organisation with candidates


@dataclass
class Org:
    scope: Scope
    user: User
    tasks: list[Task]

    @property
    def db(self) -> Database:
        return self.scope.db

    def open_page(self, page: str, **query: str) -> AppTest:
        """The app, logged in as the org's recruiter, on ``page`` with ``query``."""
        return open_page(self.db, self.user, page, timeout=30, **query)


def make_org(db: Database, name: str = "Acme", *, reasoning_required: bool | None = None) -> Org:
    """An organisation with one recruiter and three tasks (whether they
    require reasoning is drawn at random unless ``reasoning_required`` says)."""
    original = auth._BCRYPT_ROUNDS
    auth._BCRYPT_ROUNDS = 4  # fast hashes: these tests are not about passwords
    try:
        organization = auth.create_organization(db, name)
        user = auth.create_user(
            db,
            email=f"rita@{organization.slug}.test",
            full_name=f"Rita of {name}",
            password=PASSWORD,
            organization_id=organization.id,
        )
    finally:
        auth._BCRYPT_ROUNDS = original
    tasks = simulate.make_tasks(
        random.Random(next(_seeds)), 3, organization_id=organization.id, reasoning_required=reasoning_required
    )
    return Org(auth.scope_for(db, user), user, tasks)


def seed_completed(org: Org, name: str = "Ada Lovelace", email: str | None = None, **info: str) -> TaskAttempt:
    """A completed attempt with real events, metrics and profile; a fresh seed each."""
    candidate = CandidateInfo(
        name=name,
        email=email or f"{name.split()[0].lower()}.{next(_seeds)}@example.com",
        position=info.pop("position", "Analyst"),
        **info,
    )
    return simulate.seed_completed_attempt(
        org.db,
        organization_id=org.scope.organization_id,
        tasks=org.tasks,
        rng=random.Random(next(_seeds)),
        candidate=candidate,
    )


def seed_session(
    org: Org, *, status: AttemptStatus, stop_after_tasks: int = 1, **candidate: str
) -> tuple[TaskAttempt, simulate.SimulatedSession]:
    """A session that stopped partway (events stored, no profile), left
    in progress or ended with ``status``."""
    session = simulate.simulate_session(
        random.Random(next(_seeds)),
        tasks=org.tasks,
        organization_id=org.scope.organization_id,
        stop_after_tasks=stop_after_tasks,
        leave_open=True,
        started_at=simulate.utcnow() - simulate.SESSION_MARGIN,
        candidate=CandidateInfo(**{"name": "Grace Hopper", "email": "grace@example.com", **candidate}),
    )
    attempt = session.attempt if status == AttemptStatus.IN_PROGRESS else session.ended(status)
    doc = attempt.to_doc()
    org.db[dbmod.ATTEMPTS].insert_one(doc)
    attempt_counts.record_new(org.db, [doc])  # inserted directly: counted as seeding counts them
    org.db[dbmod.EVENTS].insert_many([event.to_doc() for event in session.behavior_events])
    return attempt, session


def stored_profile(org: Org, attempt: TaskAttempt) -> dict:
    return org.db[dbmod.PROFILES].find_one({"attempt_id": attempt.id})


def words(value: str) -> str:
    """A stored label as the pages should show it (written out here, not
    taken from the app, so the tests check the app's wording)."""
    text = value.replace("_", " ")
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------- the app


def open_page(db: Database, user: User, page: str, *, timeout: float = 20, **query: str) -> AppTest:
    """The app, logged in as ``user``, showing ``page`` (e.g. "app_pages/tasks.py")
    with the query parameters ``query``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.session_state["auth_token"] = auth.start_session(db, user, days=1)
    for key, value in query.items():
        at.query_params[key] = value
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
    """Markdown as read: without session.escape_markdown's backslashes."""
    return re.sub(r"\\(.)", r"\1", text)


def run_ok(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return run_ok(at)
