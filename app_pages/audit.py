"""Audit log (admins): who did what, when, in this organisation; filtered,
200 entries a page newest first with "Older" paging, and a CSV export that is
itself audited. The queries live in hiremate.reports.audit_log."""

from __future__ import annotations

import streamlit as st

from hiremate.reports import audit_log
from recruiter import session, ui

BEFORE = "audit_before"  # where the shown page starts: None for the newest, else (at, _id)
PREPARED = "audit_csv"

session.require_admin("Audit log")
scope = session.current_scope()

st.title("Audit log")
st.markdown(  # not a caption: code faded like a caption fails contrast
    "Every entry is chained to the one before it with an HMAC, so a changed or removed entry is found by "
    "`python -m hiremate verify-audit`. Entries hold ids, counts and action names only."
)
with session.database_guard():
    actors = audit_log.actor_choices(scope)

columns = st.columns(5)
date_from = columns[0].date_input("From (UTC day)", value=None, key="audit_from")
date_to = columns[1].date_input("To (UTC day)", value=None, key="audit_to")
action = columns[2].text_input("Action", key="audit_action", placeholder="e.g. attempt.locked")
actor = columns[3].selectbox(
    "Actor", [None, *actors], format_func=lambda value: "Anyone" if value is None else actors[value], key="audit_actor"
)
target_id = columns[4].text_input("Target id", key="audit_target")
filters = audit_log.AuditFilters(date_from, date_to, action.strip() or None, actor, target_id.strip() or None)

if st.session_state.get("audit_filters") != filters:  # new filters: back to the newest page
    st.session_state["audit_filters"] = filters
    st.session_state[BEFORE] = None
    st.session_state.pop(PREPARED, None)

with session.database_guard():
    page = audit_log.audit_page(scope, filters, before=st.session_state.get(BEFORE))

if not page.rows:
    st.info("No audit entries match these filters.")
else:
    zone = ui.organization_zone()
    st.table(
        [
            {
                "When": ui.format_time(row.at, zone),
                "Action": row.action,
                "Actor": row.actor,
                "Target": f"{row.target_type or ''} {row.target_id or ''}".strip(),
                "Details": row.details,
            }
            for row in page.rows
        ]
    )
    st.caption(f"{len(page.rows)} entries, newest first.")

buttons = st.columns(2)
if st.session_state.get(BEFORE) is not None and buttons[0].button("Newest", key="audit_newest"):
    st.session_state[BEFORE] = None
    st.rerun()
if page.older is not None and buttons[1].button("Older", key="audit_older"):
    st.session_state[BEFORE] = page.older
    st.rerun()

st.subheader("Export")
if st.button("Prepare CSV of these filters", key="audit_prepare"):
    with session.database_guard():
        st.session_state[PREPARED] = audit_log.audit_csv(scope, filters)
if st.session_state.get(PREPARED) is not None:
    st.download_button(
        "Download the audit log (CSV)",
        data=st.session_state[PREPARED],
        file_name="audit-log.csv",
        mime="text/csv",
        on_click="ignore",
        key="audit_download",
        icon=":material/download:",
    )
