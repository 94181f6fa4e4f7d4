"""Account (every role): who you are, and changing your own password."""

from __future__ import annotations

import streamlit as st

from recruiter import account, session, ui

FLASH = "account_flash"

user = session.require_user()
st.title("Account")
ui.show_flash(FLASH)
st.markdown(f"**{session.escape_markdown(user.full_name)}** · {session.escape_markdown(user.email)} · {user.role}")

st.subheader("Change your password")
st.caption("Changing it logs you out everywhere else; this browser stays logged in.")
if account.change_password_form(user, key="account_password"):
    ui.flash(FLASH, "Your password is changed. Other browsers signed in to your account are logged out.")
    st.rerun()
