"""API keys (admins): keys of the REST API v1 for other systems, made here
(shown once), listed with their last use, and revoked. The rules live in
hiremate.api_keys, the drawing in recruiter.api_key_panel."""

from __future__ import annotations

import streamlit as st

from hiremate import api_keys
from recruiter import api_key_panel, session, ui

session.require_admin("API keys")
scope = session.current_scope()

st.title("API keys")
st.markdown(  # not a caption: faded text fails contrast
    "Other systems (an applicant-tracking system, a script) use HireMate's REST API at **/api/v1** with a key "
    "of your organisation. Each key acts for the whole organisation: give each system its own, with read-only "
    "access where it only reads. The API's own documentation is at **/api/v1/docs** on this address."
)
ui.show_flash(api_key_panel.FLASH)
api_key_panel.show_new_key()

st.subheader("Create a key")
api_key_panel.create_form(scope)

with session.database_guard():
    keys = api_keys.list_keys(scope)

st.subheader("Keys")
api_key_panel.keys_table(keys)

api_key_panel.revoke_form(scope, keys)
