"""Exports: CSV files of candidates with profiles, of per-task metrics and of
events, filtered by completion date and position, for a spreadsheet (the
default: headers in words, local times, percentages) or raw for scripts.
Each file is built on request (and audited), counted, then downloaded
without a rerun."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from hiremate import reports
from recruiter import session, ui

PREPARED_KEY = "exports_prepared"  # kind -> {"filters", "data", "rows", "file_name"}
STYLE_KEY = "exports_style"
STYLES = {
    reports.ExportStyle.SPREADSHEET.value: "For a spreadsheet",
    reports.ExportStyle.RAW.value: "Raw, for scripts",
}

EXPORTS: dict[str, tuple[str, str, Callable[..., bytes]]] = {
    "candidates": (
        "Candidates with profiles",
        "One row per candidate with a computed profile: labels, confidences, summary, strengths and considerations.",
        reports.candidates_csv,
    ),
    "per_task": (
        "Per-task metrics",
        "One row per completed task: time, hesitation, first decision, changes, final option, reasoning, idle time.",
        reports.per_task_metrics_csv,
    ),
    "events": (
        "Events",
        "Every stored behaviour event of those candidates, in order, one payload field per column. Can be large.",
        reports.events_csv,
    ),
}


def _data_rows(data: bytes) -> int:
    """Rows after the header (cells may hold line breaks, so parse, don't count lines)."""
    return max(0, sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig")))) - 1)


def _file_name(kind: str, filters: dict[str, Any]) -> str:
    parts = ["hiremate", kind.replace("_", "-")]
    if filters["style"] == reports.ExportStyle.RAW:
        parts.append("raw")
    if filters["date_from"]:
        parts.append(f"from-{filters['date_from']:%Y%m%d}")
    if filters["date_to"]:
        parts.append(f"to-{filters['date_to']:%Y%m%d}")
    return "-".join(parts) + ".csv"


scope = session.current_scope()
zone = ui.organization_zone()
st.title("Exports")
st.caption(
    "CSV files in UTF-8 that Excel opens correctly. Text that a spreadsheet would run as a formula is "
    "prefixed with an apostrophe. Dates filter on when the assessment was completed "
    f"({zone.key}, your organisation's time zone; both days included)."
)

with session.database_guard():
    positions = ui.positions(scope)

from_col, to_col, position_col = st.columns(3)
date_from: date | None = from_col.date_input("Completed from", value=None, key="exports_from", format="YYYY-MM-DD")
date_to: date | None = to_col.date_input("Completed until", value=None, key="exports_to", format="YYYY-MM-DD")
position = position_col.selectbox(
    "Position", ["", *positions], format_func=lambda value: value or "All positions", key="exports_position"
)
style = st.radio(
    "Format",
    list(STYLES),
    format_func=lambda value: STYLES.get(value, value),
    key=STYLE_KEY,
    horizontal=True,
    help=f"For a spreadsheet: headers in words, option texts, times as YYYY-MM-DD HH:MM in {zone.key}, "
    "percentages as numbers. Raw: the stored field names, times in ISO 8601 UTC and fractions, for scripts.",
)
filters = {"date_from": date_from, "date_to": date_to, "position": position or None, "style": style}

if date_from and date_to and date_from > date_to:
    st.error("The start date is after the end date: no assessment can match. Swap or clear the dates.")
    st.stop()

prepared: dict[str, dict[str, Any]] = st.session_state.setdefault(PREPARED_KEY, {})

for kind, (title, description, build) in EXPORTS.items():
    with st.container(border=True):
        st.markdown(f"**{title}**")
        st.caption(description)
        if st.button("Prepare file", key=f"exports_prepare_{kind}", icon=":material/build:"):
            with session.database_guard(), st.spinner("Building the file…"):
                data = build(scope, **filters)  # any filters make a file (dates in order: checked above)
            prepared[kind] = {
                "filters": dict(filters),
                "data": data,
                "rows": _data_rows(data),
                "file_name": _file_name(kind, filters),
            }
        ready = prepared.get(kind)
        if ready is None:
            continue
        if ready["filters"] != filters:
            st.caption("The filters changed since this file was prepared: prepare it again.")
            continue
        rows = ready["rows"]
        if rows:
            st.caption(f"{rows} row(s) plus the header row.")
        else:
            st.info("Nothing matches these filters: the file has only the header row.")
        st.download_button(
            f"Download {title.lower()} (CSV)",
            data=ready["data"],
            file_name=ready["file_name"],
            mime="text/csv",
            on_click="ignore",
            key=f"exports_download_{kind}",
            icon=":material/download:",
        )
