"""Greenhouse's flow through the real ingest server: send_test issues a kit
and the server's mail loop emails the link (a real SMTP server on loopback);
the candidate completes through the real socket with the emailed token; the
server's webhook loop PATCHes the URL Greenhouse gave (a receiver on
loopback playing Greenhouse); test_status then answers complete. The HTTP
adapter Greenhouse calls is tested in tests/api, the page in tests/e2e."""

from __future__ import annotations

import asyncio
import json
import re

from hiremate import db as dbmod
from hiremate import greenhouse, kits, webhooks
from tests.support.ingest_helpers import Client, ingest_settings, running_server, session_messages  # noqa: F401
from tests.support.page_helpers import make_org
from tests.support.smtp import smtp_server  # noqa: F401 (fixture)
from tests.support.webhook_receiver import receiver

TOKEN = re.compile(r"/a/([A-Za-z0-9_-]+)")


async def test_send_test_then_a_completion_patches_greenhouse_and_the_status_is_complete(
    ingest_settings,  # noqa: F811
    db,
    smtp_server,  # noqa: F811
):
    settings = ingest_settings.model_copy(update={"smtp_url": smtp_server.url, "mail_from": "hiring@acme.test"})
    org = make_org(db)
    db[dbmod.TASKS].insert_many([task.to_doc() for task in org.tasks])
    kit = kits.create_kit(org.scope, {"name": "Analyst screen", "task_ids": [t.id for t in org.tasks]})
    with receiver() as greenhouse_side:
        async with running_server(settings, db, mail_interval=0.2) as server:
            request = greenhouse.SendTest.model_validate(
                {
                    "partner_test_id": str(kit.id),
                    "candidate": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
                    "url": greenhouse_side.url,
                }
            )
            interview_id = await asyncio.to_thread(greenhouse.send_test, org.scope, request, settings=settings)
            [invitation] = await asyncio.to_thread(smtp_server.wait_for, 1)
            token = TOKEN.search(invitation.text()).group(1)
            async with Client.open(server.port, token) as client:
                await client.start()
                await client.send_all(session_messages(org.tasks), batch=40)
                code, seen = await client.closed()
            assert code == 1000 and seen[-1]["type"] == "assessment_completed"
            [patch] = await asyncio.to_thread(greenhouse_side.wait_for, 1)
    status = greenhouse.test_status(org.scope, interview_id, settings=settings)
    headers = {name.lower(): value for name, value in patch.headers.items()}
    assert patch.method == "PATCH" and headers["content-type"] == "application/json"
    assert json.loads(patch.body) == {
        "partner_interview_id": interview_id,
        "partner_status": "complete",
        "partner_profile_url": f"{settings.app_url}/profile?attempt={interview_id}",
    }
    assert status.partner_status == greenhouse.COMPLETE and status.partner_profile_url
    assert status.metadata["thinking_style"] is not None
    [delivery] = db[dbmod.WEBHOOK_DELIVERIES].find({"kind": webhooks.CALLBACK})
    assert delivery["event_type"] == "greenhouse.test_completed"
