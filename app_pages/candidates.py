"""Candidates: one row per person (their latest assessment, how many they
took), completed first, newest completion first; searchable, filterable and
paginated in the database; select a row to open the profile."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from hiremate import reports, reviews
from hiremate.models import AttemptStatus, RiskOrientationLabel, ThinkingStyle
from recruiter import session, ui
from recruiter.task_forms import humanize

PAGE_KEY = "candidates_page"
TABLE_KEY = "candidates_table"
PAGE_SIZES = [25, 50, 100]
ANY = ""
SHOWN_COLUMNS = [column for column in reports.CANDIDATE_COLUMNS if column != "attempt_id"]


def _label_cell(value: Any) -> str:
    return humanize(value) or "—"


def _clear_filters() -> None:
    for key in (
        "candidates_search",
        "candidates_position",
        "candidates_status",
        "candidates_style",
        "candidates_risk",
        "candidates_review",
        "candidates_decision",
    ):
        st.session_state.pop(key, None)


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame[SHOWN_COLUMNS].copy()
    shown["status"] = shown["status"].map(lambda value: ui.status_label(value) if isinstance(value, str) else "—")
    for column in (*reports.PROFILE_LABEL_COLUMNS, "review_state", "decision"):
        shown[column] = shown[column].map(_label_cell)
    return shown.rename(columns=reports.column_label)


scope = session.current_scope()
st.title("Candidates")

with session.database_guard():
    # One read counts the attempts by position and status: the position choices,
    # and the list's total unless a search or a label filter needs its own count.
    counts = reports.candidate_counts(scope)
positions = counts.positions

search_col, position_col, status_col = st.columns([2, 1, 1])
search = search_col.text_input(
    "Search by name or email", key="candidates_search", placeholder="e.g. ada or @example.com"
)
position = position_col.selectbox(
    "Position",
    [ANY, *positions],
    format_func=lambda value: value or "All positions",
    key="candidates_position",
)
status = status_col.selectbox(
    "Status",
    [ANY, *(member.value for member in AttemptStatus)],
    format_func=lambda value: ui.status_label(value) if value else "All statuses",
    key="candidates_status",
)
style_col, risk_col, review_col, decision_col, size_col = st.columns([1, 1, 1, 1, 1])
thinking_style = style_col.selectbox(
    "Thinking style",
    [ANY, *(member.value for member in ThinkingStyle)],
    format_func=lambda value: humanize(value) or "Any thinking style",
    key="candidates_style",
)
risk = risk_col.selectbox(
    "Risk orientation",
    [ANY, *(member.value for member in RiskOrientationLabel)],
    format_func=lambda value: humanize(value) or "Any risk orientation",
    key="candidates_risk",
)
review_state = review_col.selectbox(
    "Review",
    [ANY, *(member.value for member in reviews.ReviewState)],
    format_func=lambda value: humanize(value) or "Any review state",
    key="candidates_review",
)
decision = decision_col.selectbox(
    "Decision",
    [ANY, *(member.value for member in reviews.Decision), reports.DECISION_NONE],
    format_func=lambda value: "No decision" if value == reports.DECISION_NONE else humanize(value) or "Any decision",
    key="candidates_decision",
)
page_size = size_col.selectbox("Rows per page", PAGE_SIZES, key="candidates_page_size")

filtered = any((search.strip(), position, status, thinking_style, risk, review_state, decision))
query = {
    "search": search,
    "position": position or None,
    "status": status or None,
    "thinking_style": thinking_style or None,
    "risk_orientation": risk or None,
    "review_state": review_state or None,
    "decision": decision or None,
}
guessed_skip = (max(1, int(st.session_state.get(PAGE_KEY) or 1)) - 1) * page_size
with session.database_guard():  # every filter comes from a closed list: nothing to refuse
    frame, total = reports.candidates_page(scope, **query, skip=guessed_skip, limit=page_size, counts=counts)

if total == 0:
    if filtered:
        st.info("No candidate matches these filters.")
        st.button("Clear filters", key="candidates_clear", on_click=_clear_filters, icon=":material/filter_alt_off:")
    else:
        st.info("No candidates yet. Issue an assessment; each candidate appears here as soon as their link is issued.")
        st.page_link("app_pages/assessments.py", label="Issue an assessment", icon=":material/send:")
    st.stop()

if thinking_style or risk:
    st.caption("Label filters show candidates with a computed profile, newest completion first.")
if review_state or decision:
    st.caption("Review filters show completed assessments with a computed profile, newest completion first.")
window = ui.paginate(
    total,
    key=PAGE_KEY,
    page_size=page_size,
    reset_on=(search.strip(), position, status, thinking_style, risk, review_state, decision, page_size),
    noun="candidate",
)
if window.skip != guessed_skip:  # filters changed (back to page 1) or the list shrank under this page
    with session.database_guard():
        frame, total = reports.candidates_page(scope, **query, skip=window.skip, limit=window.limit, counts=counts)

event = st.dataframe(
    _display(frame),
    hide_index=True,
    width="stretch",
    key=TABLE_KEY,
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        # Shown in the organisation's time zone, as every time on every page.
        reports.column_label(column): st.column_config.DatetimeColumn(
            format="YYYY-MM-DD HH:mm", timezone=ui.organization_zone().key
        )
        for column in ("issued_at", "completed_at")
    },
)
st.caption(
    "One row per person: their latest assessment (the Assessments column counts all of theirs). "
    "Completed first, newest completion first. Select a row to open the profile."
)
rows = event.selection.rows if event is not None else []
if rows and 0 <= rows[0] < len(frame):
    st.switch_page("app_pages/profile.py", query_params={"attempt": frame.iloc[rows[0]]["attempt_id"]})
