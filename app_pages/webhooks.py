"""Webhooks (admins): endpoints that HireMate notifies, signed, with each
one's delivery log. The drawing is recruiter.webhook_panel; the rules are
hiremate.webhooks."""

from __future__ import annotations

import streamlit as st

from recruiter import session, webhook_panel

session.require_admin("Webhooks")
scope = session.current_scope()

st.title("Webhooks")
st.markdown(  # not a caption: faded text fails contrast
    "HireMate sends your systems a signed notice (Standard Webhooks) when a candidate starts or completes an "
    "assessment, a link expires, a decision is recorded or a candidate asks for an accommodation. A notice holds "
    "ids, labels, states and links, never a name or an email. A receiver that does not answer with 2xx is tried "
    "again for about a day. The set-up and the verification code are in docs/integrations.md."
)
st.subheader("Register an endpoint")
webhook_panel.register_form(scope)
st.subheader("Endpoints")
webhook_panel.endpoints_section(scope)
