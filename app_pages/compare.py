"""Compare: 2 to 5 completed candidates side by side, with a radar of the
0..1 patterns, grouped bars of time and decisions, and a CSV. Prefilled from
?attempts=ID,ID so a comparison can be shared."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from hiremate import attempts, reports
from hiremate.models import AttemptStatus
from hiremate.reports import MAX_COMPARED, MIN_COMPARED, RADAR_ROWS
from recruiter import charts, session, ui
from recruiter.task_forms import humanize

SELECTION_KEY = "compare_selection"
LINK_KEY = "compare_link"  # the ?attempts value the selection was last prefilled from
LABEL_ROWS = {*reports.PROFILE_LABEL_COLUMNS, "dominant_risk"}
SHARE_ROWS = {*RADAR_ROWS, *(row for row in reports.COMPARE_ROWS if row.endswith("_confidence"))}


def _cell(row: str, value: Any) -> str:
    """One comparison cell as text (the table mixes labels, counts and times)."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, datetime):
        return ui.format_time(value)
    if row in LABEL_ROWS:
        return humanize(value)
    if row in SHARE_ROWS and isinstance(value, int | float):
        return f"{float(value):.0%}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """The table a person reads: candidates by name (the columns), no attempt ids (the CSV keeps them)."""
    frame = frame.drop(index="attempt_id", errors="ignore")
    shown = pd.DataFrame(
        {column: [_cell(str(row), frame.at[row, column]) for row in frame.index] for column in frame.columns},
        index=[reports.column_label(str(row)) for row in frame.index],
    ).astype(str)
    shown.index.name = "Metric"
    return shown


def _share_selection() -> None:
    chosen = st.session_state.get(SELECTION_KEY) or []
    if chosen:
        st.query_params["attempts"] = ",".join(chosen)
    else:
        st.query_params.pop("attempts", None)
    st.session_state[LINK_KEY] = st.query_params.get("attempts", "")


scope = session.current_scope()
st.title("Compare candidates")
st.caption(f"Pick {MIN_COMPARED} to {MAX_COMPARED} candidates who completed their assessment.")

search = st.text_input("Narrow the list by name or email", key="compare_search")
with session.database_guard():
    candidates = reports.completed_candidates(scope, search=search or None)
labels = {item.attempt_id: f"{item.label} · {item.candidate_email}" for item in candidates}

link = st.query_params.get("attempts", "")
linked = [value.strip() for value in link.split(",") if value.strip()]
linked = list(dict.fromkeys(linked))
refused_link = len(linked) > MAX_COMPARED
if refused_link:
    st.error(
        f"Compare takes {MIN_COMPARED} to {MAX_COMPARED} candidates; this link names {len(linked)}. "
        f"Pick up to {MAX_COMPARED} below."
    )
elif link != st.session_state.get(LINK_KEY):
    # A new link: prefill from it; ids outside the list above (older, or
    # filtered out by the search) are looked up one by one.
    with session.database_guard():
        for attempt_id in linked:
            if attempt_id not in labels:
                attempt = attempts.get_attempt(scope, attempt_id)
                if attempt is not None and attempt.status == AttemptStatus.COMPLETED:
                    labels[attempt_id] = f"{attempt.candidate_info.name} · {attempt.candidate_info.email}"
    unknown = [attempt_id for attempt_id in linked if attempt_id not in labels]
    if unknown:
        st.warning(
            f"{ui.count_noun(len(unknown), 'candidate')} in this link "
            f"{'is' if len(unknown) == 1 else 'are'} not a completed assessment of your organisation."
        )
    st.session_state[SELECTION_KEY] = [attempt_id for attempt_id in linked if attempt_id in labels]
    st.session_state[LINK_KEY] = link

# Keep chosen candidates selectable while the search narrows the list.
for attempt_id in st.session_state.get(SELECTION_KEY) or []:
    labels.setdefault(attempt_id, attempt_id)

if not labels:
    if search:
        st.info("No completed candidate matches this search.")
    else:
        st.info(
            "No candidate has completed an assessment yet. Candidates appear here once they finish "
            "and their profile is computed."
        )
    st.stop()

chosen = st.multiselect(
    "Candidates",
    options=list(labels),
    format_func=lambda value: labels.get(value, value),
    key=SELECTION_KEY,
    max_selections=MAX_COMPARED,
    on_change=_share_selection,
    placeholder="Choose candidates",
)

if len(chosen) < MIN_COMPARED:
    if chosen:
        st.warning(f"Choose at least one more candidate: a comparison needs {MIN_COMPARED} to {MAX_COMPARED}.")
    elif not refused_link:
        st.info(f"Choose {MIN_COMPARED} to {MAX_COMPARED} candidates to see them side by side.")
    st.stop()

frame = None
with ui.refusals():  # e.g. a shared link names a completed attempt whose profile is not computed yet
    frame = reports.compare_frame(scope, chosen)
if frame is None:
    st.stop()

ui.data_table(
    _display(frame),
    what="the comparison",
    key="compare_table",
    width="stretch",
    height=min(36 * (len(frame) + 1) + 4, 1200),
)

radar_col, bars_col = st.columns(2)
radar_col.plotly_chart(charts.compare_radar_chart(frame), key="compare_radar")
bars_col.plotly_chart(charts.compare_bars_chart(frame), key="compare_bars")
st.caption(
    "Shares and timing consistency run from 0 to 1. Labels describe how decisions were made in these "
    "scenarios; none of them is better than another."
)

ids = list(chosen)
st.download_button(
    "Download the comparison (CSV)",
    data=lambda: reports.compare_csv(scope, ids),  # built on click, then audited
    file_name="hiremate-comparison.csv",
    mime="text/csv",
    on_click="ignore",
    key="compare_download",
    icon=":material/download:",
)
