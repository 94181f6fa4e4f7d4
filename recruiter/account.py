"""The change-password form, shared by the Account page and the login
gate's "choose a new password" step after an admin's reset."""

from __future__ import annotations

import streamlit as st

from hiremate import auth
from hiremate.errors import AuthError
from hiremate.models import User
from recruiter import session, ui


def change_password_form(user: User, *, key: str, submit_label: str = "Change password") -> bool:
    """The form; True once the password has been changed (other browsers
    signed in to the account are logged out, this one stays)."""
    with st.form(f"{key}_form", clear_on_submit=True):
        current = st.text_input(
            "Current password", type="password", key=f"{key}_current", autocomplete="current-password"
        )
        new = st.text_input(
            "New password", type="password", key=f"{key}_new", autocomplete="new-password", help=auth.PASSWORD_RULE
        )
        repeated = st.text_input(
            "Repeat the new password", type="password", key=f"{key}_repeat", autocomplete="new-password"
        )
        submitted = st.form_submit_button(submit_label, type="primary", key=f"{key}_submit")
    if not submitted:
        return False
    with ui.refusals(as_written=True):
        if new != repeated:
            raise AuthError("The two new passwords differ; type the same one twice.")
        session.change_password(user, current, new)
        return True
    return False
