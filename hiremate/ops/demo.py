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
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from bson import ObjectId
from pymongo.database import Database

from hiremate import attempt_counts
from hiremate import db as dbmod
from hiremate.auth import AuthError, create_organization, create_user
from hiremate.models import Organization, Role, User
from hiremate.scope import Scope
from hiremate.task_library import install_library
from hiremate.tasks import MAX_PAGE_SIZE, list_tasks

DEMO_ORG_NAME = "Demo Organisation"
DEMO_ORG_SLUG = "demo"
DEMO_EMAIL = "demo@hiremate.example"
DEMO_PASSWORD = "hiremate-demo-2026"
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

    def __str__(self) -> str:
        if not (self.organization_created or self.user_created or self.tasks_added or self.candidates_added):
            return f"demo data already present (organisation {DEMO_ORG_SLUG!r}, login {DEMO_EMAIL})"
        done = [
            f"organisation {DEMO_ORG_NAME!r} {'created' if self.organization_created else 'exists'}",
            f"admin {DEMO_EMAIL} {'created' if self.user_created else 'exists'}",
            f"{self.tasks_added} library task{'s' if self.tasks_added != 1 else ''} added",
            f"{self.candidates_added} simulated candidate{'s' if self.candidates_added != 1 else ''} added",
        ]
        return "demo data: " + ", ".join(done)


def seed_demo(db: Database) -> DemoSeedResult:
    """Create the demo organisation, its admin, its tasks and its simulated
    candidates, where missing."""
    organization, organization_created = _demo_organization(db)
    user, user_created = _demo_user(db, organization.id)
    scope = Scope(db, organization.id, user.id, is_admin=True)
    tasks_added = install_library(scope)
    candidates_added = _simulated_candidates(scope)
    attempt_counts.recount(db, organization.id)
    return DemoSeedResult(organization.id, user.id, organization_created, user_created, tasks_added, candidates_added)


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


def _demo_user(db: Database, organization_id: ObjectId) -> tuple[User, bool]:
    existing = _find_user(db, DEMO_EMAIL)
    if existing:
        return existing, False
    try:
        user = create_user(
            db,
            email=DEMO_EMAIL,
            full_name=DEMO_FULL_NAME,
            password=DEMO_PASSWORD,
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
