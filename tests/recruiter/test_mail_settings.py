"""The Organisation page's Emails section (recruiter/mail_settings.py) in AppTest:
reminders switched off and on, a template edited with a preview, refused with
an unknown placeholder, reset to the default."""

from __future__ import annotations

from hiremate import auth, mail
from hiremate import db as dbmod
from tests.support.page_helpers import _fast_bcrypt, click, make_admin, open_page, texts  # noqa: F401

PAGE = "app_pages/organization.py"


def test_an_admin_sets_reminders_and_edits_an_email_with_a_preview(app_env, db):
    admin = make_admin(db)
    at = open_page(db, admin, PAGE)
    assert mail.NOT_CONFIGURED.split(":")[0] in texts(at)  # no HIREMATE_SMTP_URL in tests
    at.checkbox(key="mail_reminder_on").uncheck()
    click(at, "mail_reminder_save")
    assert auth.get_organization(db, admin.organization_id).settings.reminder_hours_before_expiry is None

    at.selectbox(key="mail_template_kind").select(mail.INVITATION).run()
    at.text_area(key=f"mail_body_{mail.INVITATION}").input("Dear {candidate_name}: {link} <b>hi</b> {salary}").run()
    assert any("Unknown placeholder {salary}" in warning.value for warning in at.warning)
    assert at.button(key="mail_template_save").disabled
    at.text_area(key=f"mail_body_{mail.INVITATION}").input("Dear {candidate_name}: {link} <b>hi</b>").run()
    assert "Subject: Your assessment for Data Analyst at Acme" in texts(at)
    click(at, "mail_template_save")
    saved = mail.get_template(db, admin.organization_id, mail.INVITATION)
    assert not saved.is_default and saved.body == "Dear {candidate_name}: {link} <b>hi</b>"
    click(at, "mail_template_reset")
    assert mail.get_template(db, admin.organization_id, mail.INVITATION).is_default
    assert (
        db[dbmod.AUDIT_LOG].count_documents({"action": {"$in": ["mail.template_changed", "mail.template_reset"]}}) == 2
    )
