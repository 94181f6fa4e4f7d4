"""Greenhouse's assessment partner API over a real loopback socket (the
adapter mounted at /integrations/greenhouse behind the recruiter app's
security headers, as asgi.py serves it), against the module's two
organisations and a real SMTP server: Basic auth with the API key as the
username, every endpoint's shapes, refusals as problem+json, and scoping
across organisations. The whole flow through the candidate's page is in
tests/e2e/test_greenhouse_flow.py."""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from api import greenhouse as greenhouse_api
from hiremate import db as dbmod
from hiremate import mail
from hiremate import settings as settingsmod
from recruiter.security_headers import SecurityHeaders
from tests.api.conftest import Answer, World
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, free_port
from tests.support.smtp import SmtpServer

CALLBACK = "http://127.0.0.1:9/take_home_tests/1"
CANDIDATE = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada.greenhouse@example.com",
    "phone_number": None,
    "resume_url": None,
    "greenhouse_profile_url": "https://app.greenhouse.io/people/1?application_id=2",
}


@dataclass
class Partner:
    host: str
    world: World
    smtp: SmtpServer

    def call(self, method: str, path: str, *, key: str | None = "a_write", body: object = None) -> Answer:
        headers = {}
        if key is not None:
            user = self.world.keys.get(key, key)
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:".encode()).decode()
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        connection = http.client.HTTPConnection(self.host, timeout=30)
        try:
            connection.request(method, greenhouse_api.PREFIX + path, body=data, headers=headers)
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            connection.close()


@pytest.fixture(scope="module")
def partner(world: World, store_uri: str, tmp_path_factory) -> Iterator[Partner]:
    smtp = SmtpServer("127.0.0.1", free_port())
    controller = Controller(smtp, hostname=smtp.host, port=smtp.port)
    controller.start()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "HIREMATE_MONGODB_URI": store_uri,
            "HIREMATE_DB_NAME": world.db.name,
            "HIREMATE_DATA_DIR": str(tmp_path_factory.mktemp("greenhouse-data")),
            "HIREMATE_SECRET": TEST_SECRET,
            "HIREMATE_AUDIT_KEY": TEST_AUDIT_KEY,
            "HIREMATE_PUBLIC_URL": "http://candidates.test",
            "HIREMATE_SMTP_URL": smtp.url,
            "HIREMATE_MAIL_FROM": "hiring@acme.test",
        }.items():
            patch.setenv(name, value)
        settingsmod.get_settings.cache_clear()
        dbmod.reset_client()
        settingsmod.get_settings()  # read now: the autouse fixture clears HIREMATE_* per test
        app = Starlette(
            routes=[Mount(greenhouse_api.PREFIX, app=greenhouse_api.create_app(db=world.db))],
            middleware=[Middleware(SecurityHeaders, trust_proxy=False)],
        )
        port = free_port()
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not uv.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the Greenhouse adapter did not start"
            time.sleep(0.05)
        try:
            yield Partner(f"127.0.0.1:{port}", world, smtp)
        finally:
            uv.should_exit = True
            thread.join(10)
            controller.stop()
            settingsmod.get_settings.cache_clear()
            dbmod.reset_client()


def problem(answer: Answer, status: int) -> dict:
    assert answer.status == status, answer.body
    assert answer.header("Content-Type") == "application/problem+json"
    body = answer.json
    assert body["status"] == status and body["detail"] and body["type"]
    return body


def send(partner: Partner, *, key: str = "a_write", **change: object) -> Answer:
    body = {"partner_test_id": partner.world.a.kit_id, "candidate": CANDIDATE, "url": CALLBACK, **change}
    return partner.call("POST", "/send_test", key=key, body=body)


def test_list_tests_names_the_organisations_kits(partner):
    answer = partner.call("GET", "/list_tests", key="a_read")
    assert answer.status == 200 and answer.header("Cache-Control") == "no-store"
    assert answer.json == [{"partner_test_id": partner.world.a.kit_id, "partner_test_name": "Acme kit"}]
    assert partner.call("GET", "/list_tests", key="b_write").json == [
        {"partner_test_id": partner.world.b.kit_id, "partner_test_name": "Bravo kit"}
    ]


@pytest.mark.parametrize("key", [None, "a_revoked", "hmk_not-a-key"])
def test_without_a_valid_key_as_the_username_nothing_is_answered(partner, key):
    answer = partner.call("GET", "/list_tests", key=key)
    problem(answer, 401)
    assert answer.header("WWW-Authenticate") == 'Basic realm="HireMate"'


def test_send_test_issues_the_kit_emails_the_link_and_status_follows(partner):
    before = len(partner.smtp.messages)
    answer = send(partner)
    assert answer.status == 200, answer.body
    interview_id = answer.json["partner_interview_id"]
    db = partner.world.db
    mail.drain(db, settingsmod.get_settings())
    [invitation] = partner.smtp.wait_for(before + 1)[before:]
    assert invitation.rcpt_tos == [CANDIDATE["email"]] and re.search(r"/a/[A-Za-z0-9_-]+", invitation.text())
    status = partner.call("GET", f"/test_status?partner_interview_id={interview_id}", key="a_read")
    assert status.status == 200
    assert status.json["partner_status"] == "sent" and status.json["partner_profile_url"] is None
    assert "partner_score" not in status.json and status.json["metadata"]["score"] is None
    assert all(not isinstance(v, dict | list) for v in status.json["metadata"].values())  # a flat map
    assert db[dbmod.ATTEMPTS].find_one({"candidate_info.email": CANDIDATE["email"]})["candidate_info"]["name"] == (
        "Ada Lovelace"
    )


def test_a_read_key_cannot_send_a_test(partner):
    problem(send(partner, key="a_read"), 403)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"partner_test_id": "000000000000000000000000"}, 404),  # no such test
        ({"url": "http://10.0.0.5/patch"}, 422),  # no server-side request forgery
        ({"url": "https://169.254.169.254/latest/meta-data"}, 422),
        ({"candidate": {"first_name": "No email"}}, 422),
    ],
)
def test_send_test_refusals_issue_nothing(partner, change, status):
    before = partner.world.db[dbmod.ATTEMPTS].count_documents({})
    problem(send(partner, **change), status)
    assert partner.world.db[dbmod.ATTEMPTS].count_documents({}) == before


def test_another_organisations_test_and_interview_are_not_found(partner):
    problem(send(partner, key="b_write"), 404)  # A's kit with B's key
    interview_id = send(partner).json["partner_interview_id"]
    problem(partner.call("GET", f"/test_status?partner_interview_id={interview_id}", key="b_write"), 404)
    problem(partner.call("GET", "/test_status?partner_interview_id=nonsense", key="a_read"), 404)
    # An attempt issued in HireMate, not by Greenhouse, is not a Greenhouse interview either.
    mine = str(partner.world.a.pending[0].id)
    problem(partner.call("GET", f"/test_status?partner_interview_id={mine}", key="a_read"), 404)


def test_response_error_is_received_and_audited_by_count(partner):
    answer = partner.call("POST", "/response_error", key="a_read", body={"error": "bad url", "field": "x"})
    assert answer.status == 200 and answer.json == {"status": "received"}
    entry = partner.world.db[dbmod.AUDIT_LOG].find_one({"action": "greenhouse.response_error"})
    assert entry["details"] == {"via": entry["details"]["via"], "fields": 2}
