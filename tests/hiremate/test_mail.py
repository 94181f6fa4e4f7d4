"""hiremate.mail against the embedded store and a real SMTP server on loopback
(aiosmtpd): what arrives, the outbox's states, the lease, the back-off, the
sealed link and its removal, templates, reminders, notices, erasure.

The drain is called directly here; tests/ingest_server/test_mail_drain.py
runs it through the ingest server's loop."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from urllib.parse import quote

import pytest

from hiremate import attempts, auth, erasure, mail
from hiremate import db as dbmod
from hiremate.errors import MailError, MailNotConfigured
from hiremate.mail import _outbox
from hiremate.models import CandidateInfo
from hiremate.organizations import update_settings
from hiremate.scope import Scope
from hiremate.timeutil import utcnow
from tests.support.commands import listening
from tests.support.page_helpers import make_org
from tests.support.smtp import (  # noqa: F401 (fixtures)
    LOGIN_PASSWORD,
    LOGIN_USER,
    smtp_login_server,
    smtp_server,
    smtp_tls_server,
    smtps_server,
)

PUBLIC = "https://assess.example.com"
NAME, EMAIL = "Zebulon Quixote", "zebulon.quixote@example.com"


@pytest.fixture
def mail_settings(settings, smtp_server):  # noqa: F811
    return settings.model_copy(
        update={"smtp_url": smtp_server.url, "mail_from": "Acme Hiring <hiring@acme.test>", "public_url": PUBLIC}
    )


@pytest.fixture
def org(db):
    made = make_org(db)
    db[dbmod.TASKS].insert_many([task.to_doc() for task in made.tasks])
    return made


def admin(org) -> Scope:
    return Scope(org.db, org.scope.organization_id, org.user.id, is_admin=True)


def issue(org, name=NAME, email=EMAIL, days=7) -> attempts.IssuedAttempt:
    return attempts.issue_attempt(
        org.scope,
        candidate=CandidateInfo(name=name, email=email, position="Data <Analyst>"),
        task_ids=[task.id for task in org.tasks],
        expires_days=days,
        public_url=PUBLIC,
    )


def outbox(db):
    return list(db[dbmod.MAIL_OUTBOX].find({}).sort("_id", 1))


def test_an_invitation_arrives_with_its_link_and_the_outbox_forgets_it(org, mail_settings, smtp_server):  # noqa: F811
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    [queued] = outbox(org.db)
    assert queued["status"] == mail.QUEUED and queued["sealed"]
    assert issued.token not in json.dumps(queued, default=str)  # sealed, not stored in clear
    assert NAME not in json.dumps(queued, default=str) and EMAIL not in json.dumps(queued, default=str)

    report = mail.drain(org.db, mail_settings)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == [EMAIL]
    assert received.message["Subject"] == "Your assessment for Data <Analyst> at Acme"
    assert received.message["From"] == "Acme Hiring <hiring@acme.test>"
    assert issued.link in received.text() and f"Hello {NAME}," in received.text()
    html = received.html()
    assert f'<a href="{issued.link}">' in html and "Data &lt;Analyst&gt;" in html and "<Analyst>" not in html
    [sent] = outbox(org.db)
    assert sent["status"] == mail.SENT and "sealed" not in sent and sent["tries"] == 1
    assert [s.status for s in mail.attempt_mail(org.scope, issued.attempt.id)] == [mail.SENT]
    audit = org.db[dbmod.AUDIT_LOG].find_one({"action": "mail.queued"})
    assert audit["target_id"] == str(issued.attempt.id) and audit["details"] == {"kind": "invitation"}


def test_a_temporary_refusal_waits_with_the_reason_then_a_retry_succeeds(org, mail_settings, smtp_server):  # noqa: F811
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    smtp_server.refuse = "451 4.3.0 Mailbox busy, try again later"
    start = utcnow()
    assert mail.drain(org.db, mail_settings, now=start).retrying == 1
    [waiting] = outbox(org.db)
    assert waiting["status"] == mail.QUEUED and "451" in waiting["last_error"] and waiting["sealed"]
    assert waiting["next_attempt_at"] - start == mail.BACKOFF[0]
    [shown] = mail.attempt_mail(org.scope, issued.attempt.id)
    assert shown.last_error.startswith("451") and shown.next_attempt_at is not None
    smtp_server.refuse = None
    assert mail.drain(org.db, mail_settings, now=start + timedelta(seconds=10)).sent == 0  # not due yet
    assert mail.drain(org.db, mail_settings, now=start + timedelta(seconds=31)).sent == 1
    assert issued.link in smtp_server.wait_for(1)[0].text()
    [sent] = outbox(org.db)
    assert sent["status"] == mail.SENT and sent["tries"] == 2 and "sealed" not in sent


def test_back_off_ends_in_failed_for_good(org, mail_settings, smtp_server):  # noqa: F811
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    smtp_server.refuse = "421 4.7.0 Service not available"
    at = utcnow()
    for wait in (*mail.BACKOFF, None):
        mail.drain(org.db, mail_settings, now=at)
        if wait is not None:
            at += wait
    [failed] = outbox(org.db)
    assert failed["status"] == mail.FAILED and failed["tries"] == mail.MAX_TRIES
    assert "421" in failed["last_error"] and "sealed" not in failed


def test_a_permanent_refusal_fails_with_the_reason_and_a_resend_reissues_the_link(org, mail_settings, smtp_server):  # noqa: F811
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    smtp_server.refuse = f"550 5.1.1 <{EMAIL}>: no such user"
    assert mail.drain(org.db, mail_settings).failed == 1
    [failed] = outbox(org.db)
    assert failed["status"] == mail.FAILED and "sealed" not in failed
    assert failed["last_error"].startswith("550") and "the recipient" in failed["last_error"]
    assert EMAIL not in failed["last_error"]

    smtp_server.refuse = None
    resent = mail.resend_invitation(org.scope, issued.attempt.id, settings=mail_settings)
    assert resent.reissued is not None and resent.reissued.link != issued.link
    assert attempts.find_by_token(org.db, issued.token) is None  # the old link stopped working
    assert mail.drain(org.db, mail_settings).sent == 1
    [received] = smtp_server.wait_for(1)
    assert resent.reissued.link in received.text()
    assert [s.status for s in mail.attempt_mail(org.scope, issued.attempt.id)] == [mail.SENT, mail.FAILED]


def test_a_resend_of_a_waiting_message_only_brings_it_forward(org, mail_settings, smtp_server, store_uri):  # noqa: F811
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    smtp_server.refuse = "451 4.3.0 later"
    mail.drain(org.db, mail_settings)
    smtp_server.refuse = None
    with listening(store_uri, org.db.name) as (database, commands):
        scope = Scope(database, org.scope.organization_id, org.scope.user_id)
        resent = mail.resend_invitation(scope, issued.attempt.id, settings=mail_settings)
    assert resent.sooner and resent.reissued is None
    # The outbox keeps sent mail 30 days, and the embedded store's findAndModify reads all of it.
    assert "findAndModify" not in [name for name, _ in commands.sent]
    assert mail.drain(org.db, mail_settings).sent == 1
    assert issued.link in smtp_server.wait_for(1)[0].text()


def test_two_drainers_send_each_message_once(org, mail_settings, smtp_server):  # noqa: F811
    issued = [issue(org, name=f"Candidate {n}", email=f"c{n}@example.com") for n in range(12)]
    for one in issued:
        mail.queue_invitation(org.scope, one.attempt, one.link, settings=mail_settings)
    reports = []
    threads = [
        threading.Thread(target=lambda w=w: reports.append(mail.drain(org.db, mail_settings, worker=w)))
        for w in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    received = smtp_server.wait_for(12)
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(f"c{n}@example.com" for n in range(12))
    assert sum(r.sent for r in reports) == 12
    assert all(doc["status"] == mail.SENT and doc["tries"] == 1 for doc in outbox(org.db))


def test_invitations_queued_together_are_each_sent_with_their_own_link(org, mail_settings, smtp_server):  # noqa: F811
    issued = [issue(org, name=f"Candidate {n}", email=f"c{n}@example.com") for n in range(3)]
    closed = issue(org, name="Closed", email="closed@example.com")
    attempts.lock_attempt(org.scope, closed.attempt.id, reason="test")
    closed_attempt = attempts.get_attempt(org.scope, closed.attempt.id)
    queued = mail.queue_invitations(
        org.scope, [(one.attempt, one.link) for one in issued] + [(closed_attempt, closed.link)], settings=mail_settings
    )
    assert queued == {one.attempt.id for one in issued}  # the closed one is left to the download
    assert org.db[dbmod.AUDIT_LOG].count_documents({"action": "mail.queued"}) == 3
    assert mail.drain(org.db, mail_settings).sent == 3
    by_recipient = {r.rcpt_tos[0]: r.text() for r in smtp_server.wait_for(3)}
    for n, one in enumerate(issued):
        assert one.link in by_recipient[f"c{n}@example.com"]
    assert all("sealed" not in doc for doc in outbox(org.db))  # each link dropped once sent


def test_queueing_invitations_without_a_mail_server_is_refused(org, settings):
    issued = issue(org)
    with pytest.raises(MailNotConfigured, match="copy the link"):
        mail.queue_invitations(org.scope, [(issued.attempt, issued.link)], settings=settings)
    assert org.db[dbmod.MAIL_OUTBOX].count_documents({}) == 0


def test_a_crashed_senders_lease_expires_and_the_message_is_sent(org, mail_settings, smtp_server):  # noqa: F811
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    now = utcnow()
    assert _outbox.claim(org.db, "crashed", now) is not None  # then it died
    assert mail.drain(org.db, mail_settings, now=now + timedelta(seconds=10)).sent == 0  # leased
    assert mail.drain(org.db, mail_settings, now=now + _outbox.LEASE + timedelta(seconds=1)).sent == 1
    assert issued.link in smtp_server.wait_for(1)[0].text()
    [sent] = outbox(org.db)
    assert sent["tries"] == 2 and "lease_owner" not in sent


def test_require_tls_refuses_a_server_without_starttls(org, mail_settings, smtp_server):  # noqa: F811
    strict = mail_settings.model_copy(update={"smtp_require_tls": True})
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=strict)
    assert mail.drain(org.db, strict).retrying == 1
    [waiting] = outbox(org.db)
    assert "STARTTLS" in waiting["last_error"] and waiting["status"] == mail.QUEUED
    assert smtp_server.messages == []


def test_starttls_is_used_whenever_the_server_offers_it(org, settings, smtp_tls_server):  # noqa: F811
    for require in (False, True):
        configured = settings.model_copy(
            update={"smtp_url": smtp_tls_server.url, "mail_from": "hr@acme.test", "smtp_require_tls": require}
        )
        issued = issue(org)
        mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=configured)
        assert mail.drain(org.db, configured).sent == 1
    assert [r.tls for r in smtp_tls_server.wait_for(2)] == [True, True]


def test_smtps_speaks_tls_from_the_first_byte(org, settings, smtps_server):  # noqa: F811
    configured = settings.model_copy(update={"smtp_url": smtps_server.url, "mail_from": "hr@acme.test"})
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=configured)
    assert mail.drain(org.db, configured).sent == 1
    [received] = smtps_server.wait_for(1)
    assert received.tls and issued.link in received.text()


def test_a_login_in_the_url_is_used_and_a_wrong_one_waits_with_the_servers_reason(
    org,
    settings,
    smtp_login_server,  # noqa: F811
):
    def configured(password: str):
        url = f"smtp://{quote(LOGIN_USER, safe='')}:{quote(password, safe='')}@127.0.0.1:{smtp_login_server.port}"
        return settings.model_copy(update={"smtp_url": url, "mail_from": "hr@acme.test", "smtp_require_tls": True})

    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=configured("wrong"))
    report = mail.drain(org.db, configured("wrong"))
    assert report.sent == 0 and report.retrying == 1
    [waiting] = outbox(org.db)
    assert waiting["status"] == mail.QUEUED and "refused the login" in waiting["last_error"]
    assert "535" in waiting["last_error"] and "wrong" not in waiting["last_error"]  # the reason, never the password
    assert mail.drain(org.db, configured(LOGIN_PASSWORD), now=waiting["next_attempt_at"]).sent == 1
    [received] = smtp_login_server.wait_for(1)
    assert received.tls and issued.link in received.text()
    *refused, accepted = smtp_login_server.logins  # smtplib tries each mechanism the server offers
    assert refused and not any(ok for _, ok in refused) and accepted == (LOGIN_USER, True)


def test_without_a_mail_server_nothing_is_queued(org, settings):
    issued = issue(org)
    assert not mail.is_configured(settings)
    with pytest.raises(MailNotConfigured, match="copy the link"):
        mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=settings)
    assert mail.notify_completed(org.db, issued.attempt.id, settings=settings) is None
    assert mail.drain(org.db, settings).configured is False
    assert outbox(org.db) == []


def test_an_invitation_whose_link_was_replaced_is_not_sent(org, mail_settings, smtp_server):  # noqa: F811
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    attempts.reissue_link(org.scope, issued.attempt.id, public_url=PUBLIC)
    assert mail.drain(org.db, mail_settings).failed == 1
    [abandoned] = outbox(org.db)
    assert abandoned["status"] == mail.FAILED and "replaced" in abandoned["last_error"] and "sealed" not in abandoned
    assert smtp_server.messages == []


def test_templates_are_checked_rendered_escaped_and_used(org, mail_settings, smtp_server):  # noqa: F811
    scope = admin(org)
    with pytest.raises(MailError, match=r"Unknown placeholder \{salary\}"):
        mail.save_template(scope, mail.INVITATION, "Hi", "Pay: {salary}. {link}")
    with pytest.raises(MailError, match=r"must contain \{link\}"):
        mail.save_template(scope, mail.INVITATION, "Hi", "No link here")
    with pytest.raises(MailError, match="Only an admin"):
        mail.save_template(org.scope, mail.INVITATION, "Hi {candidate_name}", "{link}")
    mail.save_template(scope, mail.INVITATION, "Hi {candidate_name}", "<b>Go</b>: {link}\n\nUntil {expires}.")
    organization = auth.get_organization(org.db, org.scope.organization_id)
    shown = mail.preview(org.db, organization, mail.INVITATION, "Hi {candidate_name}", "<b>Go</b>: {link}")
    assert shown.subject == "Hi Alex Example" and "&lt;b&gt;Go&lt;/b&gt;" in shown.html and "<b>" not in shown.html

    issued = issue(org, name="<script>alert(1)</script>")
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    mail.drain(org.db, mail_settings)
    [received] = smtp_server.wait_for(1)
    assert received.message["Subject"] == "Hi <script>alert(1)</script>"
    assert "<script>" not in received.html() and "&lt;script&gt;" in received.html()
    assert received.text().startswith(f"<b>Go</b>: {issued.link}")
    assert mail.reset_template(scope, mail.INVITATION) == mail.DEFAULTS[mail.INVITATION]
    actions = [doc["action"] for doc in org.db[dbmod.AUDIT_LOG].find({"action": {"$regex": "^mail.template"}})]
    assert actions == ["mail.template_changed", "mail.template_reset"]


def test_expiry_is_shown_in_the_organisations_time_zone(org, mail_settings, smtp_server):  # noqa: F811
    update_settings(admin(org), {"time_zone": "Asia/Tokyo"})
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    mail.drain(org.db, mail_settings)
    assert "JST" in smtp_server.wait_for(1)[0].text()


def test_a_reminder_goes_once_with_a_fresh_link_to_a_candidate_who_has_not_started(org, mail_settings, smtp_server):  # noqa: F811
    issued = issue(org, days=3)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    assert mail.queue_due_reminders(org.db, settings=mail_settings) == 0  # invitation not sent yet
    mail.drain(org.db, mail_settings)
    expires = issued.attempt.expires_at
    assert mail.queue_due_reminders(org.db, now=expires - timedelta(hours=30), settings=mail_settings) == 0
    assert mail.queue_due_reminders(org.db, now=expires - timedelta(hours=23), settings=mail_settings) == 1
    assert mail.queue_due_reminders(org.db, now=expires - timedelta(hours=22), settings=mail_settings) == 0
    assert mail.drain(org.db, mail_settings, now=expires - timedelta(hours=22)).sent == 1
    _, reminder = smtp_server.wait_for(2)
    assert reminder.message["Subject"].startswith("Reminder:")
    new_link = next(line for line in reminder.text().splitlines() if line.startswith(PUBLIC))
    assert new_link != issued.link
    current = attempts.read_attempt(org.db, issued.attempt.id)
    assert attempts.hash_secret(new_link.rsplit("/", 1)[1]) == current.token_hash
    assert all("sealed" not in doc for doc in outbox(org.db))

    update_settings(admin(org), {"reminder_hours_before_expiry": None})
    other = issue(org, days=3, email="other@example.com")
    mail.queue_invitation(org.scope, other.attempt, other.link, settings=mail_settings)
    mail.drain(org.db, mail_settings)
    at = other.attempt.expires_at - timedelta(hours=1)
    assert mail.queue_due_reminders(org.db, now=at, settings=mail_settings) == 0  # switched off


def test_the_issuing_recruiter_is_told_of_a_completion_once(org, mail_settings, smtp_server):  # noqa: F811
    issued = issue(org)
    assert mail.notify_completed(org.db, issued.attempt.id, settings=mail_settings) is not None
    assert mail.notify_completed(org.db, issued.attempt.id, settings=mail_settings) is None
    assert mail.notify_accommodation_requested(org.db, issued.attempt.id, settings=mail_settings) is not None
    assert (
        mail.notify_accommodation_requested(org.db, issued.attempt.id, settings=mail_settings) is None
    )  # within the hour
    mail.drain(org.db, mail_settings)
    completed, accommodation = smtp_server.wait_for(2)
    assert completed.rcpt_tos == [org.user.email] and accommodation.rcpt_tos == [org.user.email]
    assert completed.message["Subject"] == f"{NAME} completed the assessment for Data <Analyst>"
    assert f"{mail_settings.app_url}/profile?attempt={issued.attempt.id}" in completed.text()
    assert f"/assessments?attempt={issued.attempt.id}" in accommodation.text()


def test_a_colleague_gets_the_invitation_token(org, mail_settings, smtp_server):  # noqa: F811
    scope = admin(org)
    token = auth.invite(scope, "new.colleague@acme.test")
    mail.queue_colleague_invitation(scope, token, settings=mail_settings)
    assert token not in json.dumps(outbox(org.db), default=str)
    mail.drain(org.db, mail_settings)
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["new.colleague@acme.test"] and token in received.text()
    assert mail_settings.app_url in received.text()
    [sent] = outbox(org.db)
    assert "sealed" not in sent and sent["attempt_id"] is None


def test_erasure_and_the_purge_cover_the_outbox(org, mail_settings, smtp_server):  # noqa: F811
    issued = issue(org)
    mail.queue_invitation(org.scope, issued.attempt, issued.link, settings=mail_settings)
    smtp_server.refuse = f"550 5.1.1 <{EMAIL}> unknown"
    mail.drain(org.db, mail_settings)
    mail.notify_completed(org.db, issued.attempt.id, settings=mail_settings)
    token = auth.invite(admin(org), "colleague@acme.test")
    mail.queue_colleague_invitation(admin(org), token, settings=mail_settings)
    smtp_server.refuse = None
    mail.drain(org.db, mail_settings)

    receipt = erasure.erase_candidate(admin(org), EMAIL)
    assert receipt.removed[dbmod.MAIL_OUTBOX] == 2
    for name in org.db.list_collection_names():
        for doc in org.db[name].find({}):
            text = json.dumps(doc, default=str)
            assert EMAIL not in text and NAME not in text, name
    [colleague] = outbox(org.db)
    assert colleague["attempt_id"] is None
    report = erasure.purge(org.db, now=utcnow() + timedelta(days=29))
    assert report.organizations[0].removed[dbmod.MAIL_OUTBOX] == 0
    report = erasure.purge(org.db, now=utcnow() + timedelta(days=31))
    assert report.organizations[0].removed[dbmod.MAIL_OUTBOX] == 1
    assert outbox(org.db) == []
