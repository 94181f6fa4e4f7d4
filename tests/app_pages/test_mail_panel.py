"""An attempt's mail panel on the Assessments page (recruiter/mail_panel.py),
through AppTest against the embedded store and a real SMTP server on
loopback: the invitation's state, "Email the link again" after the first
email went (a new link, shown once and emailed; the old one stops working),
a waiting email only brought forward, and no button without a mail server."""

from __future__ import annotations

import pytest

from hiremate import attempts, mail
from hiremate import db as dbmod
from hiremate import settings as settingsmod
from hiremate.models import CandidateInfo
from tests.app_pages.test_assessments import library, shown_link
from tests.support.page_helpers import (  # noqa: F401
    _fast_bcrypt,
    click,
    make_admin,
    open_page,
    scope_of,
    texts,
)
from tests.support.smtp import smtp_server  # noqa: F401 (fixture)

ASSESSMENTS = "app_pages/assessments.py"


@pytest.fixture
def mail_server(app_env, monkeypatch, smtp_server):  # noqa: F811
    monkeypatch.setenv("HIREMATE_SMTP_URL", smtp_server.url)
    monkeypatch.setenv("HIREMATE_MAIL_FROM", "hiring@acme.test")
    settingsmod.get_settings.cache_clear()
    yield smtp_server
    settingsmod.get_settings.cache_clear()


def issued_and_emailed(db, admin) -> attempts.IssuedAttempt:
    scope = scope_of(db, admin)
    candidate = CandidateInfo(name="Ada Lovelace", email="ada@example.com", position="Analyst")
    issued = attempts.issue_attempt(scope, candidate=candidate, task_ids=[library(scope)[0].id], expires_days=7)
    mail.queue_invitation(scope, issued.attempt, issued.link)
    return issued


def test_a_resend_after_the_email_went_shows_a_new_link_once_and_emails_it(db, mail_server):
    admin = make_admin(db)
    issued = issued_and_emailed(db, admin)
    assert mail.drain(db, settingsmod.get_settings()).sent == 1
    at = open_page(db, admin, ASSESSMENTS, attempt=str(issued.attempt.id))
    assert "Invitation: sent" in texts(at)

    click(at, f"mail_resend_{issued.attempt.id}")
    new_link = shown_link(at)
    assert new_link != issued.link and "New assessment link for Ada Lovelace" in texts(at)
    assert "the previous link no longer works" in texts(at)
    assert attempts.find_by_token(db, issued.token) is None
    assert mail.drain(db, settingsmod.get_settings()).sent == 1
    first, second = mail_server.wait_for(2)
    assert issued.link in first.text() and new_link in second.text()

    click(at, "mail_resent_link__done")  # shown once: dismissed, it is gone
    assert not at.code


def test_a_resend_of_a_waiting_email_only_brings_it_forward(db, mail_server):
    admin = make_admin(db)
    issued = issued_and_emailed(db, admin)
    mail_server.refuse = "451 4.3.0 mailbox busy, try later"
    mail.drain(db, settingsmod.get_settings())
    at = open_page(db, admin, ASSESSMENTS, attempt=str(issued.attempt.id))
    assert "mailbox busy" in texts(at)  # the server's reason is shown

    click(at, f"mail_resend_{issued.attempt.id}")
    assert "The waiting email is being sent now." in texts(at)
    assert not at.code  # no new link: the waiting email still carries the first
    assert attempts.find_by_token(db, issued.token) is not None
    mail_server.refuse = None
    assert mail.drain(db, settingsmod.get_settings()).sent == 1
    assert issued.link in mail_server.wait_for(1)[0].text()


def test_without_a_mail_server_the_panel_says_so_and_offers_no_resend(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    candidate = CandidateInfo(name="Ada Lovelace", email="ada@example.com")
    issued = attempts.issue_attempt(scope, candidate=candidate, task_ids=[library(scope)[0].id], expires_days=7)
    at = open_page(db, admin, ASSESSMENTS, attempt=str(issued.attempt.id))
    assert mail.NOT_CONFIGURED in texts(at)
    assert not [b for b in at.button if b.key == f"mail_resend_{issued.attempt.id}"]
    assert db[dbmod.MAIL_OUTBOX].count_documents({}) == 0
