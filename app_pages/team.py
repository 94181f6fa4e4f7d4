"""Team (admins): who works in this organisation, invitations (the pending
ones listed, and withdrawn when sent to the wrong address), roles,
deactivation and password resets. Refusals (the last admin, one's own
account, an invitation accepted meanwhile) come from hiremate.auth and are
shown as messages."""

from __future__ import annotations

import streamlit as st

from hiremate import auth
from hiremate.models import Role, User
from hiremate.scope import Scope
from recruiter import mail_panel, session, ui

INVITE_TOKEN = "team_invite_token"  # the invitation just made, until dismissed
FLASH = "team_flash"
CLEAR_INVITE = "team_clear_invite"
WITHDRAW_CHOICE = "team_withdraw_invitation"
ROLES = [Role.RECRUITER.value, Role.ADMIN.value]
INVITE_WARNING = (
    "Pass this token on now, privately: it is shown only this once and HireMate stores only a fingerprint of it. "
    "If it gets lost, invite the same address again."
)


def _member_label(member: User) -> str:
    state = "" if member.is_active else " (deactivated)"
    return f"{member.full_name} · {member.email} · {member.role}{state}"


def _members_table(members: list[User], me: User) -> None:
    rows = [
        {
            "Name": member.full_name + (" (you)" if member.id == me.id else ""),
            "Email": member.email,
            "Role": role_label(member.role),
            "Active": member.is_active,
            "Member since": ui.format_time(member.created_at),
        }
        for member in members  # never the password hash
    ]
    ui.data_table(rows, what="the team", hide_index=True, width="stretch")


def role_label(role: str) -> str:
    return str(role).capitalize()


def _invite(scope: Scope) -> None:
    if st.session_state.pop(CLEAR_INVITE, False):
        st.session_state.pop("team_invite_email", None)
    with st.form("team_invite_form", border=False):
        cols = st.columns([3, 1, 1], vertical_alignment="bottom")
        email = cols[0].text_input("Email", key="team_invite_email", placeholder="name@company.com")
        role = cols[1].selectbox("Role", ROLES, format_func=role_label, key="team_invite_role")
        days = cols[2].number_input("Valid for (days)", min_value=1, max_value=30, value=7, key="team_invite_days")
        send_email = mail_panel.email_option("team_invite_send_email", label="Email the invitation to them")
        submitted = st.form_submit_button("Create invitation", type="primary", icon=":material/person_add:")
    if submitted:
        with ui.refusals():
            token = auth.invite(scope, email, Role(role), days=int(days))
            invited = email.strip().lower()
            ui.remember_secret(
                INVITE_TOKEN,
                token,
                title=f"Invitation for {invited} ({role})",
                note=(
                    f"They open HireMate, choose “Join with an invitation”, paste this token and register with "
                    f"{invited}. It works once, for {int(days)} days."
                )
                + mail_panel.after_invite(scope, token, send_email),
            )
            st.session_state[CLEAR_INVITE] = True
            st.rerun()


def _pending(scope: Scope) -> None:
    with session.database_guard():
        pending = auth.pending_invitations(scope)
    if not pending:
        st.info("No pending invitations.", icon=":material/mail:")
        return
    rows = [
        {
            "Email": invitation.email,
            "Role": role_label(invitation.role),
            "Invited by": invitation.invited_by_name,
            "Sent": ui.format_time(invitation.created_at),
            "Expires": ui.format_time(invitation.expires_at),
        }
        for invitation in pending  # never the token or its hash
    ]
    ui.data_table(rows, what="the pending invitations", hide_index=True, width="stretch")
    by_id = {invitation.id: invitation for invitation in pending}
    cols = st.columns([3, 1], vertical_alignment="bottom")
    chosen = cols[0].selectbox(
        "Invitation to withdraw",
        list(by_id),
        format_func=lambda invitation_id: _invitation_label(by_id[invitation_id]),
        key=WITHDRAW_CHOICE,
    )
    if cols[1].button("Withdraw invitation", key="team_withdraw", icon=":material/cancel_schedule_send:"):
        with ui.refusals():
            auth.revoke_invitation(scope, chosen)
            ui.flash(
                FLASH,
                f"The invitation for {session.escape_markdown(by_id[chosen].email)} is withdrawn; its token no longer works.",
            )
            st.rerun()


def _invitation_label(invitation: auth.PendingInvitation) -> str:
    return f"{invitation.email} · {role_label(invitation.role)} · sent {ui.format_time(invitation.created_at)}"


def _manage(scope: Scope, members: list[User], me: User) -> None:
    by_id = {str(member.id): member for member in members}
    chosen = st.selectbox(
        "Member", list(by_id), format_func=lambda member_id: _member_label(by_id[member_id]), key="team_member"
    )
    member = by_id[chosen]
    role_col, access_col, password_col = st.columns(3, gap="large")
    with role_col:
        st.markdown("**Role**")
        role = st.selectbox(
            "Role",
            ROLES,
            index=ROLES.index(str(member.role)),
            format_func=role_label,
            key=f"team_role_{chosen}",
            label_visibility="collapsed",
        )
        if st.button("Change role", key=f"team_set_role_{chosen}", disabled=role == str(member.role)):
            with ui.refusals():
                auth.set_role(scope, member.id, Role(role))
                ui.flash(
                    FLASH,
                    f"{session.escape_markdown(member.full_name)} is now {'an admin' if role == 'admin' else 'a recruiter'}.",
                )
                st.rerun()
    with access_col:
        st.markdown("**Access**")
        if member.is_active:
            st.caption("Deactivating logs them out everywhere; their work stays.")
            if st.button("Deactivate", key=f"team_deactivate_{chosen}", icon=":material/person_off:"):
                with ui.refusals():
                    auth.set_active(scope, member.id, False)
                    ui.flash(FLASH, f"{session.escape_markdown(member.full_name)} is deactivated and logged out.")
                    st.rerun()
        else:
            st.caption("Deactivated: cannot log in.")
            if st.button("Reactivate", key=f"team_activate_{chosen}", icon=":material/person_check:"):
                with ui.refusals():
                    auth.set_active(scope, member.id, True)
                    ui.flash(FLASH, f"{session.escape_markdown(member.full_name)} can log in again.")
                    st.rerun()
    with password_col:
        st.markdown("**Password**")
        with st.form(f"team_password_form_{chosen}", border=False, clear_on_submit=True):
            password = st.text_input(
                "New password",
                type="password",
                key=f"team_password_{chosen}",
                autocomplete="new-password",
                help=f"{auth.PASSWORD_RULE} Tell it to them privately.",
            )
            reset = st.form_submit_button("Reset password", icon=":material/lock_reset:")
        if reset:
            with ui.refusals():
                auth.reset_password(scope, member.id, password)
                who = "You" if member.id == me.id else session.escape_markdown(member.full_name)
                ui.flash(
                    FLASH,
                    f"Password reset. {who} must log in again with the new password, "
                    "then choose a password of their own.",
                )
                st.rerun()


# ---------------------------------------------------------------- the page


me = session.require_admin("Team")
scope = session.current_scope()

st.title("Team")
ui.show_flash(FLASH)
ui.show_secret(INVITE_TOKEN, warning=INVITE_WARNING)

with session.database_guard():
    members = auth.list_users(scope)

st.subheader("Members")
_members_table(members, me)
if len(members) == 1:
    st.info("You are the only member so far. Invite recruiters below.", icon=":material/group_add:")

st.subheader("Invite someone")
_invite(scope)

st.subheader("Pending invitations")
_pending(scope)

st.subheader("Manage a member")
_manage(scope, members, me)
