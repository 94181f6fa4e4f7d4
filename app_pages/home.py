"""Home: who is logged in, with which role, in which organisation."""

from __future__ import annotations

import streamlit as st

from hiremate import auth
from recruiter import session

user = session.require_user()
with session.database_guard():
    organization = auth.get_organization(session.database(), user.organization_id)

st.title("Home")
st.markdown(
    f"Signed in as **{session.escape_markdown(user.full_name)}** ({session.escape_markdown(user.email)}), "
    f"{user.role} of **{session.escape_markdown(organization.name) if organization else 'no organisation'}**."
)
st.caption("Use the menu on the left to author tasks, issue assessments and review candidates.")
