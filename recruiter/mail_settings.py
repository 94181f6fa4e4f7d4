"""The Organisation page's "Emails" section: where mail goes, reminders
before expiry, and each email's wording with its placeholders and a preview.
The rules (placeholders, escaping, defaults) live in hiremate.mail."""

from __future__ import annotations

import streamlit as st

from hiremate import mail, organizations
from hiremate.models import Organization
from hiremate.scope import Scope
from recruiter import session, ui

FLASH = "mail_settings_flash"


def emails_section(scope: Scope, organization: Organization) -> None:
    st.subheader("Emails")
    ui.show_flash(FLASH)
    if mail.is_configured():
        st.caption(f"HireMate sends email through {session.escape_markdown(mail.describe_server())}.")
    else:
        st.caption(mail.NOT_CONFIGURED + " Templates can be prepared meanwhile.")
    _reminders(scope, organization)
    _templates(scope, organization)


def _reminders(scope: Scope, organization: Organization) -> None:
    hours = organization.settings.reminder_hours_before_expiry
    with st.form("mail_reminder_form", border=True):
        remind = st.checkbox(
            "Remind candidates who have not started, by email, before their link expires",
            value=hours is not None,
            key="mail_reminder_on",
        )
        chosen = st.number_input(
            "Hours before the link expires", min_value=1, max_value=168, value=hours or 24, key="mail_reminder_hours"
        )
        st.caption("Only candidates whose invitation was emailed get a reminder, once, with a new link.")
        saved = st.form_submit_button("Save reminders", key="mail_reminder_save")
    if saved:
        with ui.refusals():
            organizations.update_settings(scope, {"reminder_hours_before_expiry": int(chosen) if remind else None})
            ui.flash(FLASH, "Reminders saved.")
            st.rerun()


def _templates(scope: Scope, organization: Organization) -> None:
    kind = st.selectbox(
        "Email to edit", list(mail.KIND_TITLES), format_func=mail.KIND_TITLES.__getitem__, key="mail_template_kind"
    )
    template = mail.get_template(scope.db, scope.organization_id, kind)
    st.caption(
        "Placeholders: "
        + "; ".join(f"`{{{name}}}` {mail.PLACEHOLDERS[name]}" for name in template.placeholders)
        + ". Plain text: the HTML version is made from it, so any HTML you type shows as text."
    )
    subject = st.text_input("Subject", value=template.subject, max_chars=200, key=f"mail_subject_{kind}")
    body = st.text_area("Text", value=template.body, height=320, max_chars=5000, key=f"mail_body_{kind}")
    problems = mail.check_template(kind, subject, body)
    for problem in problems:
        st.warning(problem, icon=":material/warning:")
    with st.expander("Preview with example details", icon=":material/preview:"):
        shown = mail.preview(scope.db, organization, kind, subject, body)
        st.text(f"Subject: {shown.subject}\n\n{shown.text}")
    cols = st.columns(2)
    if cols[0].button("Save this email", type="primary", disabled=bool(problems), key="mail_template_save"):
        with ui.refusals():
            mail.save_template(scope, kind, subject, body)
            ui.flash(FLASH, f"Saved: {mail.KIND_TITLES[kind]}.")
            st.rerun()
    if not template.is_default and cols[1].button("Back to the default wording", key="mail_template_reset"):
        with ui.refusals():
            mail.reset_template(scope, kind)
            for key in (f"mail_subject_{kind}", f"mail_body_{kind}"):
                st.session_state.pop(key, None)
            ui.flash(FLASH, f"Back to the default: {mail.KIND_TITLES[kind]}.")
            st.rerun()
