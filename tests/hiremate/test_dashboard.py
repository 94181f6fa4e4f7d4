"""Dashboard numbers and the activity feed, through the real attempt life
cycle (issue, re-issue, lock) and simulated completed sessions."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from datetime import timedelta

import pytest
from pymongo import MongoClient, monitoring

from hiremate import attempts as attemptsmod
from hiremate import auth, dashboard
from hiremate import db as dbmod
from hiremate import tasks as tasksmod
from hiremate.models import CandidateInfo
from hiremate.ops import simulate
from hiremate.scope import Scope
from hiremate.timeutil import utcnow

PASSWORD = "a long and unusual passphrase 7"
URL = "http://assess.example"
_seeds = itertools.count(2000)


def recruiter(db, org_name, full_name):
    organization = auth.create_organization(db, org_name)
    email = f"{full_name.split()[0].lower()}@{organization.slug}.example.com"
    user = auth.create_user(db, email=email, full_name=full_name, password=PASSWORD, organization_id=organization.id)
    return auth.scope_for(db, user)


@pytest.fixture
def scope(db):
    return recruiter(db, "Acme Hiring", "Dana Reed")


@pytest.fixture
def other(db):
    return recruiter(db, "Other Corp", "Olaf Other")


def library(scope, count=3):
    created = [
        tasksmod.create_task(scope, task.model_dump(include=set(tasksmod.AUTHORED_FIELDS)))
        for task in simulate.make_tasks(random.Random(4), count)
    ]
    return created


def issue(scope, tasks, name):
    candidate = CandidateInfo(name=name, email=f"{name.split()[0].lower()}@example.com", position="Analyst")
    return attemptsmod.issue_attempt(
        scope, candidate=candidate, task_ids=[t.id for t in tasks], expires_days=7, public_url=URL
    ).attempt


def complete(scope, tasks, name, started_at):
    return simulate.seed_completed_attempt(
        scope.db,
        organization_id=scope.organization_id,
        tasks=tasks,
        rng=random.Random(next(_seeds)),
        candidate=CandidateInfo(name=name, email=f"{name.split()[0].lower()}@example.com", position="Analyst"),
        started_at=started_at,
    )


def to_the_second(durations):
    """The dashboard's median: of the durations rounded to whole seconds (half up)."""
    return statistics.median(math.floor(d + 0.5) for d in durations)


def test_stats_count_by_status_window_and_median(scope, other):
    now = utcnow()
    tasks = library(scope)
    tasksmod.soft_delete_task(scope, tasks[0].id)
    issue(scope, tasks[1:], "Pat Pending")
    locked = issue(scope, tasks[1:], "Lou Locked")
    attemptsmod.lock_attempt(scope, locked.id, "Duplicate application")
    done = [
        complete(scope, tasks[1:], f"Cand {n}", now - timedelta(days=days)) for n, days in enumerate([1, 2, 3, 10, 20])
    ]
    complete(other, library(other), "Not Ours", now - timedelta(days=1))

    stats = dashboard.dashboard_stats(scope, now=now)
    assert stats.active_tasks == 2
    assert stats.attempts_by_status == {"pending": 1, "in_progress": 0, "completed": 5, "expired": 0, "locked": 1}
    assert stats.total_attempts == 7
    assert stats.completed_last_7_days == 3
    durations = [(a.completed_at - a.started_at).total_seconds() for a in done]
    assert stats.median_sample_size == 5
    assert stats.median_completion_seconds == to_the_second(durations)
    assert abs(stats.median_completion_seconds - statistics.median(durations)) <= 0.5

    complete(scope, tasks[1:], "Cand 6", now - timedelta(days=30))  # an even count: mean of the middle two
    durations = [
        (doc["completed_at"] - doc["started_at"]).total_seconds()
        for doc in scope.db[dbmod.ATTEMPTS].find(scope.where({"status": "completed"}))
    ]
    stats = dashboard.dashboard_stats(scope, now=now)
    assert stats.median_sample_size == 6
    assert stats.median_completion_seconds == to_the_second(durations)
    assert abs(stats.median_completion_seconds - statistics.median(durations)) <= 0.5
    assert stats.completed_last_7_days == 3
    assert dashboard.dashboard_stats(scope, now=now + timedelta(days=30)).completed_last_7_days == 0


def test_stats_of_an_empty_organisation(scope):
    stats = dashboard.dashboard_stats(scope)
    assert stats.active_tasks == 0 and stats.total_attempts == 0
    assert set(stats.attempts_by_status) == {"pending", "in_progress", "completed", "expired", "locked"}
    assert stats.median_completion_seconds is None and stats.median_sample_size == 0
    assert dashboard.recent_activity(scope) == []


class FindLog(monitoring.CommandListener):
    def __init__(self):
        self.finds = []

    def started(self, event):
        if event.command_name == "find":
            self.finds.append(event.command["find"])

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_recent_activity_newest_first_with_names(scope, other, store_uri):
    tasks = library(scope)
    long_ago = utcnow() - timedelta(days=3)
    finished = complete(scope, tasks, "Cara Complete", long_ago)
    issued = issue(scope, tasks, "Ivy Issued")
    relinked = issue(scope, tasks, "Rex Relinked")
    attemptsmod.reissue_link(scope, relinked.id, public_url=URL)
    locked = issue(scope, tasks, "Lou Locked")
    attemptsmod.lock_attempt(scope, locked.id, "Candidate withdrew")
    issue(other, library(other), "Not Ours")

    log = FindLog()
    client = MongoClient(store_uri, tz_aware=True, event_listeners=[log])
    try:
        own = Scope(client[scope.db.name], scope.organization_id, scope.user_id)
        items = dashboard.recent_activity(own, limit=20)
    finally:
        client.close()
    assert log.finds.count(dbmod.USERS) == 1  # every recruiter name in one query

    assert [(item.kind, item.candidate_name) for item in items] == [
        ("locked", "Lou Locked"),
        ("issued", "Lou Locked"),
        ("reissued", "Rex Relinked"),
        ("issued", "Rex Relinked"),
        ("issued", "Ivy Issued"),
        ("completed", "Cara Complete"),
        ("started", "Cara Complete"),
    ]
    assert [item.at for item in items] == sorted((item.at for item in items), reverse=True)
    assert items[0].actor == "Dana Reed" and items[0].detail == "Candidate withdrew"
    assert items[0].text == "Dana Reed locked the assessment of Lou Locked (Candidate withdrew)"
    assert items[2].text == "Dana Reed re-issued the assessment link of Rex Relinked"
    assert items[4].text == "Dana Reed issued an assessment to Ivy Issued"
    assert items[4].attempt_id == str(issued.id)
    assert items[5].text == "Cara Complete completed the assessment"
    assert items[5].at == finished.completed_at and items[6].at == finished.started_at
    assert items[6].text == "Cara Complete started the assessment"

    assert len(dashboard.recent_activity(scope, limit=3)) == 3
    other_items = dashboard.recent_activity(other)
    assert [(item.kind, item.candidate_name, item.actor) for item in other_items] == [
        ("issued", "Not Ours", "Olaf Other")
    ]


def test_activity_ignores_other_audit_entries(scope):
    library(scope)  # task.created entries
    scope.audit("export", "csv", None, kind="candidates", rows=0)
    assert dashboard.recent_activity(scope) == []
