"""The ingest server's mail loop, end to end with a real SMTP server on
loopback: issue with email, the invitation arrives within seconds with a
link whose page answers, the candidate completes over the protocol, and the
issuing recruiter's completion notice arrives."""

from __future__ import annotations

import asyncio
import re
import time

from hiremate import attempts, mail
from hiremate import db as dbmod
from hiremate.models import CandidateInfo
from ingest_server.server import MAIL_INTERVAL_SECONDS
from tests.support.ingest_helpers import (
    Client,
    http_get,
    ingest_settings,  # noqa: F401 (fixture)
    make_tasks,
    page_state,
    running_server,
    session_messages,
)
from tests.support.page_helpers import make_org
from tests.support.smtp import smtp_server  # noqa: F401 (fixture)

EMAIL = "grace.hopper@example.com"


async def received(smtp, count: int) -> list:
    return await asyncio.to_thread(smtp.wait_for, count, 15.0)


async def test_issue_with_email_then_complete_then_the_recruiter_is_told(ingest_settings, db, smtp_server):  # noqa: F811
    org = make_org(db)
    tasks = make_tasks(db, org.scope.organization_id, 2)
    configured = ingest_settings.model_copy(update={"smtp_url": smtp_server.url, "mail_from": "hr@acme.test"})
    async with running_server(configured, db) as server:
        assert server.mail_interval == MAIL_INTERVAL_SECONDS <= 5
        issued = attempts.issue_attempt(
            org.scope,
            candidate=CandidateInfo(name="Grace Hopper", email=EMAIL, position="Engineer"),
            task_ids=[task.id for task in tasks],
            expires_days=7,
            public_url=server.url,
        )
        queued_at = time.monotonic()
        await asyncio.to_thread(mail.queue_invitation, org.scope, issued.attempt, issued.link, settings=configured)
        [invitation] = await received(smtp_server, 1)
        latency = invitation.at - queued_at
        print(f"\nqueue -> received at the SMTP server: {latency * 1000:.0f} ms")
        assert latency < 10
        assert invitation.rcpt_tos == [EMAIL]
        link = re.search(r"http://\S+/a/\S+", invitation.text()).group(0)
        assert link == issued.link
        token = link.rsplit("/", 1)[1]
        page = await http_get(server.port, f"/a/{token}")
        assert page.status == 200 and page_state(page.body)["notice"]["organization_name"] == "Acme"

        async with Client.open(server.port, token) as client:
            await client.start()
            await client.send_all(session_messages(tasks), batch=40)
            code, seen = await client.closed()
        assert code == 1000 and seen[-1]["type"] == "assessment_completed"

        _, notice = await received(smtp_server, 2)
        assert notice.rcpt_tos == [org.user.email]
        assert notice.message["Subject"] == "Grace Hopper completed the assessment for Engineer"
        assert f"/profile?attempt={issued.attempt.id}" in notice.text()
    statuses = {doc["kind"]: doc["status"] for doc in db[dbmod.MAIL_OUTBOX].find({})}
    assert statuses == {mail.INVITATION: mail.SENT, mail.COMPLETED: mail.SENT}


async def test_no_mail_loop_without_a_mail_server_or_when_switched_off(ingest_settings, db, smtp_server):  # noqa: F811
    async with running_server(ingest_settings, db) as server:
        assert server._mailer is None  # no HIREMATE_SMTP_URL
    configured = ingest_settings.model_copy(update={"smtp_url": smtp_server.url, "mail_from": "hr@acme.test"})
    async with running_server(configured, db, mail_interval=None) as server:
        assert server._mailer is None
