"""Greenhouse's assessment partner API, the domain side (hiremate.greenhouse),
against the embedded store and a real SMTP server on loopback: the kits as
tests, send_test issuing and emailing, refusals that store nothing,
test_status in Greenhouse's words before and after completion (no score),
the completion PATCH queued once with the configured body, erasure. The
HTTP adapter and the whole flow are in tests/api and tests/e2e."""

from __future__ import annotations

import json
import random
import re

import pytest
from pydantic import ValidationError

from hiremate import attempts, erasure, greenhouse, kits, mail
from hiremate import db as dbmod
from hiremate.errors import AttemptNotFound, KitError, MailNotConfigured, WebhookTargetRefused
from hiremate.ops import simulate
from hiremate.scope import Scope
from tests.support.page_helpers import make_org
from tests.support.smtp import smtp_server  # noqa: F401 (fixture)

CALLBACK = "http://127.0.0.1:9/greenhouse/take_home_tests/12345"  # a local receiver: allowed by the URL rule
LINK = re.compile(r"https?://\S+/a/[A-Za-z0-9_-]+")


def org_with_tasks(db, name="Acme"):
    made = make_org(db, name)
    db[dbmod.TASKS].insert_many([task.to_doc() for task in made.tasks])
    return made


@pytest.fixture
def org(db):
    return org_with_tasks(db)


@pytest.fixture
def mail_settings(settings, smtp_server):  # noqa: F811
    return settings.model_copy(update={"smtp_url": smtp_server.url, "mail_from": "hiring@acme.test"})


def kit_of(org, name="Analyst screen", archived=False):
    kit = kits.create_kit(org.scope, {"name": name, "position": "Analyst", "task_ids": [t.id for t in org.tasks]})
    return kits.archive_kit(org.scope, kit.id) if archived else kit


def request(kit, url=CALLBACK, **candidate):
    person = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone_number": None}
    return greenhouse.SendTest.model_validate(
        {
            "partner_test_id": str(kit.id),
            "candidate": {**person, "resume_url": "https://files.example/resume.pdf", **candidate},
            "url": url,
        }
    )


def test_the_organisations_kits_are_its_tests(db, org):
    kept, _ = kit_of(org), kit_of(org, "Old", archived=True)
    kit_of(org_with_tasks(db, "Other"), "Theirs")
    assert greenhouse.list_tests(org.scope) == [
        greenhouse.PartnerTest(partner_test_id=str(kept.id), partner_test_name="Analyst screen")
    ]


def test_send_test_issues_the_kit_and_emails_the_link(db, org, mail_settings, smtp_server):  # noqa: F811
    kit = kit_of(org)
    interview_id = greenhouse.send_test(org.scope, request(kit), settings=mail_settings)
    attempt = attempts.get_attempt(org.scope, interview_id)
    assert attempt.candidate_info.name == "Ada Lovelace" and attempt.candidate_info.position == "Analyst"
    assert attempt.kit_id == kit.id and attempt.task_ids == [t.id for t in org.tasks]
    assert mail.drain(db, mail_settings).sent == 1
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["ada@example.com"] and LINK.search(received.text())
    stored = db[dbmod.GREENHOUSE_TESTS].find_one({"_id": attempt.id})
    assert stored["callback_url"] == CALLBACK and "resume" not in json.dumps(stored, default=str)
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "greenhouse.test_sent"}) == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"url": "http://10.0.0.5/patch"}, WebhookTargetRefused),  # no server-side request forgery
        ({"url": "http://169.254.169.254/latest/meta-data"}, WebhookTargetRefused),
        ({"partner_test_id": "000000000000000000000000"}, KitError),
    ],
)
def test_a_refused_send_test_stores_nothing(db, org, mail_settings, change, error):
    kit = kit_of(org)
    sent = request(kit).model_copy(update=change)
    with pytest.raises(error):
        greenhouse.send_test(org.scope, sent, settings=mail_settings)
    assert db[dbmod.ATTEMPTS].count_documents({}) == db[dbmod.GREENHOUSE_TESTS].count_documents({}) == 0


def test_an_archived_kit_or_another_organisations_is_not_a_test(db, org, mail_settings):
    for kit in (kit_of(org, "Old", archived=True), kit_of(org_with_tasks(db, "Other"), "Theirs")):
        with pytest.raises(KitError, match="list_tests names the tests"):
            greenhouse.send_test(org.scope, request(kit), settings=mail_settings)
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0


def test_without_mail_nothing_is_issued_since_the_candidate_could_not_get_the_link(db, org, settings):
    with pytest.raises(MailNotConfigured, match="no assessment was issued"):
        greenhouse.send_test(org.scope, request(kit_of(org)), settings=settings)
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0


def test_an_email_the_issuing_form_refuses_is_refused(db, org, mail_settings):
    with pytest.raises(ValidationError):
        greenhouse.send_test(org.scope, request(kit_of(org), email="not an email"), settings=mail_settings)
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0


def test_status_before_completion_in_greenhouses_words(db, org, mail_settings):
    interview_id = greenhouse.send_test(org.scope, request(kit_of(org)), settings=mail_settings)
    sent = greenhouse.test_status(org.scope, interview_id, settings=mail_settings)
    assert (sent.partner_status, sent.partner_profile_url) == ("sent", None)
    assert sent.metadata["review_state"] == "awaiting_review" and sent.metadata["score"] is None
    assert "partner_score" not in sent.model_dump() and sent.metadata["score_note"] == greenhouse.NO_SCORE


def test_status_of_an_attempt_not_sent_from_greenhouse_or_of_another_organisation_is_not_found(db, org, mail_settings):
    interview_id = greenhouse.send_test(org.scope, request(kit_of(org)), settings=mail_settings)
    stranger = Scope(db, make_org(db, "Other").scope.organization_id)
    mine = simulate.seed_completed_attempt(
        db, organization_id=org.scope.organization_id, tasks=org.tasks, rng=random.Random(1)
    )
    for scope, asked in ((stranger, interview_id), (org.scope, str(mine.id)), (org.scope, "nonsense")):
        with pytest.raises(AttemptNotFound):
            greenhouse.test_status(scope, asked, settings=mail_settings)


def test_no_patch_for_an_attempt_greenhouse_did_not_send(db, org, mail_settings):
    other = simulate.seed_completed_attempt(
        db, organization_id=org.scope.organization_id, tasks=org.tasks, rng=random.Random(2)
    )
    assert greenhouse.notify_completed(db, org.scope.organization_id, other.id, settings=mail_settings) == 0
    assert db[dbmod.WEBHOOK_DELIVERIES].count_documents({}) == 0


def test_erasure_removes_what_greenhouse_gave(db, org, mail_settings):
    interview_id = greenhouse.send_test(org.scope, request(kit_of(org)), settings=mail_settings)
    admin = Scope(db, org.scope.organization_id, org.user.id, is_admin=True)
    erasure.erase_candidate(admin, "ada@example.com")
    assert db[dbmod.GREENHOUSE_TESTS].count_documents({}) == 0
    with pytest.raises(AttemptNotFound):
        greenhouse.test_status(org.scope, interview_id, settings=mail_settings)
