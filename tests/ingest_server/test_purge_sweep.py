"""The ingest server's sweep loop runs the retention purge at most once an
interval, the first time an interval after start; None turns it off."""

from __future__ import annotations

import random
from datetime import timedelta

from hiremate import db as dbmod
from hiremate.models import CandidateInfo
from hiremate.ops import simulate
from hiremate.timeutil import utcnow
from tests.support.ingest_helpers import ingest_settings, running_server  # noqa: F401
from tests.support.page_helpers import _fast_bcrypt, make_org  # noqa: F401


async def test_the_purge_runs_once_an_interval_and_not_at_start(ingest_settings, db):  # noqa: F811
    org = make_org(db)
    old = simulate.seed_completed_attempt(
        db,
        organization_id=org.scope.organization_id,
        tasks=org.tasks,
        rng=random.Random(5),
        candidate=CandidateInfo(name="Old Timer", email="old@example.com"),
        started_at=utcnow() - timedelta(days=800),
    )
    async with running_server(ingest_settings, db) as server:
        assert await server.purge_if_due() is None  # not an interval since start
        assert db[dbmod.ATTEMPTS].find_one({"_id": old.id}) is not None
        server._purged_at -= server.purge_interval
        report = await server.purge_if_due()
        assert report is not None and report.organizations[0].removed[dbmod.ATTEMPTS] == 1
        assert db[dbmod.ATTEMPTS].find_one({"_id": old.id}) is None
        assert await server.purge_if_due() is None  # once an interval
    async with running_server(ingest_settings, db, purge_interval=None) as server:
        server._purged_at -= 10 * 3600
        assert await server.purge_if_due() is None
