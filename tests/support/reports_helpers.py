"""Data for the hiremate.reports tests: an organisation's scope, tasks,
completed attempts seeded through the real simulator, bulk attempts cloned
with insert_many, and reading the CSVs back.

The test modules import the fixtures by their function names (``org_fixture``);
pytest knows them by ``name=`` (``org``), so a test's parameter does not
shadow the import."""

from __future__ import annotations

import csv
import io
import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from hiremate import attempt_counts, csvsafe
from hiremate import db as dbmod
from hiremate.models import AttemptStatus, CandidateInfo, RiskOrientationLabel, ThinkingStyle
from hiremate.ops import simulate
from hiremate.profiles import build_profile, profile_doc
from hiremate.scope import Scope

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POSITIONS = ["Analyst", "Engineer", "Support (EMEA)"]
STATUSES = list(AttemptStatus)
STYLES = list(ThinkingStyle)
RISKS = list(RiskOrientationLabel)


# ---------------------------------------------------------------- data


@pytest.fixture(name="org")
def org_fixture(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture(name="other_org")
def other_org_fixture(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture(name="tasks")
def tasks_fixture():
    return simulate.make_tasks(random.Random(7), 4)


_seeds = itertools.count(1000)


def seed(scope, tasks, *, started_at=START, **candidate):
    """One completed attempt with real events, metrics and profile; each
    with its own random seed, since the seed also draws the ids."""
    info = CandidateInfo(**{"name": "Ada Lovelace", "email": "ada@example.com", "position": "Analyst", **candidate})
    return simulate.seed_completed_attempt(
        scope.db,
        organization_id=scope.organization_id,
        tasks=tasks,
        rng=random.Random(next(_seeds)),
        candidate=info,
        started_at=started_at,
    )


def bulk_seed(scope, count, *, all_completed=False, batch=2000):
    """``count`` minimal but valid attempts (and profiles for those that
    ended after starting), cloned from one simulated attempt with
    insert_many. Two attempts share each issue time, so paging relies on
    the ``_id`` tie-breaker. Returns the attempt documents."""
    session = simulate.simulate_session(random.Random(3), task_count=1, organization_id=scope.organization_id)
    _, profile = build_profile(session.attempt, session.behavior_events, now=START)
    attempt_template = session.attempt.model_copy(update={"task_snapshots": []}).to_doc()
    profile_template = profile_doc(profile, superseded=False)  # each attempt its own person
    attempts, profiles = [], []
    for i in range(count):
        status = AttemptStatus.COMPLETED if all_completed else STATUSES[i % len(STATUSES)]
        created = START + timedelta(minutes=i // 2)
        started = created + timedelta(hours=1) if status != AttemptStatus.PENDING else None
        completed = created + timedelta(hours=1, minutes=20) if status == AttemptStatus.COMPLETED else None
        attempt = {
            **attempt_template,
            "_id": ObjectId(),
            "token_hash": f"hash-{scope.organization_id}-{i}",
            "candidate_info": {
                "name": f"Candidate {i:05d}",
                "email": f"cand{i:05d}@example.com",
                "position": POSITIONS[(i // 3) % len(POSITIONS)],  # independent of the labels
            },
            "status": status.value,
            "created_at": created,
            "started_at": started,
            "completed_at": completed,
        }
        attempts.append(attempt)
        if status.is_final and started is not None:
            profiles.append(
                {
                    **profile_template,
                    "_id": ObjectId(),
                    "attempt_id": attempt["_id"],
                    "thinking_style": {**profile_template["thinking_style"], "primary": STYLES[i % len(STYLES)].value},
                    "risk_orientation": {
                        **profile_template["risk_orientation"],
                        "preference": RISKS[i % len(RISKS)].value,
                    },
                    "candidate_name": attempt["candidate_info"]["name"],
                    "candidate_email": attempt["candidate_info"]["email"],
                    "position": attempt["candidate_info"]["position"],
                    "completed_at": completed or started + timedelta(days=7),
                    "attempt_status": status.value,
                }
            )
    for first in range(0, count, batch):
        scope.db[dbmod.ATTEMPTS].insert_many(attempts[first : first + batch], ordered=False)
    attempt_counts.record_new(scope.db, attempts)  # inserted directly: counted as seeding counts them
    for first in range(0, len(profiles), batch):
        scope.db[dbmod.PROFILES].insert_many(profiles[first : first + batch], ordered=False)
    return attempts, profiles


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(csvsafe.BOM.encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def as_dicts(data: bytes) -> list[dict[str, str]]:
    header, *rows = read_csv(data)
    return [dict(zip(header, row, strict=True)) for row in rows]
