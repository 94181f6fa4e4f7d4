"""Home: who is logged in, with which role, in which organisation."""

from __future__ import annotations

import streamlit as st

from hiremate import auth, web

user = web.require_user()
with web.database_guard():
    organization = auth.get_organization(web.database(), user.organization_id)

st.title("Home")
st.markdown(
    f"Signed in as **{web.escape_markdown(user.full_name)}** ({web.escape_markdown(user.email)}), "
    f"{user.role} of **{web.escape_markdown(organization.name) if organization else 'no organisation'}**."
)
st.caption("Use the menu on the left to author tasks, issue assessments and review candidates.")
