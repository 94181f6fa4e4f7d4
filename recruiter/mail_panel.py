"""Email on the recruiter pages: the "email the link" option of an issue form,
what happens after issuing, and an attempt's mail panel (its emails, their
state, the server's reason for a failure, sending the link again).

Pages call three functions and draw nothing else of mail themselves:

    send = mail_panel.email_option("assess_send_email")     # inside the form
    note = mail_panel.after_issue(scope, issued, send)       # after issue_attempt
    mail_panel.attempt_panel(scope, attempt)                 # an attempt's detail
"""

from __future__ import annotations

import streamlit as st

from hiremate import mail
from hiremate.attempts import IssuedAttempt
from hiremate.errors import Refusal
from hiremate.models import AttemptStatus, TaskAttempt
from hiremate.scope import Scope
from hiremate.timeutil import utcnow
from recruiter import session, ui

RESENT_LINK = "mail_resent_link"  # a link a re-send had to re-issue (ui.show_secret)
FLASH = "mail_flash"
_OPEN = (AttemptStatus.PENDING, AttemptStatus.IN_PROGRESS)


def email_option(key: str, *, label: str = "Email the link to the candidate") -> bool:
    """The checkbox of an issue form (checked by default), or, without a mail
    server, a caption saying so; returns whether to email."""
    if not mail.is_configured():
        st.caption(mail.NOT_CONFIGURED)
        return False
    return st.checkbox(label, value=True, key=key, help="Sent within seconds; the link is also shown here once")


def after_issue(scope: Scope, issued: IssuedAttempt, send: bool) -> str:
    """Queue the invitation when asked; a few words for the link's note ("" when not emailed)."""
    if not send:
        return ""
    try:  # never lose the link shown once because the email could not be queued
        mail.queue_invitation(scope, issued.attempt, issued.link)
    except Refusal as exc:
        return f" · not emailed: {session.escape_markdown(str(exc))}"
    return " · emailed to the candidate"


def _state(status: mail.MailStatus) -> str:
    if status.status == mail.SENT:
        return f"sent {ui.format_time(status.sent_at)}"
    if status.status == mail.SENDING:
        return "sending now"
    if status.status == mail.FAILED:
        return "failed: " + session.escape_markdown(status.last_error or "no reason given")
    if status.last_error:
        return (
            f"not sent yet, next try {ui.format_ago(status.next_attempt_at, utcnow())} "
            f"(the mail server said: {session.escape_markdown(status.last_error)})"
        )
    return "queued, leaves within seconds"


def attempt_panel(scope: Scope, attempt: TaskAttempt) -> None:
    """The attempt's emails and a button to email the link again."""
    ui.show_flash(FLASH)
    ui.show_secret(RESENT_LINK)
    statuses = mail.attempt_mail(scope, attempt.id) if attempt.id is not None else []
    with st.container(border=True):
        st.markdown("**Email**")
        for status in statuses:
            st.markdown(f"{status.title}: {_state(status)}")
        if not statuses:
            st.caption("No email about this assessment yet.")
        if not mail.is_configured():
            st.caption(mail.NOT_CONFIGURED)
            return
        if attempt.status not in _OPEN or attempt.expires_at <= utcnow():
            return
        if st.button(
            "Email the link again",
            key=f"mail_resend_{attempt.id}",
            icon=":material/forward_to_inbox:",
            help="Once the earlier email has gone (or failed for good) a new link is made and the old one stops working",
        ):
            with ui.refusals():
                resent = mail.resend_invitation(scope, attempt.id)
                if resent.reissued is not None:
                    ui.remember_secret(
                        RESENT_LINK,
                        resent.reissued.link,
                        title=f"New assessment link for {attempt.candidate_info.name}",
                        note="Emailed to the candidate · the previous link no longer works",
                    )
                else:
                    ui.flash(FLASH, "The waiting email is being sent now.")
                ui.invalidate_reads()
                st.rerun()


def after_invite(scope: Scope, token: str, send: bool) -> str:
    """Email a colleague's invitation token when asked; a few words for the token's note."""
    if not send:
        return ""
    try:
        mail.queue_colleague_invitation(scope, token)
    except Refusal as exc:
        return f" Not emailed: {session.escape_markdown(str(exc))}"
    return " It was also emailed to them."
