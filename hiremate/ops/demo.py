"""The demo organisation: an admin recruiter to log in with, the task library
and a dozen simulated candidates who completed assessments over it, so that a
newcomer finds profiles to open and compare at once.

``seed_demo`` only creates what is missing, so it is safe to run at every
start, and from two processes at once: the unique indexes on the slug, the
email and the library keys settle any race, and the simulated attempts have
fixed ids (derived from the organisation's id), so each is stored once, with
its events, metrics and profile (``simulate.seed_completed_attempts`` with
``attempt_ids``). Attempts are never deleted, so a candidate once seeded
stays. It ends by recounting the demo organisation's attempt counters
(idempotent, and cheap for demo data; the launcher seeds before it starts
the ingest server, so no writer races it).

The admin's password is random per data folder: generated once into
``HIREMATE_DATA_DIR/demo-password`` (exclusive create, mode 0600, like the
local secret) and printed by ``make run`` and ``seed-demo``; the demo user
is never asked to change it. Before, every demo admin had the same published
password (``PUBLISHED_DEMO_PASSWORD``); a demo user that still has it gets
the data folder's random one instead at the next start or seed
(``retire_published_password``), and its sessions end.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bson import ObjectId
from pymongo.database import Database

from hiremate import attempt_counts, auth, kits
from hiremate import db as dbmod
from hiremate.auth import AuthError, create_organization, create_user
from hiremate.datadir import read_or_create
from hiremate.errors import KitError
from hiremate.models import Organization, Role, User
from hiremate.scope import Scope
from hiremate.task_library import install_library
from hiremate.tasks import MAX_PAGE_SIZE, list_tasks

DEMO_ORG_NAME = "Demo Organisation"
DEMO_ORG_SLUG = "demo"
DEMO_EMAIL = "demo@hiremate.example"
# The demo admin's password before it became random: published in the
# README, so anyone could sign in as an admin of a demo that kept it. Kept
# only to recognise and replace it (retire_published_password).
PUBLISHED_DEMO_PASSWORD = "hiremate-demo-2026"
DEMO_PASSWORD_FILE = "demo-password"
DEMO_FULL_NAME = "Demo Recruiter"
DEMO_CANDIDATES = 12
DEMO_SEED = 2026  # the same candidates in every new demo organisation
DEMO_SPREAD_DAYS = 14  # completed over the last two weeks: the dashboard's "last 7 days" has some


@dataclass(frozen=True)
class DemoSeedResult:
    organization_id: ObjectId
    user_id: ObjectId
    organization_created: bool
    user_created: bool
    tasks_added: int
    candidates_added: int = 0
    password_replaced: bool = False  # it still had the published password: now the random one
    password: str = ""  # the data folder's demo password
    password_works: bool = True  # False: somebody changed it since; the file's no longer signs in

    def __str__(self) -> str:
        changed = (self.organization_created, self.user_created, self.tasks_added, self.candidates_added)
        if not any(changed) and not self.password_replaced:
            return f"demo data already present (organisation {DEMO_ORG_SLUG!r}, login {DEMO_EMAIL})"
        done = [
            f"organisation {DEMO_ORG_NAME!r} {'created' if self.organization_created else 'exists'}",
            f"admin {DEMO_EMAIL} {'created' if self.user_created else 'exists'}",
            f"{self.tasks_added} library task{'s' if self.tasks_added != 1 else ''} added",
            f"{self.candidates_added} simulated candidate{'s' if self.candidates_added != 1 else ''} added",
        ]
        if self.password_replaced:
            done.append("the published demo password replaced by this data folder's (its sessions ended)")
        return "demo data: " + ", ".join(done)

    @property
    def login_line(self) -> str:
        """The banner's line: ``  demo login      EMAIL / PASSWORD``."""
        if self.password_works:
            return f"  demo login      {DEMO_EMAIL} / {self.password}"
        return (
            f"  demo login      {DEMO_EMAIL} / (its password was changed after seeding: "
            f"the one in {DEMO_PASSWORD_FILE} no longer signs in)"
        )


def new_demo_password() -> str:
    """Three groups of six hex digits: 72 random bits, easy to type, and
    always letters mixed with a symbol, as HireMate's password rules ask."""
    while True:
        password = "-".join(secrets.token_hex(3) for _ in range(3))
        if not auth.password_problems(password, email=DEMO_EMAIL):
            return password


def demo_password(data_dir: Path) -> str:
    """The demo admin's password of this data folder, generated on first use
    (exclusive create, mode 0600: concurrent starts agree on it)."""
    return read_or_create(data_dir / DEMO_PASSWORD_FILE, new_demo_password)


