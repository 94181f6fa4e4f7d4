"""Greenhouse's whole flow, as Greenhouse and a candidate live it: the real
recruiter server (`streamlit run asgi.py`, Greenhouse's adapter mounted on
it) and a real ingest server process on the embedded store, a real SMTP
server and a receiver playing Greenhouse on loopback. list_tests names the
kit; send_test issues it and the ingest server emails the link; the
candidate opens it in Chromium and completes every task on the page;
Greenhouse's URL then receives the PATCH, and test_status answers complete
with the profile's labels and no score."""

from __future__ import annotations

import base64
import http.client
import json
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from bson import ObjectId

from hiremate import api_keys, auth, kits
from hiremate import tasks as tasksmod
from hiremate.models import Role
from hiremate.ops import simulate
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, free_port
from tests.e2e.helpers import Candidate, wait_for_profile
from tests.support.ingest_helpers import ServerProcess, server_env
from tests.support.smtp import SmtpServer
from tests.support.stack import serve_app
from tests.support.webhook_receiver import receiver

pytestmark = pytest.mark.e2e
LINK = re.compile(r"https?://\S+/a/[A-Za-z0-9_-]+")
TASKS = 2


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def call(port: int, key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    basic = base64.b64encode(f"{key}:".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, "/integrations/greenhouse" + path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_list_send_complete_on_the_page_then_the_patch_and_a_complete_status(
    browser, store_uri, mongo_client, smtp, tmp_path
):
    ingest_port = free_port()
    mail = {
        "HIREMATE_SMTP_URL": smtp.url,
        "HIREMATE_MAIL_FROM": "hiring@acme.test",
        "HIREMATE_PUBLIC_URL": f"http://127.0.0.1:{ingest_port}",
    }
    app_data, ingest_data = tmp_path / "app", tmp_path / "ingest"
    app_data.mkdir(mode=0o700)
    ingest_data.mkdir(mode=0o700)
    running = serve_app(store_uri, mongo_client, app_data, **mail)
    app = next(running)
    ingest = None
    try:
        db = app.db
        organization = auth.create_organization(db, "Greenhouse Customer")
        admin = auth.create_user(
            db,
            email="admin@customer.test",
            full_name="Admin",
            password="correct horse battery staple 42",
            organization_id=organization.id,
            role=Role.ADMIN,
        )
        scope = auth.scope_for(db, admin)
        made = [
            tasksmod.create_task(scope, task.model_dump(include=set(tasksmod.AUTHORED_FIELDS)))
            for task in simulate.make_tasks(random.Random(19), TASKS)
        ]
        kit = kits.create_kit(scope, {"name": "Analyst screen", "task_ids": [str(t.id) for t in made]})
        _, key = api_keys.create(scope, "Greenhouse", "write")
        env = server_env(
            store_uri, db.name, ingest_data, HIREMATE_SECRET=TEST_SECRET, HIREMATE_AUDIT_KEY=TEST_AUDIT_KEY, **mail
        )
        ingest = ServerProcess(env, ingest_port, tmp_path / "ingest.log").start()

        with receiver() as greenhouse_side:
            status, tests = call(app.port, key, "GET", "/list_tests")
            assert status == 200 and tests == [{"partner_test_id": str(kit.id), "partner_test_name": "Analyst screen"}]
            candidate = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
            status, sent = call(
                app.port,
                key,
                "POST",
                "/send_test",
                {"partner_test_id": str(kit.id), "candidate": candidate, "url": greenhouse_side.url},
            )
            assert status == 200, sent
            interview_id = sent["partner_interview_id"]
            [invitation] = smtp.wait_for(1, timeout=20)  # the ingest server's mail loop sent it
            link = LINK.search(invitation.text()).group(0)

            context = browser.new_context(viewport={"width": 1000, "height": 900})
            try:
                person = Candidate(context, link).open()
                person.start()
                for number in range(1, TASKS + 1):
                    person.do_task(number, total=TASKS, delay=0)
                person.expect_done()
            finally:
                context.close()
            wait_for_profile(db, ObjectId(interview_id))
            [patch] = greenhouse_side.wait_for(1, timeout=20)
        status, done = call(app.port, key, "GET", f"/test_status?partner_interview_id={interview_id}")
    finally:
        if ingest is not None:
            ingest.kill()
        running.close()
    assert patch.method == "PATCH" and json.loads(patch.body)["partner_interview_id"] == interview_id
    assert status == 200 and done["partner_status"] == "complete"
    assert done["partner_profile_url"].endswith(f"/profile?attempt={interview_id}")
    assert done["metadata"]["thinking_style"] and "partner_score" not in done