def seed_demo(db: Database, password: str) -> DemoSeedResult:
    """Create the demo organisation, its admin (with ``password``: the data
    folder's ``demo_password``), its tasks and its simulated candidates, where
    missing; replace the published password if the admin still has it."""
    organization, organization_created = _demo_organization(db)
    user, user_created = _demo_user(db, organization.id, password)
    replaced = not user_created and retire_published_password(db, lambda: password)
    works = user_created or replaced or _signs_in_with(db, user.id, password)
    scope = Scope(db, organization.id, user.id, is_admin=True)
    tasks_added = install_library(scope)
    _demo_kit(scope)
    candidates_added = _simulated_candidates(scope)
    attempt_counts.recount(db, organization.id)
    return DemoSeedResult(
        organization.id,
        user.id,
        organization_created,
        user_created,
        tasks_added,
        candidates_added,
        password_replaced=replaced,
        password=password,
        password_works=works,
    )


DEMO_KIT = "Any three tasks"


def _demo_kit(scope: Scope) -> None:
    """One kit, so bulk issue and the kit choice work at once: three tasks
    drawn from the library for each candidate. Added once (by name)."""
    if any(kit.name == DEMO_KIT for kit in kits.list_kits(scope, archived=None)):
        return
    with contextlib.suppress(KitError):  # another process seeding at the same time made it (unique names)
        kits.create_kit(
            scope,
            {"name": DEMO_KIT, "description": "Three tasks of the library, drawn anew for each candidate.",
             "sampling": {"count": 3}},
        )  # fmt: skip


def retire_published_password(db: Database, new_password: Callable[[], str]) -> bool:
    """If the demo admin still has the published password, give it
    ``new_password()`` instead and end its sessions (anyone who read the old
    README may hold one); True when it did. One bcrypt check when the user
    exists; ``new_password`` is only called when it is needed."""
    doc = db[dbmod.USERS].find_one({"email": DEMO_EMAIL})
    if doc is None or not auth._password_matches(PUBLISHED_DEMO_PASSWORD, doc.get("password_hash", "")):
        return False
    user = User.from_doc(doc)
    auth.reset_password(Scope(db, user.organization_id, user.id, is_admin=True), user.id, new_password())
    return True


def _signs_in_with(db: Database, user_id: ObjectId | None, password: str) -> bool:
    doc = db[dbmod.USERS].find_one({"_id": user_id}, {"password_hash": 1})
    return doc is not None and auth._password_matches(password, doc.get("password_hash", ""))


def demo_candidate_ids(organization_id: ObjectId) -> list[ObjectId]:
    """The simulated candidates' attempt ids: fixed for an organisation, so
    seeding again finds them stored and adds nothing."""
    return [
        ObjectId(hashlib.sha256(f"hiremate-demo:{organization_id}:{number}".encode()).digest()[:12])
        for number in range(DEMO_CANDIDATES)
    ]


def _simulated_candidates(scope: Scope) -> int:
    """Store the simulated candidates not stored yet, over the organisation's
    active library tasks (real titles on their profiles); how many it stored."""
    ids = demo_candidate_ids(scope.organization_id)
    if scope.db[dbmod.ATTEMPTS].count_documents({"_id": {"$in": ids}}) == len(ids):
        return 0  # the usual case at a start: no need to load the metrics pipeline
    library = [task for task in list_tasks(scope, limit=MAX_PAGE_SIZE) if task.library_key]
    if not library:
        return 0  # every library task deactivated: nothing to simulate over
    from hiremate.ops import simulate  # imports the metrics pipeline

    stored = simulate.seed_completed_attempts(
        scope.db,
        organization_id=scope.organization_id,
        tasks=library,
        count=len(ids),
        rng=random.Random(DEMO_SEED),
        spread_days=DEMO_SPREAD_DAYS,
        attempt_ids=ids,
    )
    return len(stored)


def _find_organization(db: Database, slug: str) -> Organization | None:
    doc = db[dbmod.ORGANIZATIONS].find_one({"slug": slug})
    return Organization.from_doc(doc) if doc else None


def _demo_organization(db: Database) -> tuple[Organization, bool]:
    existing = _find_organization(db, DEMO_ORG_SLUG)
    if existing:
        return existing, False
    try:
        return create_organization(db, DEMO_ORG_NAME, slug=DEMO_ORG_SLUG), True
    except AuthError:
        # A concurrent seed created it first (the slug is unique): use theirs.
        existing = _find_organization(db, DEMO_ORG_SLUG)
        if existing is None:
            raise
        return existing, False


def _demo_user(db: Database, organization_id: ObjectId, password: str) -> tuple[User, bool]:
    existing = _find_user(db, DEMO_EMAIL)
    if existing:
        return existing, False
    try:
        user = create_user(
            db,
            email=DEMO_EMAIL,
            full_name=DEMO_FULL_NAME,
            password=password,
            organization_id=organization_id,
            role=Role.ADMIN,
        )
        return user, True
    except AuthError:
        existing = _find_user(db, DEMO_EMAIL)  # a concurrent seed won the unique email
        if existing is None:
            raise
        return existing, False


def _find_user(db: Database, email: str) -> User | None:
    doc = db[dbmod.USERS].find_one({"email": email})
    return User.from_doc(doc) if doc else None
